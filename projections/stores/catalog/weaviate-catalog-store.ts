// The indexing catalog in Weaviate: one object per fact (UUIDv5 of its identity), checkpoints after the batch, writer marks for consistent snapshots.
import { randomUUID } from 'node:crypto';
import { Filters, type WeaviateClient } from 'weaviate-client';
import { ConfigError, UnavailableError } from '../../../lib/errors.ts';
import { catalogDigest, ErasureMarks, factOf, lineageOf, type CatalogFact, type CatalogStore, type DocumentLineage, type LineagePage } from '../../catalog.ts';
import type { CatalogOp } from '../../indexing.ts';
import type { DocumentRef, StoreBatch } from '../../store.ts';
import type { StoreConfig } from '../registry.ts';
import { connectWeaviate } from '../weaviate/connect.ts';
import { weaviateConfig, weaviateStoreFactory } from '../weaviate/factory.ts';
import { collection, deleteIds, fetchWhere, scan, upsert, type AnyCollection } from '../weaviate/io.ts';
import { checkpointObjectId, LAYOUT_OBJECT_ID } from '../weaviate/names.ts';
import type { ObjectWrite } from '../weaviate/plan.ts';
import { read } from '../weaviate/records.ts';
import { WEAVIATE_CATALOG_SCHEMA_VERSION, type CatalogStoreFactory, type OpenCatalogOptions } from './registry.ts';
import {
  catalogCollections,
  createCatalogCollections,
  docKeyOf,
  factObjectId,
  writerObjectId,
  type CatalogCollections,
} from './weaviate-catalog-schema.ts';

/** A writer mark still "writing" after this long belongs to a writer that died mid-batch; snapshots stop waiting for it. */
export const STALE_WRITER_MS = 60_000;

export interface WeaviateCatalogOptions {
  readonly client: WeaviateClient;
  readonly names: CatalogCollections;
  /** How long snapshot() keeps trying to read checkpoints and digest between batches (default 30 s). */
  readonly snapshotTimeoutMs?: number;
}

interface StateView {
  readonly checkpoints: Record<string, number>;
  /** Writer id → its mark (odd seq: a batch is being written; even: at rest) and when it was set (the writer's clock). */
  readonly writers: ReadonlyMap<string, { readonly seq: number; readonly at: number }>;
}

const sameState = (a: StateView, b: StateView): boolean => {
  const key = (s: StateView) => JSON.stringify([Object.entries(s.checkpoints).sort(), [...s.writers].map(([w, m]) => [w, m.seq]).sort()]);
  return key(a) === key(b);
};

/** Opens (creating if needed) a catalog generation's collections and checks they were made for this layout. */
export async function openWeaviateCatalogStore(options: WeaviateCatalogOptions): Promise<CatalogStore> {
  const { client, names } = options;
  await createCatalogCollections(client, names);
  const state = collection(client, names.state);
  const layout = JSON.stringify({ catalog: 'indexing', schemaVersion: WEAVIATE_CATALOG_SCHEMA_VERSION });
  const held = await state.query.fetchObjectById(LAYOUT_OBJECT_ID, { returnProperties: ['value'] });
  if (!held) await upsert(state, [{ id: LAYOUT_OBJECT_ID, properties: { kind: 'layout', name: 'layout', value: layout } }]);
  else if (read.str(held.properties, 'value') !== layout) {
    throw new ConfigError(`Weaviate collection ${names.facts} was built with ${read.str(held.properties, 'value')}, not ${layout}: build a new catalog generation (spanda replay --projection indexing)`);
  }
  return new WeaviateCatalogStore(client, names, options.snapshotTimeoutMs ?? 30_000);
}

/**
 * No transactions: every fact is an idempotent upsert by a deterministic id (a replayed event rewrites the same object,
 * a batch's duplicates collapse to the last, as SQLite's INSERT OR REPLACE does), and checkpoints move after the facts,
 * so replaying from a checkpoint is always safe. A reader that wants checkpoints and digest that belong together
 * (snapshot) needs more than "the checkpoints held still": facts land before their checkpoint. So each writer keeps a
 * mark in the state collection, a seqlock: odd while a batch is being written, even at rest; a snapshot reads marks,
 * checkpoints and digest, then the marks again, and keeps the reading only when no writer was mid-batch and none moved.
 */
class WeaviateCatalogStore implements CatalogStore {
  private readonly writer = randomUUID();
  private writes = 0;
  private closed = false;
  /** Whether the generation holds an erased fact (undefined until asked). */
  private holdsErasures: boolean | undefined;

