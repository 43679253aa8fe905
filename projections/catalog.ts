// The indexing catalog's store contract and its canonical digest, the same for every store kind (sqlite, weaviate).
import { createHash } from 'node:crypto';
import type { CatalogOp } from './indexing.ts';
import type { DocumentRef, ProjectionStore } from './store.ts';

export const CATALOG_DIGEST_FORMAT = 'spanda-catalog-digest/1';

export interface StageFact {
  readonly at: string;
  readonly streamSeq: number;
}

/** What the catalog knows of one version of a document: each stage's part in it. */
export interface VersionLineage {
  readonly seq: number;
  readonly deleted: boolean;
  readonly publishedAt: string;
  readonly contentHash?: string;
  readonly title?: string;
  readonly chunked: ReadonlyArray<StageFact & { readonly chunker: string; readonly totalChunks: number; readonly chunkIds: readonly string[]; readonly complete: boolean }>;
  readonly removedBy: ReadonlyArray<StageFact & { readonly by: string }>;
  readonly embedded: ReadonlyArray<StageFact & { readonly model: string; readonly vectors: number; readonly complete: boolean }>;
}

/** Which versions of a document to tell: the newest `limit` (all when absent) older than version `before`. */
export interface LineagePage {
  readonly limit?: number;
  readonly before?: number;
}

/** What the catalog knows of one document: a page of its versions, how many it has, and its newest. */
export interface DocumentLineage extends DocumentRef {
  /** Versions the catalog holds for the document (a page may show fewer). */
  readonly versionCount: number;
  /** The newest version, whatever the page. */
  readonly latest: { readonly seq: number; readonly deleted: boolean };
  /** The page's versions, oldest first. */
  readonly versions: readonly VersionLineage[];
  /** Each `spanda erase` of the document: the versions before `before` were taken out of the log (ERASURES), oldest first. */
  readonly erasures: readonly ErasureFact[];
}

export interface ErasureFact {
  /** The deletion the erasure kept: every version below it is gone from the log and from the catalog. */
  readonly before: number;
  /** When the erasure was recorded, and its ERASURES sequence. */
  readonly at: string;
  readonly streamSeq: number;
}

/**
 * One fact as a canonical tuple. Facts are keyed by what makes them unique (a version; a chunker's part of a version;
 * a stage's removal; a model's part), so replaying an event rewrites the same fact and the order of events never
 * matters. Every catalog store enumerates its facts in this form for the digest.
 */
export type CatalogFact =
  | readonly ['version', string, string, string, number, boolean, string | null, string | null, string]
  | readonly ['chunked', string, string, string, number, string, number, number, number, readonly string[], number, string]
  | readonly ['removed', string, string, string, number, string, number, string]
  | readonly ['embedded', string, string, string, number, string, number, number, number, number, string]
  | readonly ['erased', string, string, string, number, number, string];

/** The fact a catalog op records (what a store writes, and what the digest of the log is built from). */
export function factOf(op: CatalogOp): CatalogFact {
  const key = [op.tenant, op.source, op.docId, op.docSeq] as const;
  switch (op.kind) {
    case 'published':
      return ['version', ...key, op.deleted, op.contentHash ?? null, op.title ?? null, op.at];
    case 'chunked':
      return ['chunked', ...key, op.chunker, op.part, op.parts, op.totalChunks, op.chunkIds, op.seq, op.at];
    case 'removed':
      return ['removed', ...key, op.by, op.seq, op.at];
    case 'embedded':
      return ['embedded', ...key, op.model, op.part, op.parts, op.vectors, op.seq, op.at];
    case 'erased':
      return ['erased', ...key, op.seq, op.at];
  }
}

/** The identity of a fact: two facts with the same identity are one (the later write wins, as in every store). */
export function factIdentity(fact: CatalogFact): string {
  switch (fact[0]) {
    case 'version':
      return JSON.stringify(fact.slice(0, 5));
    case 'chunked':
      return JSON.stringify(fact.slice(0, 7));
    case 'removed':
      return JSON.stringify(fact.slice(0, 6));
    case 'embedded':
      return JSON.stringify(fact.slice(0, 7));
    case 'erased':
      return JSON.stringify(fact.slice(0, 5));
  }
}

/** A document's key in an erasure map (see ErasureMarks). */
export const erasureKey = (tenant: string, source: string, docId: string): string => `${tenant}\u0000${source}\u0000${docId}`;

/**
 * What every catalog store does with erasures, whatever the order facts arrive in: an erased fact (kept, it is in the
 * log) makes the store forget the document's facts below its docSeq, and drop any that arrive later (a slice read
 * behind another, a replay folding one stream after the next). The facts of a document are then those at or above its
 * highest erasure, as the log itself holds after `spanda erase`.
 */
export class ErasureMarks {
  constructor(private readonly marks = new Map<string, number>()) {}

  copy(): ErasureMarks {
    return new ErasureMarks(new Map(this.marks));
  }

  /** Records an erased fact; true when it raises the document's mark (its facts below must go). */
  note(fact: CatalogFact): boolean {
    if (fact[0] !== 'erased') return false;
    const key = erasureKey(fact[1], fact[2], fact[3]);
    if ((this.marks.get(key) ?? 0) >= fact[4]) return false;
    this.marks.set(key, fact[4]);
    return true;
  }

  /** Whether a fact is about a version an erasure took out of the log. */
  erases(fact: CatalogFact): boolean {
    return fact[0] !== 'erased' && fact[4] < (this.marks.get(erasureKey(fact[1], fact[2], fact[3])) ?? 0);
  }
}

