// Validation without zod's copy for the events every stage reads in bulk (chunks, vectors); zod decides anything unusual.
import { NAME_PATTERN } from '../subjects.ts';
import { metadataSchema } from './common.ts';

/**
 * A fast validator answers the parsed data when it is sure zod would accept it and return the same values, or
 * undefined to leave the decision (and the error message) to zod. It accepts only the exact shape: no unknown key (zod
 * strips those), no missing default, integers in the safe range. It returns the JSON value it was given, so an event
 * read from the log is not copied once more; only the metadata goes through its own schema (bounds, JSON values).
 */
export type FastValidator = (raw: unknown) => unknown;

type Plain = Record<string, unknown>;

function isPlain(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** True when every own key of `value` is one of `allowed` (no key zod would strip). */
function onlyKeys(value: Plain, allowed: ReadonlySet<string>): boolean {
  for (const key in value) if (!allowed.has(key)) return false;
  return true;
}

const isName = (v: unknown): boolean => typeof v === 'string' && NAME_PATTERN.test(v);
const isDocId = (v: unknown): boolean => typeof v === 'string' && v.length >= 1 && v.length <= 4096;
const isInt = (v: unknown, min: number): boolean => Number.isSafeInteger(v) && (v as number) >= min;
const isOptionalString = (v: unknown): boolean => v === undefined || typeof v === 'string';

const PART_KEYS = new Set(['index', 'count']);
const isPart = (v: unknown): boolean => isPlain(v) && onlyKeys(v, PART_KEYS) && isInt(v.index, 0) && isInt(v.count, 1);

const CHUNKED_KEYS = new Set(['tenant', 'source', 'id', 'docSeq', 'document', 'chunker', 'part', 'totalChunks', 'chunks']);
const DOCUMENT_KEYS = new Set(['title', 'url', 'metadata', 'contentHash']);
const CHUNKER_KEYS = new Set(['name', 'version', 'size', 'overlap']);
const CHUNK_KEYS = new Set(['chunkId', 'ordinal', 'text', 'start', 'end', 'tokens', 'heading']);

function isChunk(c: unknown): boolean {
  return (
    isPlain(c) &&
    onlyKeys(c, CHUNK_KEYS) &&
    typeof c.chunkId === 'string' &&
    c.chunkId.length >= 1 &&
    isInt(c.ordinal, 0) &&
    typeof c.text === 'string' &&
    isInt(c.start, 0) &&
    isInt(c.end, 0) &&
    isInt(c.tokens, 0) &&
    isOptionalString(c.heading)
  );
}

const documentChunked: FastValidator = (raw) => {
  if (!isPlain(raw) || !onlyKeys(raw, CHUNKED_KEYS)) return undefined;
  const { document, chunker, chunks } = raw;
  if (!isName(raw.tenant) || !isName(raw.source) || !isDocId(raw.id) || !isInt(raw.docSeq, 1) || !isPart(raw.part) || !isInt(raw.totalChunks, 0)) return undefined;
  if (!isPlain(document) || !onlyKeys(document, DOCUMENT_KEYS) || !isOptionalString(document.title) || !isOptionalString(document.url)) return undefined;
  if (typeof document.contentHash !== 'string' || document.metadata === undefined) return undefined;
  if (!isPlain(chunker) || !onlyKeys(chunker, CHUNKER_KEYS) || typeof chunker.name !== 'string') return undefined;
  if (!Number.isSafeInteger(chunker.version) || !Number.isSafeInteger(chunker.size) || !Number.isSafeInteger(chunker.overlap)) return undefined;
  if (!Array.isArray(chunks) || !chunks.every(isChunk)) return undefined;
  const metadata = metadataSchema.safeParse(document.metadata);
  if (!metadata.success) return undefined;
  document.metadata = metadata.data;
  return raw;
};

const EMBEDDED_KEYS = new Set(['tenant', 'source', 'id', 'docSeq', 'model', 'part', 'vectors']);
const MODEL_KEYS = new Set(['id', 'dims', 'normalized', 'maxTokens']);
const VECTOR_KEYS = new Set(['chunkId', 'window', 'vector']);

function isEmbeddedVector(v: unknown): boolean {
  return isPlain(v) && onlyKeys(v, VECTOR_KEYS) && typeof v.chunkId === 'string' && v.chunkId.length >= 1 && isInt(v.window, 0) && typeof v.vector === 'string';
}

const documentEmbedded: FastValidator = (raw) => {
  if (!isPlain(raw) || !onlyKeys(raw, EMBEDDED_KEYS)) return undefined;
  if (!isName(raw.tenant) || !isName(raw.source) || !isDocId(raw.id) || !isInt(raw.docSeq, 1) || !isPart(raw.part)) return undefined;
  const { model, vectors } = raw;
  if (!isPlain(model) || !onlyKeys(model, MODEL_KEYS) || !isName(model.id) || !isInt(model.dims, 1) || (model.dims as number) > 65536) return undefined;
  if (typeof model.normalized !== 'boolean' || !isInt(model.maxTokens, 1)) return undefined;
  if (!Array.isArray(vectors) || !vectors.every(isEmbeddedVector)) return undefined;
  return raw;
};

/** By event type and schema version (`type@version`): only the current versions of the bulk events have one. */
export const FAST_VALIDATORS: Readonly<Record<string, FastValidator>> = {
  'document.chunked@1': documentChunked,
  'document.embedded@1': documentEmbedded,
};
