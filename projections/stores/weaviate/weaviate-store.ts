// The Weaviate inference store: one generation's collections, written idempotently with the checkpoint last, read by a retriever.
import type { WeaviateClient } from 'weaviate-client';
import { ConfigError } from '../../../lib/errors.ts';
import { DigestBuilder, type DigestDocument } from '../../digest.ts';
import type {
  Candidate,
  CandidateRequest,
  KeywordRequest,
  ChunkContent,
  DocumentRef,
  DocumentState,
  InferenceStore,
  StoreBatch,
  StoreStats,
} from '../../store.ts';
import { collection, deleteIds, fetchByKeys, fetchWhere, scan, upsert, type AnyCollection } from './io.ts';
import { checkpointObjectId, docRecordId, LAYOUT_OBJECT_ID, weaviateTenant, type GenerationCollections } from './names.ts';
import { planBatch, type HeldDocument } from './plan.ts';
import { docKeyOf, docRecordFrom, read, storedChunkFrom, vectorFromB64, type DocRecord } from './records.ts';
import { WeaviateRetriever } from './retrieve.ts';
import { createCollections } from './schema.ts';
import { validateBatch } from '../../validate-batch.ts';

export interface WeaviateStoreOptions {
  readonly client: WeaviateClient;
  readonly names: GenerationCollections;
  readonly model: { readonly id: string; readonly dims: number };
  /** The factory's layout version, recorded with the model so a generation is never reopened with another layout. */
  readonly schemaVersion: number;
}

const HELD_CHUNK_PROPS = ['kind', 'source', 'docId', 'chunkId', 'window', 'docSeq', 'vectorB64'] as const;
const DOC_PROPS = ['kind', 'tenant', 'source', 'docId', 'docSeq', 'deleted', 'info', 'metadata', 'chunkId', 'window', 'vectorB64'] as const;
const CHUNK_PROPS = ['kind', 'source', 'docId', 'chunkId', 'window', 'docSeq', 'ordinal', 'start', 'end', 'tokens', 'text', 'info', 'metadata', 'vectorB64'] as const;

const address = (tenant: string, source: string, docId: string) => JSON.stringify([tenant, source, docId]);

/** Opens (creating if needed) the generation's collections and checks they were made for this model and layout. */
export async function openWeaviateStore(options: WeaviateStoreOptions): Promise<InferenceStore> {
  const { client, names, model } = options;
  await createCollections(client, names);
  const state = collection(client, names.state);
  const layout = JSON.stringify({ model: { id: model.id, dims: model.dims }, schemaVersion: options.schemaVersion });
  const held = await state.query.fetchObjectById(LAYOUT_OBJECT_ID, { returnProperties: ['value'] });
  if (!held) {
    await upsert(state, [{ id: LAYOUT_OBJECT_ID, properties: { kind: 'layout', name: 'layout', value: layout } }]);
  } else if (read.str(held.properties, 'value') !== layout) {
    throw new ConfigError(`Weaviate collection ${names.chunks} was built with ${read.str(held.properties, 'value')}, not ${layout}: open it with its own model or build a new generation`);
  }
  const tenants = new Set(Object.keys(await collection(client, names.chunks).tenants.get()));
  return new WeaviateStore(client, names, model, tenants);
}

class WeaviateStore implements InferenceStore {
  private readonly retriever: WeaviateRetriever;
  private closed = false;

  constructor(
    private readonly client: WeaviateClient,
    private readonly names: GenerationCollections,
    readonly model: { readonly id: string; readonly dims: number },
    /** Weaviate tenants that exist in both collections. */
    private readonly tenants: Set<string>,
  ) {
    this.retriever = new WeaviateRetriever(client, names);
  }

  private chunks(tenant: string): AnyCollection {
    return collection(this.client, this.names.chunks, weaviateTenant(tenant));
  }
  private docs(tenant: string): AnyCollection {
    return collection(this.client, this.names.docs, weaviateTenant(tenant));
  }
  /**
   * Whether the tenant exists. Another process (a replay beside this serving node) may add tenants to the generation,
   * so a tenant not seen yet is looked up on the server before the answer is "no such tenant".
   */
  private async has(tenant: string): Promise<boolean> {
    const name = weaviateTenant(tenant);
    if (this.tenants.has(name)) return true;
    const found = await collection(this.client, this.names.chunks).tenants.getByName(name);
    if (found) this.tenants.add(name);
    return found !== null;
  }

  private async refreshTenants(): Promise<void> {
    for (const name of Object.keys(await collection(this.client, this.names.chunks).tenants.get())) this.tenants.add(name);
  }

