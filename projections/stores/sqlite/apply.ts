// Applying store batches to SQLite under the docSeq guard: replace, add parts, tombstones, pending vectors, checkpoints.
import type Database from 'better-sqlite3';
import { canonicalJson } from '../../../streams/ids.ts';
import { chunkKey, type DocumentRef, type StoreBatch, type StoreOp } from '../../store.ts';
import { validateBatch } from '../../validate-batch.ts';
import type { ModelSpec } from './schema.ts';
import type { DocumentChange } from './document-filter.ts';
import type { KeywordChange } from './keyword-index.ts';
import type { IndexChange } from './vector-index.ts';

/** What a committed batch changes in the derived in-memory indexes (vectors, keywords, document filters). */
export interface AppliedChanges {
  readonly vectors: IndexChange[];
  readonly keywords: KeywordChange[];
  /** Documents made live (a new version) or removed, for the filter index. */
  readonly documents: DocumentChange[];
}

type ChunksOp = Extract<StoreOp, { kind: 'chunks' }>;
type VectorsOp = Extract<StoreOp, { kind: 'vectors' }>;
type RemoveOp = Extract<StoreOp, { kind: 'remove' }>;

interface DocRow {
  id: number;
  doc_seq: number;
  deleted: number;
}

// better-sqlite3 binds JS numbers as REAL; keys and rowids go in as BigInt so they are INTEGER wherever they land.
const int = (n: number): bigint => BigInt(n);

