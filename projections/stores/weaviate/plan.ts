// The docSeq guard for a store without transactions (pure): from the objects held and the ops, the objects to write and delete.
import type { DocumentRef, StoreOp } from '../../store.ts';
import { chunkObjectId, docRecordId, pendingObjectId, windowObjectId } from './names.ts';
import { chunkProps, docRecordProps, pendingProps, type DocRecord, type Props, vectorFromB64, vectorToB64, windowProps } from './records.ts';
import type { ChunkInput } from '../../store.ts';

/** What Weaviate holds for one document, as loaded before a batch. */
export interface HeldDocument {
  readonly ref: DocumentRef;
  readonly record?: DocRecord;
  /** Chunk objects: chunkId → the docSeq they were written for. */
  readonly chunks: ReadonlyMap<string, number>;
  /** Window objects: (chunkId, window) → docSeq and vector. */
  readonly windows: ReadonlyArray<{ readonly chunkId: string; readonly window: number; readonly docSeq: number; readonly vectorB64: string }>;
  readonly pending: ReadonlyArray<{ readonly docSeq: number; readonly chunkId: string; readonly window: number; readonly vectorB64: string }>;
}

export interface ObjectWrite {
  readonly id: string;
  readonly properties: Props;
  readonly vector?: Float32Array;
}

/** The writes for one tenant, in the order they must run (see apply.ts). */
export interface TenantPlan {
  readonly tenant: string;
  readonly chunkUpserts: ObjectWrite[];
  readonly chunkDeletes: string[];
  readonly pendingUpserts: ObjectWrite[];
  readonly recordUpserts: ObjectWrite[];
  readonly pendingDeletes: string[];
}

interface WindowState {
  chunkId: string;
  window: number;
  vectorB64: string;
  vector?: Float32Array;
  dirty: boolean;
}
interface PendingState {
  docSeq: number;
  chunkId: string;
  window: number;
  vectorB64: string;
  dirty: boolean;
}

const windowKey = (chunkId: string, window: number) => `${chunkId}\u0000${window}`;
const pendingKey = (docSeq: number, chunkId: string, window: number) => `${docSeq}\u0000${chunkId}\u0000${window}`;

/** One document's state while the batch's ops are folded over it (the same rules as projections/stores/sqlite/apply.ts). */
class DocModel {
  record: DocRecord | undefined;
  recordDirty = false;
  /** chunkId → content to write, or null for a chunk already stored for the version held. */
  chunks = new Map<string, ChunkInput | null>();
  windows = new Map<string, WindowState>();
  pending = new Map<string, PendingState>();

  constructor(readonly held: HeldDocument) {
    this.record = held.record;
    const live = held.record && !held.record.deleted ? held.record.docSeq : undefined;
    // Objects of any other version are leftovers of an interrupted batch: not part of the model, so they get deleted.
    for (const [chunkId, docSeq] of held.chunks) if (docSeq === live) this.chunks.set(chunkId, null);
    for (const w of held.windows) {
      if (w.docSeq === live && this.chunks.has(w.chunkId)) this.windows.set(windowKey(w.chunkId, w.window), { ...w, dirty: false });
    }
    for (const p of held.pending) this.pending.set(pendingKey(p.docSeq, p.chunkId, p.window), { ...p, dirty: false });
  }

  private clear(): void {
    this.chunks.clear();
    this.windows.clear();
  }

  private dropPendingBelow(docSeq: number): void {
    for (const [key, p] of this.pending) if (p.docSeq < docSeq) this.pending.delete(key);
  }

  private setWindow(chunkId: string, window: number, vector: Float32Array): void {
    const b64 = vectorToB64(vector);
    const key = windowKey(chunkId, window);
    const held = this.windows.get(key);
    if (held && held.vectorB64 === b64) return;
    this.windows.set(key, { chunkId, window, vectorB64: b64, vector, dirty: true });
  }

  chunksOp(op: Extract<StoreOp, { kind: 'chunks' }>): void {
    const held = this.record;
    const version: DocRecord = {
      docSeq: op.docSeq,
      deleted: false,
      ...(op.title !== undefined ? { title: op.title } : {}),
      ...(op.url !== undefined ? { url: op.url } : {}),
      metadata: op.metadata,
      totalChunks: op.totalChunks,
    };
    if (!held || op.docSeq > held.docSeq) {
      this.clear();
      this.record = version;
      this.recordDirty = true;
    } else if (op.docSeq !== held.docSeq || held.deleted) {
      return; // older, or at or below a tombstone
    }
    this.dropPendingBelow(op.docSeq);
    for (const c of op.chunks) if (!this.chunks.has(c.chunkId)) this.chunks.set(c.chunkId, c);
    // Vectors that arrived before their chunks attach now.
    for (const [key, p] of this.pending) {
      if (p.docSeq !== op.docSeq || !this.chunks.has(p.chunkId)) continue;
      const key2 = windowKey(p.chunkId, p.window);
      const heldWindow = this.windows.get(key2);
      if (!heldWindow || heldWindow.vectorB64 !== p.vectorB64) this.windows.set(key2, { chunkId: p.chunkId, window: p.window, vectorB64: p.vectorB64, dirty: true });
      this.pending.delete(key);
    }
  }

