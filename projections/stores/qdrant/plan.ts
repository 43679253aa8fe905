// The docSeq guard for Qdrant, pure: given what is held for each document, turn a batch's ops into ordered point writes.
import type { Schemas } from '@qdrant/js-client-rest';
import type { Metadata } from '../../../streams/events/index.ts';
import type { StoreOp } from '../../store.ts';
import { documentFilter } from './filter.ts';
import { chunkPayload, DENSE, documentPayload, pendingPayload, SPARSE, vectorPayload, type PendingRecord } from './layout.ts';
import { chunkPointId, documentPointId, pendingPointId, vectorPointId, type Address } from './names.ts';
import { documentVector } from './terms.ts';

type ChunksOp = Extract<StoreOp, { kind: 'chunks' }>;
type VectorsOp = Extract<StoreOp, { kind: 'vectors' }>;
type RemoveOp = Extract<StoreOp, { kind: 'remove' }>;
export type UpdateOperation = Schemas['UpdateOperation'];
type PointStruct = Schemas['PointStruct'];

/** What the store holds for one document address, as far as the guard needs it. */
export interface HeldDocument {
  record?: { readonly docSeq: number; readonly deleted: boolean; readonly metadata: Metadata };
  /** chunkIds of the version held. */
  readonly chunks: Set<string>;
  /** Vectors waiting for their chunks, by pendingKey. */
  readonly pending: Map<string, PendingRecord>;
}

export const emptyHeld = (): HeldDocument => ({ chunks: new Set(), pending: new Map() });

export const addressKey = (a: Address): string => `${a.tenant}\u0000${a.source}\u0000${a.docId}`;
export const pendingKey = (docSeq: number, chunkId: string, window: number): string => `${docSeq}\u0000${chunkId}\u0000${window}`;

function norm(v: Float32Array): number {
  let s = 0;
  for (const x of v) s += x * x;
  return Math.sqrt(s);
}

/** Collects writes in order, merging neighbours of the same kind so a batch becomes few requests. */
class Writes {
  readonly operations: UpdateOperation[] = [];
  /** Positions of the ids in the trailing upsert, so a point written twice in a row is sent once (the later copy). */
  private trailing = new Map<PointStruct['id'], number>();

  upsert(point: PointStruct): void {
    const last = this.operations.at(-1);
    if (last && 'upsert' in last && 'points' in last.upsert) {
      const at = this.trailing.get(point.id);
      if (at === undefined) {
        this.trailing.set(point.id, last.upsert.points.length);
        last.upsert.points.push(point);
      } else {
        last.upsert.points[at] = point;
      }
    } else {
      this.trailing = new Map([[point.id, 0]]);
      this.operations.push({ upsert: { points: [point] } });
    }
  }

  deleteIds(ids: readonly string[]): void {
    if (ids.length === 0) return;
    const last = this.operations.at(-1);
    if (last && 'delete' in last && 'points' in last.delete) last.delete.points.push(...ids);
    else this.operations.push({ delete: { points: [...ids] } });
  }

  deleteContent(ref: Address): void {
    this.operations.push({ delete: { filter: documentFilter(ref, ['chunk', 'vector']) } });
  }
}

const ref = (op: Address): Address => ({ tenant: op.tenant, source: op.source, docId: op.docId });

function vectorPoint(a: Address, docSeq: number, chunkId: string, window: number, vector: Float32Array, metadata: Metadata): PointStruct {
  return {
    id: vectorPointId(a, chunkId, window),
    vector: { [DENSE]: Array.from(vector) },
    payload: vectorPayload({ ...ref(a), docSeq, chunkId, window, norm: norm(vector), metadata }),
  };
}

/**
 * Plans the writes of `ops` under the guard documented on StoreOp, updating `held` as it goes (so later ops of the same
 * batch see earlier ones). The order of the writes makes every prefix safe to replay: old content goes before the new
 * document record, the record before its chunks, an attached vector before its pending copy is deleted.
 */
