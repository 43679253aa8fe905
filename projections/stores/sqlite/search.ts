// Keyword (FTS5 BM25), vector (in-memory matrix) and hybrid (fusion) search over the SQLite store, scoped by tenant.
import type Database from 'better-sqlite3';
import { ValidationError } from '../../../lib/errors.ts';
import { SEARCH_MODES, type Metadata } from '../../../streams/events/index.ts';
import { fuse } from '../../fusion.ts';
import type { SearchHit, SearchQuery } from '../../store.ts';
import { ftsMatchExpression } from './fts-query.ts';
import { BM25_WEIGHTS, ftsTable, type ModelSpec } from './schema.ts';
import { filterCondition, type SqlCondition } from './sql-filter.ts';
import { normalisedCopy, type ChunkScore, type VectorIndex } from './vector-index.ts';

/** Upper bound on k: hits are hydrated and sent whole, so a runaway k is refused rather than served slowly. */
export const MAX_K = 10_000;

interface HitRow {
  id: number;
  chunk_id: string;
  ordinal: number;
  text: string;
  heading: string | null;
  source: string;
  doc_id: string;
  doc_seq: number;
  title: string | null;
  url: string | null;
  metadata: string;
}

interface Scored {
  readonly row: HitRow;
  /** Content-based identity, the last tie-breaker, so a rebuilt store orders ties the same way. */
  readonly key: string;
  readonly score: number;
}

const keyOf = (row: HitRow): string => `${row.source}\u0000${row.doc_id}\u0000${row.chunk_id}`;

const byScoreThenKey = (a: Scored, b: Scored): number => b.score - a.score || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** The best `want` scores plus everything tied with the last, so the cut never depends on arrival order. */
function topWithTies(scores: ChunkScore[], want: number): ChunkScore[] {
  scores.sort((a, b) => b.score - a.score);
  if (scores.length <= want) return scores;
  const boundary = (scores[want - 1] as ChunkScore).score;
  let end = want;
  while (end < scores.length && (scores[end] as ChunkScore).score >= boundary) end++;
  return scores.slice(0, end);
}

const STATEMENT_CACHE = 64;

export class Searcher {
  private readonly statements = new Map<string, Database.Statement<unknown[], unknown>>();
  private readonly tenantId: Database.Statement<[string], number>;
  private readonly hydrate: Database.Statement<[string], HitRow>;

  constructor(
    private readonly db: Database.Database,
    private readonly index: VectorIndex,
    private readonly model: ModelSpec,
  ) {
    this.tenantId = db.prepare<[string], number>('SELECT id FROM tenants WHERE name = ?').pluck();
    this.hydrate = db.prepare<[string], HitRow>(
      `SELECT c.id, c.chunk_id, c.ordinal, c.text, c.heading, d.source, d.doc_id, d.doc_seq, d.title, d.url, d.metadata
       FROM chunks c JOIN documents d ON d.id = c.doc WHERE c.id IN (SELECT value FROM json_each(?))`,
    );
  }

  /** Statements differ by filter shape; keep the recent ones prepared. */
  private statement<R>(sql: string): Database.Statement<unknown[], R> {
    let stmt = this.statements.get(sql);
    if (stmt) {
      this.statements.delete(sql);
    } else {
      stmt = this.db.prepare(sql);
      if (this.statements.size >= STATEMENT_CACHE) {
        const oldest = this.statements.keys().next().value;
        if (oldest !== undefined) this.statements.delete(oldest);
      }
    }
    this.statements.set(sql, stmt);
    return stmt as Database.Statement<unknown[], R>;
  }

  search(query: SearchQuery): SearchHit[] {
    const vector = this.validate(query);
    // Built (and validated) before anything else, so a bad filter fails the same way whatever the mode or the data.
    const filter = query.filter ? filterCondition(query.filter) : undefined;
    const toHit = (s: Scored, score: number, scores: SearchHit['scores']): SearchHit => {
      const r = s.row;
      return {
        tenant: query.tenant,
        source: r.source,
        docId: r.doc_id,
        chunkId: r.chunk_id,
        docSeq: r.doc_seq,
        ordinal: r.ordinal,
        ...(r.title !== null ? { title: r.title } : {}),
        ...(r.url !== null ? { url: r.url } : {}),
        ...(r.heading !== null ? { heading: r.heading } : {}),
        text: r.text,
        metadata: JSON.parse(r.metadata) as Metadata,
        score,
        scores,
      };
    };

    if (query.mode === 'keyword') {
      return this.keyword(query, filter, query.k).map((s) => toHit(s, s.score, { keyword: s.score }));
    }
    if (query.mode === 'vector') {
      return this.vector(query, filter, vector as Float32Array, query.k).map((s) => toHit(s, s.score, { vector: s.score }));
    }
    const w = query.vectorWeight;
    const candidates = Math.max(query.candidates ?? Math.max(50, 5 * query.k), query.k);
    // A side with weight 0 cannot change the fused ranking, so it is not searched at all.
    const vectorSide = w > 0 ? this.vector(query, filter, vector as Float32Array, candidates) : [];
    const keywordSide = w < 1 ? this.keyword(query, filter, candidates) : [];
    const byKey = new Map<string, Scored>();
    for (const s of [...vectorSide, ...keywordSide]) byKey.set(s.key, s);
    const fused = fuse(
      vectorSide.map((s) => ({ id: s.key, score: s.score })),
      keywordSide.map((s) => ({ id: s.key, score: s.score })),
      { vectorWeight: w, k: query.k },
    );
    return fused.map((f) =>
      toHit(byKey.get(f.id) as Scored, f.score, {
        ...(f.vector !== undefined ? { vector: f.vector } : {}),
        ...(f.keyword !== undefined ? { keyword: f.keyword } : {}),
      }),
    );
  }