  constructor(
    private readonly client: WeaviateClient,
    private readonly names: CatalogCollections,
    private readonly snapshotTimeoutMs: number,
  ) {}

  private get facts(): AnyCollection {
    return collection(this.client, this.names.facts);
  }
  private get state(): AnyCollection {
    return collection(this.client, this.names.state);
  }

  private check(): void {
    if (this.closed) throw new UnavailableError(`the indexing catalog ${this.names.facts} is closed; open it again`);
  }

  /** Moves this writer's mark to the next odd (writing) or even (at rest) number. */
  private async mark(writing: boolean): Promise<void> {
    this.writes += writing === (this.writes % 2 === 0) ? 1 : 2;
    await upsert(this.state, [
      { id: writerObjectId(this.writer), properties: { kind: 'writer', name: this.writer, seq: this.writes, value: JSON.stringify({ at: Date.now() }) } },
    ]);
  }

  async apply(batch: StoreBatch<CatalogOp>): Promise<void> {
    this.check();
    const erasures = await this.erasuresOf(batch.ops);
    const objects = new Map<string, ObjectWrite>();
    const forget: CatalogOp[] = [];
    for (const op of batch.ops) {
      const fact = factOf(op);
      if (erasures.erases(fact)) continue; // a version erased from the log, read late
      const id = factObjectId(fact);
      const docKey = docKeyOf(op.tenant, op.source, op.docId);
      objects.delete(id); // the last write of an identity wins, as in every catalog store
      objects.set(id, { id, properties: { kind: fact[0], docKey, tenant: op.tenant, source: op.source, docId: op.docId, docSeq: op.docSeq, fact: JSON.stringify(fact) } });
      if (!erasures.note(fact)) continue;
      forget.push(op);
      // Facts of this batch below the erasure go with those already stored.
      for (const [pending, o] of objects) if (o.properties.docKey === docKey && o.properties.kind !== 'erased' && (o.properties.docSeq as number) < op.docSeq) objects.delete(pending);
    }
    const entries = Object.entries(batch.checkpoints);
    if (objects.size === 0 && entries.length === 0) return;
    await this.mark(true);
    await upsert(this.facts, [...objects.values()]);
    for (const op of forget) await this.forgetBelow(op);
    if (entries.length > 0) {
      // Checkpoints only move forward (SQLite's max(seq, excluded.seq)), and go after the facts they cover.
      const held = (await this.readState()).checkpoints;
      const moved = entries.filter(([key, seq]) => seq > (held[key] ?? -1));
      if (moved.length > 0) await upsert(this.state, moved.map(([key, seq]) => ({ id: checkpointObjectId(key), properties: { kind: 'checkpoint', name: key, seq } })));
    }
    await this.mark(false);
  }

  /**
   * The erasures stored for the documents these ops are about (few: one per erased document), read per batch, and
   * only once the generation holds any (this store is its one writer, so it knows when it writes the first).
   */
  private async erasuresOf(ops: readonly CatalogOp[]): Promise<ErasureMarks> {
    const marks = new ErasureMarks();
    const erased = this.facts.filter.byProperty('kind').equal('erased');
    this.holdsErasures ??= (await this.facts.query.fetchObjects({ filters: erased, limit: 1, returnProperties: ['kind'] as never })).objects.length > 0;
    if (ops.some((op) => op.kind === 'erased')) this.holdsErasures = true;
    if (!this.holdsErasures) return marks;
    const keys = [...new Set(ops.map((op) => docKeyOf(op.tenant, op.source, op.docId)))];
    for (let i = 0; i < keys.length; i += 100) {
      const held = await fetchWhere(this.facts, Filters.and(this.facts.filter.byProperty('docKey').containsAny(keys.slice(i, i + 100)), erased), ['fact']);
      for (const o of held) marks.note(JSON.parse(read.str(o.properties, 'fact')) as CatalogFact);
    }
    return marks;
  }

  /** Deletes the document's facts below the erasure `op` (not erasures): by filter, as many rounds as the server's cap needs. */
  private async forgetBelow(op: CatalogOp): Promise<void> {
    const f = this.facts.filter;
    const below = Filters.and(f.byProperty('docKey').equal(docKeyOf(op.tenant, op.source, op.docId)), f.byProperty('docSeq').lessThan(op.docSeq), f.byProperty('kind').notEqual('erased'));
    for (;;) {
      const reply = await this.facts.data.deleteMany(below);
      if (reply.failed > 0) throw new Error(`Weaviate failed to delete ${reply.failed} of ${reply.matches} facts of an erased document`);
      if (reply.matches === 0 || reply.successful === 0) return;
    }
  }