  private async ensureTenants(tenants: Iterable<string>): Promise<void> {
    const missing = [...new Set([...tenants].map(weaviateTenant))].filter((t) => !this.tenants.has(t));
    if (missing.length === 0) return;
    for (const name of [this.names.chunks, this.names.docs]) {
      const coll = collection(this.client, name);
      const existing = await coll.tenants.get();
      const create = missing.filter((t) => !(t in existing));
      if (create.length > 0) await coll.tenants.create(create.map((t) => ({ name: t })));
    }
    for (const t of missing) this.tenants.add(t);
  }

  /** The objects Weaviate holds for the documents a batch touches. */
  private async load(tenant: string, refs: readonly DocumentRef[]): Promise<Map<string, HeldDocument>> {
    const keys = [...new Set(refs.map(docKeyOf))];
    const [docObjects, chunkObjects] = await Promise.all([
      fetchByKeys(this.docs(tenant), 'docKey', keys, DOC_PROPS),
      fetchByKeys(this.chunks(tenant), 'docKey', keys, HELD_CHUNK_PROPS),
    ]);
    type Mutable = { ref: DocumentRef; record?: DocRecord; chunks: Map<string, number>; windows: HeldDocument['windows'][number][]; pending: HeldDocument['pending'][number][] };
    const held = new Map<string, Mutable>();
    const entry = (props: Readonly<Record<string, unknown>>): Mutable => {
      const ref = { tenant, source: read.str(props, 'source'), docId: read.str(props, 'docId') };
      const key = address(tenant, ref.source, ref.docId);
      let e = held.get(key);
      if (!e) held.set(key, (e = { ref, chunks: new Map(), windows: [], pending: [] }));
      return e;
    };
    for (const o of docObjects) {
      const p = o.properties;
      const kind = read.str(p, 'kind');
      if (kind === 'doc') entry(p).record = docRecordFrom(p);
      else if (kind === 'pending') {
        entry(p).pending.push({ docSeq: read.num(p, 'docSeq'), chunkId: read.str(p, 'chunkId'), window: read.num(p, 'window'), vectorB64: read.str(p, 'vectorB64') });
      }
    }
    for (const o of chunkObjects) {
      const p = o.properties;
      const kind = read.str(p, 'kind');
      if (kind === 'chunk') entry(p).chunks.set(read.str(p, 'chunkId'), read.num(p, 'docSeq'));
      else if (kind === 'window') {
        entry(p).windows.push({ chunkId: read.str(p, 'chunkId'), window: read.num(p, 'window'), docSeq: read.num(p, 'docSeq'), vectorB64: read.str(p, 'vectorB64') });
      }
    }
    return held as Map<string, HeldDocument>;
  }