export function planBatch(ops: readonly StoreOp[], held: Map<string, HeldDocument>): UpdateOperation[] {
  const writes = new Writes();
  const stateOf = (a: Address): HeldDocument => {
    const key = addressKey(a);
    let state = held.get(key);
    if (!state) held.set(key, (state = emptyHeld()));
    return state;
  };
  const dropPending = (state: HeldDocument, below: number) => {
    const ids: string[] = [];
    for (const [key, p] of state.pending) {
      if (p.docSeq < below) {
        ids.push(pendingPointId(p, p.docSeq, p.chunkId, p.window));
        state.pending.delete(key);
      }
    }
    writes.deleteIds(ids);
  };

  const chunks = (op: ChunksOp) => {
    const state = stateOf(op);
    const rec = state.record;
    if (rec && (op.docSeq < rec.docSeq || (op.docSeq === rec.docSeq && rec.deleted))) return;
    if (!rec || op.docSeq > rec.docSeq) {
      if (rec && !rec.deleted) writes.deleteContent(op);
      state.chunks.clear();
      state.record = { docSeq: op.docSeq, deleted: false, metadata: op.metadata };
      writes.upsert({
        id: documentPointId(op),
        vector: {},
        payload: documentPayload({
          ...ref(op),
          docSeq: op.docSeq,
          deleted: false,
          title: op.title ?? null,
          url: op.url ?? null,
          metadata: op.metadata,
          totalChunks: op.totalChunks,
        }),
      });
    }
    dropPending(state, op.docSeq);
    for (const c of op.chunks) {
      // The first copy of a chunk wins (as in SQLite): a replayed part changes nothing.
      if (state.chunks.has(c.chunkId)) continue;
      state.chunks.add(c.chunkId);
      const title = op.title ?? null;
      const heading = c.heading ?? null;
      const sparse = documentVector({ text: c.text, title, heading });
      writes.upsert({
        id: chunkPointId(op, c.chunkId),
        vector: sparse.indices.length > 0 ? { [SPARSE]: sparse } : {},
        payload: chunkPayload({
          ...ref(op),
          docSeq: op.docSeq,
          chunkId: c.chunkId,
          ordinal: c.ordinal,
          text: c.text,
          start: c.start,
          end: c.end,
          tokens: c.tokens,
          heading,
          title,
          url: op.url ?? null,
          metadata: op.metadata,
        }),
      });
    }
    // Vectors that arrived before these chunks attach now.
    const metadata = state.record?.metadata ?? op.metadata;
    const attached: string[] = [];
    for (const [key, p] of state.pending) {
      if (p.docSeq !== op.docSeq || !state.chunks.has(p.chunkId)) continue;
      writes.upsert(vectorPoint(op, op.docSeq, p.chunkId, p.window, p.vector, metadata));
      attached.push(pendingPointId(p, p.docSeq, p.chunkId, p.window));
      state.pending.delete(key);
    }
    writes.deleteIds(attached);
  };

  const vectors = (op: VectorsOp) => {
    const state = stateOf(op);
    const rec = state.record;
    if (rec && (op.docSeq < rec.docSeq || (op.docSeq === rec.docSeq && rec.deleted))) return;
    const live = rec !== undefined && op.docSeq === rec.docSeq;
    for (const v of op.vectors) {
      if (live && state.chunks.has(v.chunkId)) {
        writes.upsert(vectorPoint(op, op.docSeq, v.chunkId, v.window, v.vector, rec.metadata));
      } else {
        // A newer version than the chunks held (or a part not here yet): keep it until those chunks arrive.
        const pending: PendingRecord = { ...ref(op), docSeq: op.docSeq, chunkId: v.chunkId, window: v.window, vector: v.vector };
        state.pending.set(pendingKey(op.docSeq, v.chunkId, v.window), pending);
        writes.upsert({ id: pendingPointId(op, op.docSeq, v.chunkId, v.window), vector: {}, payload: pendingPayload(pending) });
      }
    }
  };

  const remove = (op: RemoveOp) => {
    const state = stateOf(op);
    const rec = state.record;
    // A removal of the version held removes it too, whichever of the two was read first (see the SQLite store's apply).
    if (rec && (op.docSeq < rec.docSeq || (op.docSeq === rec.docSeq && rec.deleted))) return;
    if (rec && !rec.deleted) writes.deleteContent(op);
    state.chunks.clear();
    // A tombstone keeps only the address and version, so it is the same whether or not the document was ever seen.
    state.record = { docSeq: op.docSeq, deleted: true, metadata: {} };
    writes.upsert({
      id: documentPointId(op),
      vector: {},
      payload: documentPayload({ ...ref(op), docSeq: op.docSeq, deleted: true, title: null, url: null, metadata: {}, totalChunks: null }),
    });
    // Pending vectors at or below the tombstone can never attach.
    dropPending(state, op.docSeq + 1);
  };

  for (const op of ops) {
    if (op.kind === 'chunks') chunks(op);
    else if (op.kind === 'vectors') vectors(op);
    else remove(op);
  }
  return writes.operations;
}
