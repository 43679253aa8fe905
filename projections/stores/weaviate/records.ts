// What the adapter stores in Weaviate objects and how it reads them back: property maps in, typed records out.
import type { Metadata } from '../../../streams/events/index.ts';
import { canonicalJson } from '../../../streams/ids.ts';
import type { ChunkInput, DocumentRef } from '../../store.ts';
import { indexTerms } from './analyze.ts';
import { metaTokens } from './meta.ts';

/** The properties of one object as sent to / read from Weaviate. */
export type Props = Record<string, string | number | string[]>;

/** Exact-match keys: JSON keeps every string distinct (no trimming, no separator that could occur in a value). */
export const docKeyOf = (ref: Pick<DocumentRef, 'source' | 'docId'>): string => JSON.stringify([ref.source, ref.docId]);
export const sourceKeyOf = (source: string): string => JSON.stringify(source);
export const docIdKeyOf = (docId: string): string => JSON.stringify(docId);

/** A document version or tombstone, as the Docs collection holds it. */
export interface DocRecord {
  readonly docSeq: number;
  readonly deleted: boolean;
  readonly title?: string;
  readonly url?: string;
  readonly metadata: Metadata;
  readonly totalChunks: number | null;
}

export function vectorToB64(vector: Float32Array): string {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64');
}
export function vectorFromB64(b64: string): Float32Array {
  const bytes = Buffer.from(b64, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

const str = (props: Readonly<Record<string, unknown>>, name: string): string => {
  const v = props[name];
  return typeof v === 'string' ? v : '';
};
const num = (props: Readonly<Record<string, unknown>>, name: string): number => {
  const v = props[name];
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : Number.NaN;
};
const json = <T>(props: Readonly<Record<string, unknown>>, name: string, fallback: T): T => {
  const v = props[name];
  return typeof v === 'string' && v.length > 0 ? (JSON.parse(v) as T) : fallback;
};
export const read = { str, num, json };

export function docRecordProps(ref: DocumentRef, record: DocRecord): Props {
  const info = { ...(record.title !== undefined ? { title: record.title } : {}), ...(record.url !== undefined ? { url: record.url } : {}), totalChunks: record.totalChunks };
  return {
    kind: 'doc',
    docKey: docKeyOf(ref),
    tenant: ref.tenant,
    source: ref.source,
    docId: ref.docId,
    docSeq: record.docSeq,
    deleted: record.deleted ? 1 : 0,
    info: JSON.stringify(info),
    metadata: canonicalJson(record.metadata),
  };
}

export function docRecordFrom(props: Readonly<Record<string, unknown>>): DocRecord {
  const info = json<{ title?: string; url?: string; totalChunks?: number | null }>(props, 'info', {});
  return {
    docSeq: num(props, 'docSeq'),
    deleted: num(props, 'deleted') === 1,
    ...(info.title !== undefined ? { title: info.title } : {}),
    ...(info.url !== undefined ? { url: info.url } : {}),
    metadata: json<Metadata>(props, 'metadata', {}),
    totalChunks: info.totalChunks ?? null,
  };
}

/** The keys every object of a document version carries, so filters work on chunk and window objects alike. */
function filterKeys(ref: DocumentRef, record: DocRecord): Props {
  return {
    docKey: docKeyOf(ref),
    sourceKey: sourceKeyOf(ref.source),
    docIdKey: docIdKeyOf(ref.docId),
    meta_kv: metaTokens(record.metadata),
    docSeq: record.docSeq,
    source: ref.source,
    docId: ref.docId,
  };
}

export function chunkProps(ref: DocumentRef, record: DocRecord, chunk: ChunkInput): Props {
  const info = {
    ...(record.title !== undefined ? { title: record.title } : {}),
    ...(record.url !== undefined ? { url: record.url } : {}),
    ...(chunk.heading !== undefined ? { heading: chunk.heading } : {}),
  };
  return {
    kind: 'chunk',
    ...filterKeys(ref, record),
    chunkId: chunk.chunkId,
    ordinal: chunk.ordinal,
    start: chunk.start,
    end: chunk.end,
    tokens: chunk.tokens,
    text: chunk.text,
    info: JSON.stringify(info),
    metadata: canonicalJson(record.metadata),
    text_terms: indexTerms(chunk.text),
    title_terms: indexTerms(record.title),
    heading_terms: indexTerms(chunk.heading),
  };
}

export function windowProps(ref: DocumentRef, record: DocRecord, chunkId: string, window: number, vectorB64: string): Props {
  return { kind: 'window', ...filterKeys(ref, record), chunkId, window, vectorB64 };
}

export function pendingProps(ref: DocumentRef, docSeq: number, chunkId: string, window: number, vectorB64: string): Props {
  return { kind: 'pending', docKey: docKeyOf(ref), source: ref.source, docId: ref.docId, docSeq, chunkId, window, vectorB64 };
}

/** A stored chunk as hydrate and the digest read it. */
export interface StoredChunk {
  readonly source: string;
  readonly docId: string;
  readonly chunkId: string;
  readonly docSeq: number;
  readonly ordinal: number;
  readonly start: number;
  readonly end: number;
  readonly tokens: number;
  readonly text: string;
  readonly title?: string;
  readonly url?: string;
  readonly heading?: string;
  readonly metadata: Metadata;
}

export function storedChunkFrom(props: Readonly<Record<string, unknown>>): StoredChunk {
  const info = json<{ title?: string; url?: string; heading?: string }>(props, 'info', {});
  return {
    source: str(props, 'source'),
    docId: str(props, 'docId'),
    chunkId: str(props, 'chunkId'),
    docSeq: num(props, 'docSeq'),
    ordinal: num(props, 'ordinal'),
    start: num(props, 'start'),
    end: num(props, 'end'),
    tokens: num(props, 'tokens'),
    text: str(props, 'text'),
    ...(info.title !== undefined ? { title: info.title } : {}),
    ...(info.url !== undefined ? { url: info.url } : {}),
    ...(info.heading !== undefined ? { heading: info.heading } : {}),
    metadata: json<Metadata>(props, 'metadata', {}),
  };
}