  async apply(batch: StoreBatch): Promise<void> {
    this.check();
    validateBatch(batch, this.model);
    const byTenant = new Map<string, DocumentRef[]>();
    for (const op of batch.ops) {
      const list = byTenant.get(op.tenant) ?? [];
      list.push(op);
      byTenant.set(op.tenant, list);
    }
    if (byTenant.size > 0) {
      await this.ensureTenants(byTenant.keys());
      const held = new Map<string, HeldDocument>();
      for (const [tenant, refs] of byTenant) for (const [k, v] of await this.load(tenant, refs)) held.set(k, v);
      // No transactions: every write is an idempotent upsert or delete by deterministic id, and upserts never touch an
      // id that is deleted, so they run concurrently. A batch interrupted half way is finished by replaying it (the
      // plan treats objects of any version but the recorded one as leftovers to delete).
      // All writes are settled before apply returns, failed or not, so a replay never races the writes it repeats.
      const results = await Promise.allSettled(
        planBatch(batch.ops, held).flatMap((plan) => [
          upsert(this.chunks(plan.tenant), plan.chunkUpserts),
          deleteIds(this.chunks(plan.tenant), plan.chunkDeletes),
          upsert(this.docs(plan.tenant), [...plan.pendingUpserts, ...plan.recordUpserts]),
          deleteIds(this.docs(plan.tenant), plan.pendingDeletes),
        ]),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
    // The checkpoint goes last: after a failure it still names a position whose batch will be replayed.
    const entries = Object.entries(batch.checkpoints ?? {});
    if (entries.length > 0) {
      const held = await this.checkpoints();
      const moved = entries.filter(([key, seq]) => seq > (held[key] ?? -1));
      await upsert(
        collection(this.client, this.names.state),
        moved.map(([key, seq]) => ({ id: checkpointObjectId(key), properties: { kind: 'checkpoint', name: key, seq } })),
      );
    }
  }

  async checkpoints(): Promise<Record<string, number>> {
    this.check();
    const state = collection(this.client, this.names.state);
    const objects = await fetchWhere(state, state.filter.byProperty('kind').equal('checkpoint'), ['name', 'seq']);
    return Object.fromEntries(objects.map((o) => [read.str(o.properties, 'name'), read.num(o.properties, 'seq')]));
  }

  /** Every document of every tenant with its current chunks and attached vectors, as digest documents. */
  private async *documents(): AsyncGenerator<DigestDocument> {
    await this.refreshTenants();
    for (const tenant of [...this.tenants].sort()) {
      const docs = new Map<string, DigestDocument & { chunks: DigestDocument['chunks'][number][]; vectors: DigestDocument['vectors'][number][] }>();
      for await (const o of scan(collection(this.client, this.names.docs, tenant), DOC_PROPS)) {
        const p = o.properties;
        if (read.str(p, 'kind') !== 'doc') continue;
        const record = docRecordFrom(p);
        const source = read.str(p, 'source');
        const docId = read.str(p, 'docId');
        docs.set(docKeyOf({ source, docId }), {
          tenant: read.str(p, 'tenant'),
          source,
          docId,
          docSeq: record.docSeq,
          deleted: record.deleted,
          title: record.title ?? null,
          url: record.url ?? null,
          metadata: record.metadata,
          totalChunks: record.totalChunks,
          chunks: [],
          vectors: [],
        });
      }
      for await (const o of scan(collection(this.client, this.names.chunks, tenant), CHUNK_PROPS)) {
        const p = o.properties;
        const doc = docs.get(docKeyOf({ source: read.str(p, 'source'), docId: read.str(p, 'docId') }));
        if (!doc || doc.deleted || read.num(p, 'docSeq') !== doc.docSeq) continue; // leftovers of an interrupted batch are not content
        const kind = read.str(p, 'kind');
        if (kind === 'chunk') {
          const c = storedChunkFrom(p);
          doc.chunks.push({ chunkId: c.chunkId, ordinal: c.ordinal, text: c.text, start: c.start, end: c.end, tokens: c.tokens, heading: c.heading ?? null });
        } else if (kind === 'window') {
          doc.vectors.push({ chunkId: read.str(p, 'chunkId'), window: read.num(p, 'window'), vector: vectorFromB64(read.str(p, 'vectorB64')) });
        }
      }
      yield* docs.values();
    }
  }

  async digest(): Promise<string> {
    this.check();
    const builder = new DigestBuilder();
    for await (const doc of this.documents()) builder.add(doc);
    return builder.digest();
  }

  async document(ref: DocumentRef): Promise<DocumentState | undefined> {
    this.check();
    if (!(await this.has(ref.tenant))) return undefined;
    const held = await this.docs(ref.tenant).query.fetchObjectById(docRecordId(ref.tenant, ref.source, ref.docId), { returnProperties: [...DOC_PROPS] });
    if (!held) return undefined;
    const record = docRecordFrom(held.properties);
    let chunks = 0;
    let vectors = 0;
    if (!record.deleted) {
      const coll = this.chunks(ref.tenant);
      const objects = await fetchByKeys(coll, 'docKey', [docKeyOf(ref)], ['kind', 'docSeq']);
      for (const o of objects) {
        if (read.num(o.properties, 'docSeq') !== record.docSeq) continue;
        const kind = read.str(o.properties, 'kind');
        if (kind === 'chunk') chunks++;
        else if (kind === 'window') vectors++;
      }
    }
    return { tenant: ref.tenant, source: ref.source, docId: ref.docId, docSeq: record.docSeq, deleted: record.deleted, chunks, vectors };
  }

  async stats(): Promise<StoreStats> {
    this.check();
    // One pass over the content; an aggregate per tenant would be cheaper on a large store (left for when it matters).
    const stats = { documents: 0, tombstones: 0, chunks: 0, vectors: 0, tenants: 0 };
    const liveTenants = new Set<string>();
    for await (const doc of this.documents()) {
      if (doc.deleted) stats.tombstones++;
      else {
        stats.documents++;
        liveTenants.add(doc.tenant);
      }
      stats.chunks += doc.chunks.length;
      stats.vectors += doc.vectors.length;
    }
    return { ...stats, tenants: liveTenants.size };
  }

  async keywordCandidates(request: KeywordRequest): Promise<Candidate[]> {
    this.check();
    return this.retriever.keywordCandidates(request, await this.has(request.tenant));
  }

  async vectorCandidates(request: CandidateRequest & { readonly vector: Float32Array }): Promise<Candidate[]> {
    this.check();
    return this.retriever.vectorCandidates(request, await this.has(request.tenant));
  }

  async hydrate(tenant: string, keys: readonly string[]): Promise<ChunkContent[]> {
    this.check();
    return this.retriever.hydrate(tenant, keys, await this.has(tenant));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.close();
  }

  private check(): void {
    if (this.closed) throw new Error(`Weaviate store ${this.names.chunks} is closed`);
  }
}
