// The collection layout: vector names, payload indexes, the point kinds a generation holds and how their payloads read back.
import type { Schemas } from '@qdrant/js-client-rest';
import type { Metadata } from '../../../streams/events/index.ts';

/** Dense vector name (cosine, the model's dimensions) and sparse vector name (BM25 term weights, IDF applied by Qdrant). */
export const DENSE = 'dense';
export const SPARSE = 'text';

/**
 * Every record is a point with a `kind`:
 * - `document`: one per address — version, tombstone flag, title, url, metadata, declared chunk count; no vector.
 * - `chunk`: one per chunk of the live version — content, document fields, and the sparse keyword vector.
 * - `vector`: one per (chunk, window) — the dense vector; a chunk with several windows scores its best one.
 * - `pending`: a vector that arrived before its chunk, kept in the payload (base64 float32) so search never sees it.
 * - `checkpoint`: one per log position key.
 */
export type PointKind = 'document' | 'chunk' | 'vector' | 'pending' | 'checkpoint';

export function collectionConfig(dims: number): Schemas['CreateCollection'] {
  return {
    vectors: { [DENSE]: { size: dims, distance: 'Cosine' } },
    sparse_vectors: { [SPARSE]: { modifier: 'idf' } },
  };
}

/** Payload indexes: `tenant` partitions the data (is_tenant co-locates a tenant's points), the rest are the equality filters used. */
export const PAYLOAD_INDEXES: ReadonlyArray<{ field: string; schema: Schemas['PayloadFieldSchema'] }> = [
  { field: 'tenant', schema: { type: 'keyword', is_tenant: true } },
  { field: 'kind', schema: 'keyword' },
  { field: 'source', schema: 'keyword' },
  { field: 'docId', schema: 'keyword' },
];

type Payload = Record<string, unknown>;

function str(p: Payload, key: string): string {
  const v = p[key];
  if (typeof v !== 'string') throw new Error(`point payload field ${key} is not a string`);
  return v;
}
function num(p: Payload, key: string): number {
  const v = p[key];
  if (typeof v !== 'number') throw new Error(`point payload field ${key} is not a number`);
  return v;
}
function optStr(p: Payload, key: string): string | null {
  const v = p[key];
  return typeof v === 'string' ? v : null;
}
function meta(p: Payload): Metadata {
  const v = p.meta;
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Metadata) : {};
}

export interface DocumentRecord {
  readonly tenant: string;
  readonly source: string;
  readonly docId: string;
  readonly docSeq: number;
  readonly deleted: boolean;
  readonly title: string | null;
  readonly url: string | null;
  readonly metadata: Metadata;
  readonly totalChunks: number | null;
}

export function documentPayload(d: DocumentRecord): Payload {
  return {
    kind: 'document',
    tenant: d.tenant,
    source: d.source,
    docId: d.docId,
    docSeq: d.docSeq,
    deleted: d.deleted,
    title: d.title,
    url: d.url,
    meta: d.metadata,
    totalChunks: d.totalChunks,
  };
}

export function readDocument(p: Payload): DocumentRecord {
  const total = p.totalChunks;
  return {
    tenant: str(p, 'tenant'),
    source: str(p, 'source'),
    docId: str(p, 'docId'),
    docSeq: num(p, 'docSeq'),
    deleted: p.deleted === true,
    title: optStr(p, 'title'),
    url: optStr(p, 'url'),
    metadata: meta(p),
    totalChunks: typeof total === 'number' ? total : null,
  };
}

export interface ChunkRecord {
  readonly tenant: string;
  readonly source: string;
  readonly docId: string;
  readonly docSeq: number;
  readonly chunkId: string;
  readonly ordinal: number;
  readonly text: string;
  readonly start: number;
  readonly end: number;
  readonly tokens: number;
  readonly heading: string | null;
  readonly title: string | null;
  readonly url: string | null;
  readonly metadata: Metadata;
}

export function chunkPayload(c: ChunkRecord): Payload {
  return {
    kind: 'chunk',
    tenant: c.tenant,
    source: c.source,
    docId: c.docId,
    docSeq: c.docSeq,
    chunkId: c.chunkId,
    ordinal: c.ordinal,
    text: c.text,
    start: c.start,
    end: c.end,
    tokens: c.tokens,
    heading: c.heading,
    title: c.title,
    url: c.url,
    meta: c.metadata,
  };
}

export function readChunk(p: Payload): ChunkRecord {
  return {
    tenant: str(p, 'tenant'),
    source: str(p, 'source'),
    docId: str(p, 'docId'),
    docSeq: num(p, 'docSeq'),
    chunkId: str(p, 'chunkId'),
    ordinal: num(p, 'ordinal'),
    text: str(p, 'text'),
    start: num(p, 'start'),
    end: num(p, 'end'),
    tokens: num(p, 'tokens'),
    heading: optStr(p, 'heading'),
    title: optStr(p, 'title'),
    url: optStr(p, 'url'),
    metadata: meta(p),
  };
}

/**
 * A vector point carries the document's metadata (for filtering) and the norm of the vector as sent: Qdrant stores
 * cosine vectors normalised, and the digest is over the vectors of the log.
 */
export interface VectorRecord {
  readonly tenant: string;
  readonly source: string;
  readonly docId: string;
  readonly docSeq: number;
  readonly chunkId: string;
  readonly window: number;
  readonly norm: number;
  readonly metadata: Metadata;
}

export function vectorPayload(v: VectorRecord): Payload {
  return {
    kind: 'vector',
    tenant: v.tenant,
    source: v.source,
    docId: v.docId,
    docSeq: v.docSeq,
    chunkId: v.chunkId,
    window: v.window,
    norm: v.norm,
    meta: v.metadata,
  };
}

export function readVector(p: Payload): Omit<VectorRecord, 'metadata'> {
  return {
    tenant: str(p, 'tenant'),
    source: str(p, 'source'),
    docId: str(p, 'docId'),
    docSeq: num(p, 'docSeq'),
    chunkId: str(p, 'chunkId'),
    window: num(p, 'window'),
    norm: num(p, 'norm'),
  };
}

export interface PendingRecord {
  readonly tenant: string;
  readonly source: string;
  readonly docId: string;
  readonly docSeq: number;
  readonly chunkId: string;
  readonly window: number;
  readonly vector: Float32Array;
}

export const encodeVector = (v: Float32Array): string => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');

export function decodeVector(base64: string): Float32Array {
  const bytes = Buffer.from(base64, 'base64');
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new Float32Array(copy.buffer);
}

export function pendingPayload(p: PendingRecord): Payload {
  return {
    kind: 'pending',
    tenant: p.tenant,
    source: p.source,
    docId: p.docId,
    docSeq: p.docSeq,
    chunkId: p.chunkId,
    window: p.window,
    vector: encodeVector(p.vector),
  };
}

export function readPending(p: Payload): PendingRecord {
  return {
    tenant: str(p, 'tenant'),
    source: str(p, 'source'),
    docId: str(p, 'docId'),
    docSeq: num(p, 'docSeq'),
    chunkId: str(p, 'chunkId'),
    window: num(p, 'window'),
    vector: decodeVector(str(p, 'vector')),
  };
}

export const checkpointPayload = (key: string, seq: number): Payload => ({ kind: 'checkpoint', key, seq });

export function readCheckpoint(p: Payload): { key: string; seq: number } {
  return { key: str(p, 'key'), seq: num(p, 'seq') };
}