/** sha256 over the facts' JSON lines in code-unit order: equal facts ⇔ equal digest, whatever the store. */
export function catalogDigest(facts: Iterable<CatalogFact>): string {
  const lines: string[] = [];
  for (const fact of facts) lines.push(JSON.stringify(fact));
  lines.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const hash = createHash('sha256').update(`${CATALOG_DIGEST_FORMAT}\n`);
  for (const line of lines) hash.update(`${line}\n`);
  return `sha256:${hash.digest('hex')}`;
}

/**
 * Folds a document's facts into its lineage, telling the versions `page` asks for (shared by every catalog store, so
 * they answer alike). Facts are grouped by version once: a document with thousands of versions costs linear time.
 */
export function lineageOf(ref: DocumentRef, facts: readonly CatalogFact[], page: LineagePage = {}): DocumentLineage | undefined {
  const bySeq = factsBySeq(facts);
  const seqs = [...bySeq.keys()].sort((a, b) => a - b);
  const latest = seqs.at(-1);
  if (latest === undefined) return undefined;
  const shown = seqs.filter((seq) => page.before === undefined || seq < page.before);
  const whole = { versionCount: seqs.length, latest: { seq: latest, deleted: versionOf(latest, bySeq.get(latest) ?? []).deleted }, erasures: erasuresIn(facts) };
  return lineageFromPage(ref, facts, whole, page.limit === undefined ? shown : shown.slice(-page.limit));
}

/** The erasures among a document's facts, oldest first. */
export function erasuresIn(facts: readonly CatalogFact[]): ErasureFact[] {
  return facts
    .flatMap((f) => (f[0] === 'erased' ? [{ before: f[4], at: f[6], streamSeq: f[5] }] : []))
    .sort((a, b) => a.before - b.before || a.streamSeq - b.streamSeq);
}

/**
 * The lineage of a page of versions, from the facts of (at least) those versions and what the store counted of the
 * whole document: for stores that select the page in their own query.
 */
export function lineageFromPage(
  ref: DocumentRef,
  facts: readonly CatalogFact[],
  whole: Pick<DocumentLineage, 'versionCount' | 'latest' | 'erasures'>,
  seqs: readonly number[] = [...factsBySeq(facts).keys()].sort((a, b) => a - b),
): DocumentLineage {
  const bySeq = factsBySeq(facts);
  return { ...ref, ...whole, versions: seqs.map((seq) => versionOf(seq, bySeq.get(seq) ?? [])) };
}

/** The facts of each version; an erasure is about the versions below it, not a version of its own. */
function factsBySeq(facts: readonly CatalogFact[]): Map<number, CatalogFact[]> {
  const out = new Map<number, CatalogFact[]>();
  for (const f of facts) {
    if (f[0] === 'erased') continue;
    const list = out.get(f[4]);
    if (list) list.push(f);
    else out.set(f[4], [f]);
  }
  return out;
}

function versionOf(seq: number, mine: readonly CatalogFact[]): VersionLineage {
  const version = mine.find((f): f is Extract<CatalogFact, readonly ['version', ...unknown[]]> => f[0] === 'version');
  const chunked = mine.filter((f): f is Extract<CatalogFact, readonly ['chunked', ...unknown[]]> => f[0] === 'chunked');
  const removed = mine.filter((f): f is Extract<CatalogFact, readonly ['removed', ...unknown[]]> => f[0] === 'removed');
  const embedded = mine.filter((f): f is Extract<CatalogFact, readonly ['embedded', ...unknown[]]> => f[0] === 'embedded');
  const byChunker = groupBy(chunked, (f) => f[5]);
  const byModel = groupBy(embedded, (f) => f[5]);
  return {
    seq,
    deleted: version ? version[5] : false,
    publishedAt: version?.[8] ?? '',
    ...(version?.[6] ? { contentHash: version[6] } : {}),
    ...(version?.[7] ? { title: version[7] } : {}),
    chunked: [...byChunker].map(([chunker, parts]) => {
      const ordered = [...parts].sort((a, b) => a[6] - b[6]);
      return {
        chunker,
        at: maxOf(ordered.map((p) => p[11])),
        streamSeq: Math.max(...ordered.map((p) => p[10])),
        totalChunks: ordered[0]?.[8] ?? 0,
        chunkIds: ordered.flatMap((p) => [...p[9]]),
        complete: ordered.length === (ordered[0]?.[7] ?? 0),
      };
    }),
    removedBy: removed.map((f) => ({ by: f[5], at: f[7], streamSeq: f[6] })).sort((a, b) => (a.by < b.by ? -1 : 1)),
    embedded: [...byModel].map(([model, parts]) => ({
      model,
      at: maxOf(parts.map((p) => p[10])),
      streamSeq: Math.max(...parts.map((p) => p[9])),
      vectors: parts.reduce((a, p) => a + p[8], 0),
      complete: parts.length === (parts[0]?.[7] ?? 0),
    })),
  };
}

/** The catalog store contract: a projection store of catalog ops that can tell a document's lineage. */
export interface CatalogStore extends ProjectionStore<CatalogOp> {
  /** The document's lineage, the versions `page` asks for (all without one); undefined when the catalog has no fact of it. */
  lineage(ref: DocumentRef, page?: LineagePage): Promise<DocumentLineage | undefined>;
  /** Checkpoints and digest taken together (consistent while another process writes, or read until they hold still). */
  snapshot(): Promise<{ checkpoints: Record<string, number>; digest: string }>;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

const maxOf = (values: readonly string[]): string => values.reduce((a, b) => (b > a ? b : a), '');
