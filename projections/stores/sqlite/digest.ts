// The store digest: sha256 over a canonical, ordered serialisation of its content (no rowids, no checkpoints).
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';

export const DIGEST_FORMAT = 'spanda-inference-digest/1';

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

/**
 * One JSON line per record, ordered by content keys only (BINARY collation), so two stores that applied the same
 * events, whatever their batch split or rowid assignment, hash the same bytes. Metadata is stored canonically
 * (sorted keys), vectors as their stored float32 bytes. Pending vectors are included: they are state a later event acts on.
 */
export function computeDigest(db: Database.Database): string {
  const hash = createHash('sha256');
  const line = (record: unknown[]) => hash.update(`${JSON.stringify(record)}\n`);
  line([DIGEST_FORMAT]);

  const docs = db
    .prepare<[], DocRow>(
      `SELECT id, tenant, source, doc_id, doc_seq, deleted, title, url, metadata, total_chunks
       FROM documents ORDER BY tenant, source, doc_id`,
    )
    .all();
  const chunks = db.prepare<[bigint], unknown[]>(
    `SELECT chunk_id, ordinal, text, start_char, end_char, tokens, heading FROM chunks WHERE doc = ? ORDER BY chunk_id`,
  );
  const vectors = db.prepare<[bigint], { chunk_id: string; window_index: number; vector: Buffer }>(
    `SELECT c.chunk_id, v.window_index, v.vector FROM chunks c JOIN vectors v ON v.chunk = c.id
     WHERE c.doc = ? ORDER BY c.chunk_id, v.window_index`,
  );
  for (const d of docs) {
    line(['document', d.tenant, d.source, d.doc_id, d.doc_seq, d.deleted === 1, d.title, d.url, d.metadata, d.total_chunks]);
    const key = BigInt(d.id);
    for (const c of chunks.raw().all(key)) line(['chunk', ...c]);
    for (const v of vectors.all(key)) line(['vector', v.chunk_id, v.window_index, v.vector.toString('base64')]);
  }

  const pending = db
    .prepare<[], { tenant: string; source: string; doc_id: string; doc_seq: number; chunk_id: string; window_index: number; vector: Buffer }>(
      `SELECT tenant, source, doc_id, doc_seq, chunk_id, window_index, vector FROM pending_vectors
       ORDER BY tenant, source, doc_id, doc_seq, chunk_id, window_index`,
    )
    .iterate();
  for (const p of pending) {
    line(['pending', p.tenant, p.source, p.doc_id, p.doc_seq, p.chunk_id, p.window_index, p.vector.toString('base64')]);
  }
  return `sha256:${hash.digest('hex')}`;
}