function blob(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

function prepareStatements(db: Database.Database) {
  const p = <R = unknown>(sql: string) => db.prepare<unknown[], R>(sql);
  return {
    doc: p<DocRow>('SELECT id, doc_seq, deleted FROM documents WHERE tenant = ? AND source = ? AND doc_id = ?'),
    insertDoc: p<{ id: number }>(
      `INSERT INTO documents (tenant, source, doc_id, doc_seq, deleted, title, url, metadata, total_chunks)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    ),
    updateDoc: p(`UPDATE documents SET doc_seq = ?, deleted = ?, title = ?, url = ?, metadata = ?, total_chunks = ? WHERE id = ?`),
    vectorIdsOfDoc: p<{ id: number }>('SELECT v.id FROM chunks c JOIN vectors v ON v.chunk = c.id WHERE c.doc = ?'),
    deleteVectorsOfDoc: p('DELETE FROM vectors WHERE chunk IN (SELECT id FROM chunks WHERE doc = ?)'),
    deleteChunksOfDoc: p('DELETE FROM chunks WHERE doc = ?'),
    chunkIdsOfDoc: p<number>('SELECT id FROM chunks WHERE doc = ?').pluck(),
    insertChunk: p<{ id: number }>(
      `INSERT INTO chunks (doc, chunk_id, ordinal, text, start_char, end_char, tokens, heading)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (doc, chunk_id) DO NOTHING RETURNING id`,
    ),
    chunkRowid: p<{ id: number }>('SELECT id FROM chunks WHERE doc = ? AND chunk_id = ?'),
    upsertVector: p<{ id: number }>(
      `INSERT INTO vectors (chunk, window_index, vector) VALUES (?, ?, ?)
       ON CONFLICT (chunk, window_index) DO UPDATE SET vector = excluded.vector RETURNING id`,
    ),
    upsertPending: p(
      `INSERT INTO pending_vectors (tenant, source, doc_id, doc_seq, chunk_id, window_index, vector) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT DO UPDATE SET vector = excluded.vector`,
    ),
    pendingOf: p<{ chunk_id: string; window_index: number; vector: Buffer }>(
      'SELECT chunk_id, window_index, vector FROM pending_vectors WHERE tenant = ? AND source = ? AND doc_id = ? AND doc_seq = ?',
    ),
    deletePending: p(
      'DELETE FROM pending_vectors WHERE tenant = ? AND source = ? AND doc_id = ? AND doc_seq = ? AND chunk_id = ? AND window_index = ?',
    ),
    deletePendingBelow: p('DELETE FROM pending_vectors WHERE tenant = ? AND source = ? AND doc_id = ? AND doc_seq < ?'),
    checkpoint: p('INSERT INTO checkpoints (key, seq) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET seq = max(seq, excluded.seq)'),
  };
}

/** Prepared statements and the guard logic; every method runs inside the caller's transaction. */
export class BatchWriter {
  private readonly s: ReturnType<typeof prepareStatements>;

  constructor(
    db: Database.Database,
    private readonly model: ModelSpec,
    /** Whether to report index changes (false when no in-memory index follows the store: they would be thrown away). */
    private readonly track = true,
  ) {
    this.s = prepareStatements(db);
  }

  /** Checks the whole batch before writing anything, so a bad op fails fast with the op's position in the message. */
  validate(batch: StoreBatch): void {
    validateBatch(batch, this.model);
  }

  /** Writes the batch (the caller holds the transaction) and returns the index changes to make once it commits. */
  write(batch: StoreBatch): AppliedChanges {
    const changes: AppliedChanges = { vectors: [], keywords: [], documents: [] };
    for (const op of batch.ops) {
      if (op.kind === 'chunks') this.chunks(op, changes);
      else if (op.kind === 'vectors') this.vectors(op, changes);
      else this.remove(op, changes);
    }
    for (const [key, seq] of Object.entries(batch.checkpoints ?? {})) this.s.checkpoint.run(key, int(seq));
    return changes;
  }

  private doc(ref: DocumentRef): DocRow | undefined {
    return this.s.doc.get(ref.tenant, ref.source, ref.docId);
  }

  /** Drops every chunk (and its vectors and index rows) of a document. */
  private clearChunks(ref: DocumentRef, docKey: number, changes: AppliedChanges): void {
    const key = int(docKey);
    if (this.track) {
      for (const { id } of this.s.vectorIdsOfDoc.all(key)) changes.vectors.push({ kind: 'remove', tenant: ref.tenant, vectorId: id });
      for (const id of this.s.chunkIdsOfDoc.all(key)) changes.keywords.push({ kind: 'remove', tenant: ref.tenant, chunk: id });
    }
    this.s.deleteVectorsOfDoc.run(key);
    this.s.deleteChunksOfDoc.run(key);
  }

  private chunks(op: ChunksOp, changes: AppliedChanges): void {
    const held = this.doc(op);
    let docKey: number;
    const info = [op.title ?? null, op.url ?? null, canonicalJson(op.metadata), int(op.totalChunks)] as const;
    if (!held || op.docSeq > held.doc_seq) {
      if (held) {
        docKey = held.id;
        this.clearChunks(op, docKey, changes);
        this.s.updateDoc.run(int(op.docSeq), 0n, ...info, int(docKey));
      } else {
        docKey = (this.s.insertDoc.get(op.tenant, op.source, op.docId, int(op.docSeq), 0n, ...info) as { id: number }).id;
      }
      if (this.track) changes.documents.push({ kind: 'put', tenant: op.tenant, doc: docKey, source: op.source, docId: op.docId, metadata: op.metadata });
    } else if (op.docSeq === held.doc_seq && held.deleted === 0) {
      docKey = held.id; // another part (or a replay) of the version held: add what is new
    } else {
      return; // older, or at or below a tombstone
    }
    this.s.deletePendingBelow.run(op.tenant, op.source, op.docId, int(op.docSeq));

    for (const c of op.chunks) {
      const inserted = this.s.insertChunk.get(int(docKey), c.chunkId, int(c.ordinal), c.text, int(c.start), int(c.end), int(c.tokens), c.heading ?? null);
      if (inserted) {
        if (!this.track) continue;
        changes.keywords.push({
          kind: 'add',
          tenant: op.tenant,
          chunk: inserted.id,
          doc: docKey,
          key: chunkKey(op.source, op.docId, c.chunkId),
          text: c.text,
          title: op.title ?? null,
          heading: c.heading ?? null,
        });
      }
    }
    this.attachPending(op, docKey, changes);
  }

  /** Moves vectors that arrived before their chunks onto the chunks now held. */
  private attachPending(op: ChunksOp, docKey: number, changes: AppliedChanges): void {
    const seq = int(op.docSeq);
    for (const p of this.s.pendingOf.all(op.tenant, op.source, op.docId, seq)) {
      const chunk = this.s.chunkRowid.get(int(docKey), p.chunk_id);
      if (!chunk) continue; // its chunk is in a part still to come
      const { id } = this.s.upsertVector.get(int(chunk.id), int(p.window_index), p.vector) as { id: number };
      if (this.track) changes.vectors.push({ kind: 'upsert', tenant: op.tenant, vectorId: id, chunk: chunk.id, doc: docKey, vector: p.vector });
      this.s.deletePending.run(op.tenant, op.source, op.docId, seq, p.chunk_id, int(p.window_index));
    }
  }

  private vectors(op: VectorsOp, changes: AppliedChanges): void {
    const held = this.doc(op);
    const seq = int(op.docSeq);
    if (held && (op.docSeq < held.doc_seq || (op.docSeq === held.doc_seq && held.deleted === 1))) return;
    const liveDoc = held && op.docSeq === held.doc_seq ? held.id : undefined;
    for (const v of op.vectors) {
      const chunk = liveDoc === undefined ? undefined : this.s.chunkRowid.get(int(liveDoc), v.chunkId);
      if (chunk) {
        const { id } = this.s.upsertVector.get(int(chunk.id), int(v.window), blob(v.vector)) as { id: number };
        if (!this.track) continue;
        const bytes = new Uint8Array(v.vector.buffer, v.vector.byteOffset, v.vector.byteLength);
        changes.vectors.push({ kind: 'upsert', tenant: op.tenant, vectorId: id, chunk: chunk.id, doc: liveDoc as number, vector: bytes });
      } else {
        // A newer version than the chunks held (or a part not here yet): keep it until those chunks arrive.
        this.s.upsertPending.run(op.tenant, op.source, op.docId, seq, v.chunkId, int(v.window), blob(v.vector));
      }
    }
  }

  private remove(op: RemoveOp, changes: AppliedChanges): void {
    const held = this.doc(op);
    // A removal of the version held removes it too: a log may hold both (a removal injected, or naming an upsert), and
    // CHUNKS and EMBEDDINGS are read side by side, so they must end the same in either order (chunks at a tombstone's
    // own seq are ignored: chunks above).
    if (held && (op.docSeq < held.doc_seq || (op.docSeq === held.doc_seq && held.deleted === 1))) return;
    // A tombstone keeps only the address and version, so it is the same whether or not the document was ever seen.
    const tombstone = [int(op.docSeq), 1n, null, null, '{}', null] as const;
    if (held) {
      this.clearChunks(op, held.id, changes);
      this.s.updateDoc.run(...tombstone, int(held.id));
      if (this.track) changes.documents.push({ kind: 'remove', tenant: op.tenant, doc: held.id });
    } else {
      this.s.insertDoc.get(op.tenant, op.source, op.docId, ...tombstone);
    }
    // Pending vectors at or below the tombstone can never attach.
    this.s.deletePendingBelow.run(op.tenant, op.source, op.docId, int(op.docSeq + 1));
  }
}
