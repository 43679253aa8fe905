// Which live documents of a tenant a search filter allows, from an in-memory index of their sources, ids and metadata values.
import type Database from 'better-sqlite3';
import type { SearchFilter } from '../../store.ts';
import { METADATA_KEY } from './sql-filter.ts';

/** A document row written by a committed batch: its current source, id and metadata, or its removal (a tombstone). */
export type DocumentChange =
  | { readonly kind: 'put'; readonly tenant: string; readonly doc: number; readonly source: string; readonly docId: string; readonly metadata: Readonly<Record<string, unknown>> }
  | { readonly kind: 'remove'; readonly tenant: string; readonly doc: number };

const NONE: ReadonlySet<number> = new Set();

/**
 * A scalar's key among a metadata key's values: its JSON type and value, so true never equals 1 while 1 equals 1.0 (as
 * in projections/filter.ts metadataMatches, the reference every store is held to). Objects, arrays and null never match.
 */
function typed(value: unknown): string | undefined {
  if (typeof value === 'string') return `s${value}`;
  if (typeof value === 'number') return Number.isFinite(value) ? `n${value}` : undefined;
  if (typeof value === 'boolean') return value ? 'b1' : 'b0';
  return undefined;
}

function add<K>(map: Map<K, Set<number>>, key: K, doc: number): void {
  let docs = map.get(key);
  if (!docs) map.set(key, (docs = new Set()));
  docs.add(doc);
}

function drop<K>(map: Map<K, Set<number>>, key: K, doc: number): void {
  const docs = map.get(key);
  if (!docs) return;
  docs.delete(doc);
  if (docs.size === 0) map.delete(key);
}

/** The documents held under any of `keys` (the set itself when there is one key: callers only read it). */
function union<K>(map: ReadonlyMap<K, Set<number>>, keys: readonly K[]): ReadonlySet<number> {
  if (keys.length === 1) return map.get(keys[0] as K) ?? NONE;
  const out = new Set<number>();
  for (const key of keys) for (const doc of map.get(key) ?? NONE) out.add(doc);
  return out;
}

interface HeldDocument {
  readonly source: string;
  readonly docId: string;
  /** [metadata key, typed value] pairs it is indexed under. */
  readonly values: ReadonlyArray<readonly [string, string]>;
}

/** One tenant's live documents by source, id and each scalar metadata value (a stored array: each of its scalars). */
export class TenantDocuments {
  private readonly held = new Map<number, HeldDocument>();
  private readonly sources = new Map<string, Set<number>>();
  private readonly ids = new Map<string, Set<number>>();
  private readonly values = new Map<string, Map<string, Set<number>>>();

  get size(): number {
    return this.held.size;
  }

  put(doc: number, source: string, docId: string, metadata: Readonly<Record<string, unknown>>): void {
    this.remove(doc);
    const values: Array<readonly [string, string]> = [];
    for (const [key, value] of Object.entries(metadata)) {
      // A filter names only keys of this form: others can never be asked for.
      if (!METADATA_KEY.test(key)) continue;
      for (const v of Array.isArray(value) ? value : [value]) {
        const t = typed(v);
        if (t === undefined) continue;
        let byValue = this.values.get(key);
        if (!byValue) this.values.set(key, (byValue = new Map()));
        add(byValue, t, doc);
        values.push([key, t]);
      }
    }
    this.held.set(doc, { source, docId, values });
    add(this.sources, source, doc);
    add(this.ids, docId, doc);
  }

  remove(doc: number): void {
    const held = this.held.get(doc);
    if (!held) return;
    this.held.delete(doc);
    drop(this.sources, held.source, doc);
    drop(this.ids, held.docId, doc);
    for (const [key, t] of held.values) {
      const byValue = this.values.get(key);
      if (!byValue) continue;
      drop(byValue, t, doc);
      if (byValue.size === 0) this.values.delete(key);
    }
  }

  /**
   * The documents a validated filter allows: each condition ANDed, a list matching any of its values (an empty list
   * matches nothing), a metadata key matching a stored scalar equal to a value or a stored array holding one. The set
   * may be the index's own: read it before the next write.
   */
  allowed(filter: SearchFilter): ReadonlySet<number> {
    const sets: Array<ReadonlySet<number>> = [];
    if (filter.source) sets.push(union(this.sources, filter.source));
    if (filter.docId) sets.push(union(this.ids, filter.docId));
    for (const [key, raw] of Object.entries(filter.metadata ?? {})) {
      const wanted = (Array.isArray(raw) ? raw : [raw]).map(typed).filter((t): t is string => t !== undefined);
      const byValue = this.values.get(key);
      sets.push(byValue ? union(byValue, wanted) : NONE);
    }
    if (sets.length === 0) return new Set(this.held.keys());
    sets.sort((a, b) => a.size - b.size);
    const [smallest, ...rest] = sets as [ReadonlySet<number>, ...ReadonlySet<number>[]];
    if (rest.length === 0) return smallest;
    const out = new Set<number>();
    for (const doc of smallest) if (rest.every((s) => s.has(doc))) out.add(doc);
    return out;
  }
}

/**
 * The live documents of the tenants a filter has been asked of, kept current by every committed batch. A tenant is read
 * from SQLite the first time (its documents' metadata parsed once), then follows the batches; tenants never filtered
 * cost nothing. Before, SQL parsed every document's metadata for each filter it had not answered since the last write
 * (~6-8 ms at 5,000 documents a tenant), so under ingest nearly every filtered query paid it.
 */
export class DocumentFilterIndex {
  private readonly tenants = new Map<string, TenantDocuments>();
  private readonly liveOf: Database.Statement<[string], { id: number; source: string; doc_id: string; metadata: string }>;

  constructor(db: Database.Database) {
    this.liveOf = db.prepare('SELECT id, source, doc_id, metadata FROM documents WHERE tenant = ? AND deleted = 0');
  }

  /** The tenant's documents, read from the file on first use. */
  tenant(name: string): TenantDocuments {
    let docs = this.tenants.get(name);
    if (!docs) {
      docs = new TenantDocuments();
      for (const row of this.liveOf.iterate(name)) docs.put(row.id, row.source, row.doc_id, JSON.parse(row.metadata) as Record<string, unknown>);
      this.tenants.set(name, docs);
    }
    return docs;
  }

  /** Follows a committed batch (tenants not read yet are read as they then are, when first asked). */
  apply(changes: readonly DocumentChange[]): void {
    for (const change of changes) {
      const docs = this.tenants.get(change.tenant);
      if (!docs) continue;
      if (change.kind === 'put') docs.put(change.doc, change.source, change.docId, change.metadata);
      else docs.remove(change.doc);
    }
  }
}
