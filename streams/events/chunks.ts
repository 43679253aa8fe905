// CHUNKS stream: document.chunked (one message per document version, split into parts if large) and document.removed.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { docIdSchema, metadataSchema, nameSchema, partSchema, type Event } from './common.ts';

export const chunkSchema = z.object({
  /** Deterministic: `<docSeq>:<chunker fingerprint>:<ordinal>` scoped by the document address. */
  chunkId: z.string().min(1),
  ordinal: z.number().int().min(0),
  text: z.string(),
  /** Character offsets in the normalised document text. */
  start: z.number().int().min(0),
  end: z.number().int().min(0),
  tokens: z.number().int().min(0),
  /** Heading path of the section the chunk sits in (Markdown/HTML), e.g. "Install > Linux". */
  heading: z.string().optional(),
});
export type Chunk = z.infer<typeof chunkSchema>;

export const chunkerInfoSchema = z.object({
  name: z.string(),
  version: z.number().int(),
  size: z.number().int(),
  overlap: z.number().int(),
});
export type ChunkerInfo = z.infer<typeof chunkerInfoSchema>;

/**
 * A short, stable fingerprint of chunker settings. Chunk ids carry it (`<docSeq>:<fingerprint>:<ordinal>`), so chunks
 * (and their vectors) of two chunker settings never mix within one document version, and a generation keeps to one.
 */
export function chunkerFingerprint(chunker: Pick<ChunkerInfo, 'name' | 'version' | 'size' | 'overlap'>): string {
  return createHash('sha256')
    .update(`${chunker.name}\u0000${chunker.version}\u0000${chunker.size}\u0000${chunker.overlap}`)
    .digest('hex')
    .slice(0, 8);
}

/** The chunker settings a node uses unless configured otherwise (processors/chunker/chunk.ts DEFAULT_CHUNKER). */
export const DEFAULT_CHUNKER_SETTINGS = { name: 'structure', version: 1, size: 800, overlap: 120 } as const;

/**
 * The durable consumer (and DLQ stage) of the chunker with these settings: `chunker` for the default settings,
 * `chunker-<fingerprint>` for others. A consumer of its own starts at the first DOCUMENTS message, so new settings
 * re-chunk every document beside the old ones (never mixed: chunk ids carry the fingerprint), ready for a replay.
 */
export function chunkerConsumerName(fingerprint: string): string {
  return fingerprint === chunkerFingerprint(DEFAULT_CHUNKER_SETTINGS) ? 'chunker' : `chunker-${fingerprint}`;
}

export const documentInfoSchema = z.object({
  title: z.string().optional(),
  url: z.string().optional(),
  metadata: metadataSchema.default({}),
  contentHash: z.string(),
});

export const documentChunkedV1 = z.object({
  tenant: nameSchema,
  source: nameSchema,
  id: docIdSchema,
  /** DOCUMENTS sequence of the version these chunks come from: the version projections compare. */
  docSeq: z.number().int().min(1),
  document: documentInfoSchema,
  chunker: chunkerInfoSchema,
  part: partSchema,
  /** Total chunks of this version across all parts. */
  totalChunks: z.number().int().min(0),
  chunks: z.array(chunkSchema),
});

export const documentRemovedV1 = z.object({
  tenant: nameSchema,
  source: nameSchema,
  id: docIdSchema,
  /** DOCUMENTS sequence of the delete: the tombstone's version. */
  docSeq: z.number().int().min(1),
});

export type DocumentChunkedData = z.infer<typeof documentChunkedV1>;
export type DocumentRemovedData = z.infer<typeof documentRemovedV1>;
export type DocumentChunked = Event<'document.chunked', DocumentChunkedData>;
export type DocumentRemoved = Event<'document.removed', DocumentRemovedData>;
export type ChunkEvent = DocumentChunked | DocumentRemoved;

export const chunkEvents = {
  'document.chunked': { version: 1, schemas: { 1: documentChunkedV1 }, upcasters: {} },
  'document.removed': { version: 1, schemas: { 1: documentRemovedV1 }, upcasters: {} },
} as const;