  vectorsOp(op: Extract<StoreOp, { kind: 'vectors' }>): void {
    const held = this.record;
    if (held && (op.docSeq < held.docSeq || (op.docSeq === held.docSeq && held.deleted))) return;
    const live = held !== undefined && op.docSeq === held.docSeq;
    for (const v of op.vectors) {
      if (live && this.chunks.has(v.chunkId)) {
        this.setWindow(v.chunkId, v.window, v.vector);
      } else {
        // A newer version than the chunks held (or a part not here yet): kept until those chunks arrive.
        const key = pendingKey(op.docSeq, v.chunkId, v.window);
        const b64 = vectorToB64(v.vector);
        if (this.pending.get(key)?.vectorB64 !== b64) this.pending.set(key, { docSeq: op.docSeq, chunkId: v.chunkId, window: v.window, vectorB64: b64, dirty: true });
      }
    }
  }

  removeOp(op: Extract<StoreOp, { kind: 'remove' }>): void {
    const held = this.record;
    // A removal of the version held removes it too, whichever of the two was read first (see the SQLite store's apply).
    if (held && (op.docSeq < held.docSeq || (op.docSeq === held.docSeq && held.deleted))) return;
    this.clear();
    // A tombstone keeps only the address and version, so it is the same whether or not the document was ever seen.
    this.record = { docSeq: op.docSeq, deleted: true, metadata: {}, totalChunks: null };
    this.recordDirty = true;
    this.dropPendingBelow(op.docSeq + 1);
  }
}

const docAddress = (ref: DocumentRef) => JSON.stringify([ref.tenant, ref.source, ref.docId]);

/**
 * Folds the ops over the documents held and returns, per tenant, what to write. `held` must have an entry (possibly
 * empty) for every document the ops name.
 */
export function planBatch(ops: readonly StoreOp[], held: ReadonlyMap<string, HeldDocument>): TenantPlan[] {
  const models = new Map<string, DocModel>();
  for (const op of ops) {
    const address = docAddress(op);
    let model = models.get(address);
    if (!model) {
      const h = held.get(address) ?? { ref: { tenant: op.tenant, source: op.source, docId: op.docId }, chunks: new Map(), windows: [], pending: [] };
      model = new DocModel(h);
      models.set(address, model);
    }
    if (op.kind === 'chunks') model.chunksOp(op);
    else if (op.kind === 'vectors') model.vectorsOp(op);
    else model.removeOp(op);
  }

  const plans = new Map<string, TenantPlan>();
  for (const model of models.values()) {
    const { ref } = model.held;
    const { tenant, source, docId } = ref;
    let plan = plans.get(tenant);
    if (!plan) {
      plan = { tenant, chunkUpserts: [], chunkDeletes: [], pendingUpserts: [], recordUpserts: [], pendingDeletes: [] };
      plans.set(tenant, plan);
    }
    const record = model.record;
    const live = record && !record.deleted ? record : undefined;

    const keepChunks = new Set<string>();
    for (const [chunkId, content] of model.chunks) {
      const id = chunkObjectId(tenant, source, docId, chunkId);
      keepChunks.add(id);
      if (content && live) plan.chunkUpserts.push({ id, properties: chunkProps(ref, live, content) });
    }
    for (const w of model.windows.values()) {
      const id = windowObjectId(tenant, source, docId, w.chunkId, w.window);
      keepChunks.add(id);
      if (w.dirty && live) {
        const vector = w.vector ?? vectorFromB64(w.vectorB64);
        plan.chunkUpserts.push({ id, properties: windowProps(ref, live, w.chunkId, w.window, w.vectorB64), vector });
      }
    }
    const heldObjects = [
      ...[...model.held.chunks.keys()].map((chunkId) => chunkObjectId(tenant, source, docId, chunkId)),
      ...model.held.windows.map((w) => windowObjectId(tenant, source, docId, w.chunkId, w.window)),
    ];
    for (const id of heldObjects) if (!keepChunks.has(id)) plan.chunkDeletes.push(id);

    const keepPending = new Set<string>();
    for (const p of model.pending.values()) {
      const id = pendingObjectId(tenant, source, docId, p.docSeq, p.chunkId, p.window);
      keepPending.add(id);
      if (p.dirty) plan.pendingUpserts.push({ id, properties: pendingProps(ref, p.docSeq, p.chunkId, p.window, p.vectorB64) });
    }
    for (const p of model.held.pending) {
      const id = pendingObjectId(tenant, source, docId, p.docSeq, p.chunkId, p.window);
      if (!keepPending.has(id)) plan.pendingDeletes.push(id);
    }
    if (model.recordDirty && record) plan.recordUpserts.push({ id: docRecordId(tenant, source, docId), properties: docRecordProps(ref, record) });
  }
  return [...plans.values()];
}