  /** Checks the query and returns the unit-length query vector when the mode needs one. */
  private validate(query: SearchQuery): Float32Array | undefined {
    const bad = (message: string, issue: string): never => {
      throw new ValidationError(message, [issue]);
    };
    if (typeof query.tenant !== 'string' || query.tenant.length === 0) bad('tenant must be a non-empty string', 'tenant: empty');
    if (!SEARCH_MODES.includes(query.mode)) bad(`mode must be one of ${SEARCH_MODES.join(', ')}`, 'mode: unknown');
    if (!Number.isInteger(query.k) || query.k < 1 || query.k > MAX_K) bad(`k must be an integer from 1 to ${MAX_K}, got ${query.k}`, 'k: out of range');
    if (typeof query.text !== 'string') bad('text must be a string', 'text: not a string');
    const w = query.vectorWeight;
    if (typeof w !== 'number' || !(w >= 0 && w <= 1)) bad(`vectorWeight must be between 0 and 1, got ${w}`, 'vectorWeight: out of range');
    if (query.candidates !== undefined && (!Number.isInteger(query.candidates) || query.candidates < 1 || query.candidates > 10 * MAX_K)) {
      bad(`candidates must be an integer from 1 to ${10 * MAX_K}, got ${query.candidates}`, 'candidates: out of range');
    }
    if (query.mode === 'keyword') return undefined;
    const v = query.vector;
    if (!(v instanceof Float32Array)) return bad(`${query.mode} search needs a query vector of the active model (${this.model.id})`, 'vector: missing');
    if (v.length !== this.model.dims) {
      bad(`query vector has ${v.length} dimensions, the store's model ${this.model.id} has ${this.model.dims}`, 'vector: wrong dimensions');
    }
    for (const x of v) if (!Number.isFinite(x)) bad('query vector contains a non-finite value', 'vector: not finite');
    return normalisedCopy(v);
  }

  private rows(ids: readonly number[]): Map<number, HitRow> {
    const rows = new Map<number, HitRow>();
    if (ids.length === 0) return rows;
    for (const row of this.hydrate.all(JSON.stringify(ids))) rows.set(row.id, row);
    return rows;
  }

  /**
   * Top `limit` chunks by BM25 in the tenant's own FTS table. Ties are broken by content, never by rowid: unfiltered,
   * the index is read alone and re-read with a larger limit while a tie straddles the cut; filtered, the join to the
   * documents is needed anyway and the SQL sort is total.
   */
  private keyword(query: SearchQuery, filter: SqlCondition | undefined, limit: number): Scored[] {
    const tenant = this.tenantId.get(query.tenant);
    if (tenant === undefined) return [];
    const match = ftsMatchExpression(query.text);
    if (match === undefined) return [];
    const table = ftsTable(tenant);
    const { text, title, heading } = BM25_WEIGHTS;
    const score = `-bm25(${table}, ${text}, ${title}, ${heading})`;
    let ranked: { id: number; score: number }[];
    if (filter) {
      const sql = `SELECT c.id AS id, ${score} AS score
        FROM ${table} JOIN chunks c ON c.id = ${table}.rowid JOIN documents d ON d.id = c.doc
        WHERE ${table} MATCH ? AND ${filter.sql}
        ORDER BY score DESC, d.source, d.doc_id, c.chunk_id LIMIT ?`;
      ranked = this.statement<{ id: number; score: number }>(sql).all(match, ...filter.params, BigInt(limit));
    } else {
      const stmt = this.statement<{ id: number; score: number }>(
        `SELECT rowid AS id, ${score} AS score FROM ${table} WHERE ${table} MATCH ? ORDER BY score DESC LIMIT ?`,
      );
      let fetch = limit + 1;
      for (;;) {
        ranked = stmt.all(match, BigInt(fetch));
        const last = ranked[ranked.length - 1];
        const boundary = ranked[limit - 1];
        if (ranked.length < fetch || !last || !boundary || last.score < boundary.score) break;
        fetch *= 2;
      }
      const cut = ranked[limit - 1]?.score;
      if (cut !== undefined) ranked = ranked.filter((r) => r.score >= cut);
    }
    const rows = this.rows(ranked.map((r) => r.id));
    const scored = ranked.flatMap((r) => {
      const row = rows.get(r.id);
      return row ? [{ row, key: keyOf(row), score: r.score }] : [];
    });
    return scored.sort(byScoreThenKey).slice(0, limit);
  }

  /** Top `limit` chunks by cosine of their best window; with a filter only the vectors it allows are scored. */
  private vector(query: SearchQuery, filter: SqlCondition | undefined, unit: Float32Array, limit: number): Scored[] {
    const matrix = this.index.tenant(query.tenant);
    if (!matrix || matrix.size === 0) return [];
    let scores: ChunkScore[];
    if (filter) {
      // Filters are per document, so SQL picks documents (cheap: one row each) and the matrix keeps to their rows.
      const sql = `SELECT d.id FROM documents d WHERE d.tenant = ? AND d.deleted = 0 AND ${filter.sql}`;
      const docs = new Set(this.statement<number>(sql).pluck().all(query.tenant, ...filter.params));
      scores = matrix.searchDocuments(unit, docs, limit);
    } else {
      scores = matrix.search(unit, limit);
    }
    const top = topWithTies(scores, limit);
    const rows = this.rows(top.map((s) => s.chunk));
    const scored = top.flatMap((s) => {
      const row = rows.get(s.chunk);
      return row ? [{ row, key: keyOf(row), score: s.score }] : [];
    });
    return scored.sort(byScoreThenKey).slice(0, limit);
  }
}
