// The SQLite store's content as canonical digest documents (projections/digest.ts), read in one pass per table.
import type Database from 'better-sqlite3';
import { DigestBuilder, type DigestDocument } from '../../digest.ts';
import type { Metadata } from '../../../streams/events/index.ts';

interface DocRow {
  id: number;
  tenant: string;
  source: string;
  doc_id: string;
  doc_seq: number;
  deleted: number;
  title: string | null;
  url: string | null;
  metadata: string;
  total_chunks: number | null;
}

interface ChunkRow {
  chunk_id: string;
  ordinal: number;
  text: string;
  start_char: number;
  end_char: number;
  tokens: number;
  heading: string | null;
}

/** Every document (live and tombstones) with its chunks and attached vectors; pending vectors are not content. */
export function* digestDocuments(db: Database.Database): Generator<DigestDocument> {
  const docs = db
    .prepare<[], DocRow>(`SELECT id, tenant, source, doc_id, doc_seq, deleted, title, url, metadata, total_chunks FROM documents`)
    .all();
  const chunks = db.prepare<[bigint], ChunkRow>(
    `SELECT chunk_id, ordinal, text, start_char, end_char, tokens, heading FROM chunks WHERE doc = ?`,
  );
  const vectors = db.prepare<[bigint], { chunk_id: string; window_index: number; vector: Buffer }>(
    `SELECT c.chunk_id, v.window_index, v.vector FROM chunks c JOIN vectors v ON v.chunk = c.id WHERE c.doc = ?`,
  );
  for (const d of docs) {
    const key = BigInt(d.id);
    yield {
      tenant: d.tenant,
      source: d.source,
      docId: d.doc_id,
      docSeq: d.doc_seq,
      deleted: d.deleted === 1,
      title: d.title,
      url: d.url,
      metadata: JSON.parse(d.metadata) as Metadata,
      totalChunks: d.total_chunks,
      chunks: chunks.all(key).map((c) => ({
        chunkId: c.chunk_id,
        ordinal: c.ordinal,
        text: c.text,
        start: c.start_char,
        end: c.end_char,
        tokens: c.tokens,
        heading: c.heading,
      })),
      vectors: vectors.all(key).map((v) => ({
        chunkId: v.chunk_id,
        window: v.window_index,
        vector: new Float32Array(v.vector.buffer.slice(v.vector.byteOffset, v.vector.byteOffset + v.vector.byteLength)),
      })),
    };
  }
}

export function computeDigest(db: Database.Database): string {
  const builder = new DigestBuilder();
  for (const doc of digestDocuments(db)) builder.add(doc);
  return builder.digest();
}

/** Per-document hashes, keyed by documentKey, for naming the documents that differ from the log. */
export function documentHashes(db: Database.Database): Record<string, string> {
  const builder = new DigestBuilder();
  for (const doc of digestDocuments(db)) builder.add(doc);
  return Object.fromEntries(builder.entries());
}