  private async readState(): Promise<StateView> {
    const objects = await fetchWhere(this.state, this.state.filter.byProperty('kind').containsAny(['checkpoint', 'writer']), ['kind', 'name', 'seq', 'value']);
    const checkpoints: Record<string, number> = {};
    const writers = new Map<string, { seq: number; at: number }>();
    for (const o of objects) {
      const p = o.properties;
      if (read.str(p, 'kind') === 'checkpoint') checkpoints[read.str(p, 'name')] = read.num(p, 'seq');
      else writers.set(read.str(p, 'name'), { seq: read.num(p, 'seq'), at: read.json<{ at?: number }>(p, 'value', {}).at ?? 0 });
    }
    return { checkpoints, writers };
  }

  private async readDigest(): Promise<string> {
    const facts: CatalogFact[] = [];
    for await (const o of scan(this.facts, ['fact'])) facts.push(JSON.parse(read.str(o.properties, 'fact')) as CatalogFact);
    return catalogDigest(facts);
  }

  async checkpoints(): Promise<Record<string, number>> {
    this.check();
    return (await this.readState()).checkpoints;
  }

  async digest(): Promise<string> {
    this.check();
    return this.readDigest();
  }

  async snapshot(): Promise<{ checkpoints: Record<string, number>; digest: string }> {
    this.check();
    const deadline = Date.now() + this.snapshotTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      const before = await this.readState();
      const now = Date.now();
      const busy = [...before.writers.values()].some((m) => m.seq % 2 === 1 && now - m.at < STALE_WRITER_MS);
      if (!busy) {
        const digest = await this.readDigest();
        if (sameState(before, await this.readState())) return { checkpoints: before.checkpoints, digest };
      }
      if (Date.now() > deadline) {
        throw new UnavailableError(`the indexing catalog ${this.names.facts} was being written throughout ${Math.round(this.snapshotTimeoutMs / 1000)} s; retry when its projector is idle`);
      }
      await new Promise((r) => setTimeout(r, Math.min(25 * 2 ** attempt, 1000)));
    }
  }

  async lineage(ref: DocumentRef, page: LineagePage = {}): Promise<DocumentLineage | undefined> {
    this.check();
    const objects = await fetchWhere(this.facts, this.facts.filter.byProperty('docKey').equal(docKeyOf(ref.tenant, ref.source, ref.docId)), ['fact']);
    const facts = objects
      .map((o) => JSON.parse(read.str(o.properties, 'fact')) as CatalogFact)
      .filter((f) => f[1] === ref.tenant && f[2] === ref.source && f[3] === ref.docId);
    return lineageOf(ref, facts, page);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      // A writer at rest takes its mark away; one that failed mid-batch leaves it "writing" (stale after STALE_WRITER_MS).
      if (this.writes > 0 && this.writes % 2 === 0) await deleteIds(this.state, [writerObjectId(this.writer)]).catch(() => undefined);
    } finally {
      await this.client.close();
    }
  }
}

function catalogWeaviateConfig(config: StoreConfig): StoreConfig {
  if (!config.weaviate?.url) {
    throw new ConfigError('catalog store kind weaviate needs a Weaviate URL: set SPANDA_WEAVIATE_URL_INDEXING (or WEAVIATE_URL), e.g. http://localhost:8080');
  }
  return config;
}

export const weaviateCatalogFactory: CatalogStoreFactory = {
  kind: 'weaviate',
  schemaVersion: WEAVIATE_CATALOG_SCHEMA_VERSION,
  local: false,

  async open(options: OpenCatalogOptions): Promise<CatalogStore> {
    const client = await connectWeaviate(weaviateConfig(catalogWeaviateConfig(options.config)));
    try {
      return await openWeaviateCatalogStore({ client, names: catalogCollections(options.role, options.generation) });
    } catch (err) {
      await client.close();
      throw err;
    }
  },

  /**
   * Points `Spanda_<role>` (e.g. Spanda_indexing) at the generation's facts collection, and drops a generation while
   * refusing the alias target: the inference adapter's own, since a catalog generation uses the same collection names.
   */
  activate: async (options) => weaviateStoreFactory.activate?.({ ...options, config: catalogWeaviateConfig(options.config) }),
  drop: async (options) => weaviateStoreFactory.drop({ ...options, config: catalogWeaviateConfig(options.config) }),
};
