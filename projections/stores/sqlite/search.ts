// The SQLite retriever: keyword candidates (FTS5 BM25), vector candidates (in-memory matrix) and hydration, scoped by tenant.
import type Database from 'better-sqlite3';
import { descending } from '../../../lib/compare.ts';
import type { Metadata } from '../../../streams/events/index.ts';
import { chunkKey, type Candidate, type CandidateRequest, type ChunkContent, type KeywordRequest, type SearchFilter } from '../../store.ts';
import type { DocumentFilterIndex } from './document-filter.ts';
import { expandQuery, RM3_SETTINGS, type FeedbackChunk } from './expansion.ts';
import { ftsMatchExpression, queryTerms } from './fts-query.ts';
import type { KeywordIndex, KeywordScore, Tokenizer } from './keyword-index.ts';
import { BM25_WEIGHTS, ftsTable } from './schema.ts';
import { filterCondition, type SqlCondition } from './sql-filter.ts';
import { isSimpleText, simpleTokens } from './tokenizer.ts';
import { normalisedCopy, type ChunkScore, type VectorIndex } from './vector-index.ts';

interface KeyRow {
  id: number;
  source: string;
  doc_id: string;
  chunk_id: string;
}

interface FeedbackRow {
  id: number;
  text: string;
  heading: string | null;
  title: string | null;
}

interface ContentRow {
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

const byScoreThenKey = (a: Candidate, b: Candidate): number => descending(a.score, b.score) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** The best `want` scores plus everything tied with the last, so the cut never depends on arrival order. */
function topWithTies(scores: ChunkScore[], want: number): ChunkScore[] {
  scores.sort((a, b) => descending(a.score, b.score));
  if (scores.length <= want) return scores;
  const boundary = (scores[want - 1] as ChunkScore).score;
  let end = want;
  while (end < scores.length && (scores[end] as ChunkScore).score >= boundary) end++;
  return scores.slice(0, end);
}

const STATEMENT_CACHE = 64;

/**
 * A filter with its SQL form for the queries FTS5 answers. Built for every filtered query, whichever index answers it:
 * building it validates the filter, so a caller of the store gets the same ValidationError on every path.
 */
interface Filter {
  readonly search: SearchFilter;
  readonly sql: SqlCondition;
}

const filterOf = (search: SearchFilter | undefined): Filter | undefined => (search ? { search, sql: filterCondition(search) } : undefined);

/** The in-memory keyword index a store keeps, while it may still be loading after open. */
export interface KeywordSide {
  readonly index: KeywordIndex;
  readonly tokenize: Tokenizer;
  /** False while the index loads: keyword queries are ranked by FTS5 meanwhile (the same scores). */
  loaded(): boolean;
  /** Ends the load at once (a query only the index can answer). */
  loadNow(): void;
}

export class Searcher {
  private readonly statements = new Map<string, Database.Statement<unknown[], unknown>>();
  private readonly tenantId: Database.Statement<[string], number>;
  private readonly feedbackRows: Database.Statement<[string], FeedbackRow>;
  private readonly keysOf: Database.Statement<[string], KeyRow>;
  private readonly contentByKey: Database.Statement<[string, string], ContentRow>;

  constructor(
    private readonly db: Database.Database,
    private readonly index: VectorIndex,
    /** Which live documents of a tenant a filter allows. */
    private readonly documents: DocumentFilterIndex,
    private readonly keywords: KeywordSide | undefined,
    /** Called before FTS5 is read, so it holds every committed chunk (a serving store queues its full-text rows). */
    private readonly beforeFullText: () => void = () => undefined,
  ) {
    this.tenantId = db.prepare<[string], number>('SELECT id FROM tenants WHERE name = ?').pluck();
    this.feedbackRows = db.prepare<[string], FeedbackRow>(
      `SELECT c.id, c.text, c.heading, d.title FROM chunks c JOIN documents d ON d.id = c.doc WHERE c.id IN (SELECT value FROM json_each(?))`,
    );
    this.keysOf = db.prepare<[string], KeyRow>(
      `SELECT c.id, d.source, d.doc_id, c.chunk_id FROM chunks c JOIN documents d ON d.id = c.doc
       WHERE c.id IN (SELECT value FROM json_each(?))`,
    );
    // Keys arrive as [source, docId, chunkId] triples; both joins use the unique indexes. CROSS JOIN keeps the keys the
    // outer loop: left to itself the planner scans every document of the tenant for each key (~200 ms at 50k chunks).
    this.contentByKey = db.prepare<[string, string], ContentRow>(
      `SELECT c.chunk_id, c.ordinal, c.text, c.heading, d.source, d.doc_id, d.doc_seq, d.title, d.url, d.metadata
       FROM json_each(?) k
       CROSS JOIN documents d ON d.tenant = ? AND d.source = k.value ->> 0 AND d.doc_id = k.value ->> 1 AND d.deleted = 0
       CROSS JOIN chunks c ON c.doc = d.id AND c.chunk_id = k.value ->> 2`,
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

  /** The tenant's best `limit` chunks by BM25 (FTS5, field weights in schema.ts), ties at the cut included. */
  keywordCandidates(request: KeywordRequest): Candidate[] {
    return this.keyword(request.tenant, request.text, filterOf(request.filter), request.limit, request.expansion === 'rm3');
  }

  /** The tenant's best `limit` chunks by cosine of their best window. */
  vectorCandidates(request: CandidateRequest & { readonly vector: Float32Array }): Candidate[] {
    return this.vector(request.tenant, filterOf(request.filter), normalisedCopy(request.vector), request.limit);
  }

  hydrate(tenant: string, keys: readonly string[]): ChunkContent[] {
    if (keys.length === 0) return [];
    const triples = keys.map((k) => k.split('\u0000'));
    return this.contentByKey.all(JSON.stringify(triples), tenant).map((r) => ({
      tenant,
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
    }));
  }

  /** Candidate keys of chunk rowids, in the order given (a rowid deleted meanwhile is left out). */
  private candidates(ranked: ReadonlyArray<{ id: number; score: number }>): Candidate[] {
    if (ranked.length === 0) return [];
    const index = this.keywords?.loaded() ? this.keywords.index : undefined;
    if (index) {
      // Every chunk row is in the keyword index with its key (a row deleted meanwhile is not).
      return ranked.flatMap((r) => {
        const key = index.keyOf(r.id);
        return key === undefined ? [] : [{ key, score: r.score }];
      });
    }
    const keys = new Map<number, string>();
    for (const row of this.keysOf.all(JSON.stringify(ranked.map((r) => r.id)))) keys.set(row.id, chunkKey(row.source, row.doc_id, row.chunk_id));
    return ranked.flatMap((r) => {
      const key = keys.get(r.id);
      return key === undefined ? [] : [{ key, score: r.score }];
    });
  }

  /**
   * Top `limit` chunks by BM25 in the tenant's own FTS table. Ties are broken by content, never by rowid: unfiltered,
   * the index is read alone and re-read with a larger limit while a tie straddles the cut; filtered, the join to the
   * documents is needed anyway and the SQL sort is total.
   */
  private keyword(tenantName: string, text: string, filter: Filter | undefined, limit: number, expand = false): Candidate[] {
    // Only the in-memory index expands queries: an expanded query ends its load rather than go unexpanded.
    if (expand && this.keywords && !this.keywords.loaded()) this.keywords.loadNow();
    const phrases = this.keywords?.loaded() ? this.singleTokenPhrases(text) : undefined;
    if (phrases && this.keywords) {
      // The in-memory index scores exactly what the FTS5 query below would (same tokens, weights, formula). It alone
      // expands queries: a query FTS5 must answer (a term of several tokens, or no in-memory index) is ranked unexpanded.
      const index = this.keywords.index.tenant(tenantName);
      if (!index || phrases.length === 0) return [];
      const allow = filter ? this.documents.tenant(tenantName).allowed(filter.search) : undefined;
      if (allow && allow.size === 0) return [];
      const admit = allow ? (doc: number) => allow.has(doc) : undefined;
      let scored = index.search(phrases, BM25_WEIGHTS, expand ? Math.max(limit, RM3_SETTINGS.feedbackChunks) : limit, admit);
      if (expand && scored.length > 0) {
        // The index returns its best in no particular order: feedback is the best few, ties by content key (the same in
        // every rebuild of the store, unlike row ids).
        const keyOf = (chunk: number) => this.keywords?.index.keyOf(chunk) ?? '';
        const best = [...scored].sort((a, b) => b.score - a.score || (keyOf(a.chunk) < keyOf(b.chunk) ? -1 : 1)).slice(0, RM3_SETTINGS.feedbackChunks);
        const expanded = expandQuery(phrases, this.feedback(best), (t) => index.idf(t));
        scored = index.search(expanded.tokens, BM25_WEIGHTS, limit, admit, expanded.weights);
      }
      return this.candidates(scored.map((s) => ({ id: s.chunk, score: s.score }))).sort(byScoreThenKey);
    }
    const tenant = this.tenantId.get(tenantName);
    if (tenant === undefined) return [];
    const match = ftsMatchExpression(text);
    if (match === undefined) return [];
    this.beforeFullText();
    const table = ftsTable(tenant);
    const { text: wText, title, heading } = BM25_WEIGHTS;
    const score = `-bm25(${table}, ${wText}, ${title}, ${heading})`;
    let ranked: { id: number; score: number }[];
    if (filter) {
      const sql = `SELECT c.id AS id, ${score} AS score
        FROM ${table} JOIN chunks c ON c.id = ${table}.rowid JOIN documents d ON d.id = c.doc
        WHERE ${table} MATCH ? AND ${filter.sql.sql}
        ORDER BY score DESC, d.source, d.doc_id, c.chunk_id LIMIT ?`;
      ranked = this.statement<{ id: number; score: number }>(sql).all(match, ...filter.sql.params, BigInt(limit));
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
    return this.candidates(ranked).sort(byScoreThenKey);
  }

  /**
   * The query's FTS5 phrases when each is one token (what the keyword index can score), in query order; undefined
   * when a term tokenizes to several tokens (an FTS5 phrase needs positions) or to none.
   */
  private singleTokenPhrases(text: string): string[] | undefined {
    const terms = queryTerms(text);
    if (terms.length === 0) return [];
    const tokens = this.keywords?.tokenize(terms) ?? [];
    if (tokens.some((t) => t.length !== 1)) return undefined;
    return tokens.map((t) => t[0] as string);
  }

  /** The indexed tokens (all columns) of first-pass hits, for query expansion, best first. */
  private feedback(hits: readonly KeywordScore[]): FeedbackChunk[] {
    const rows = new Map(this.feedbackRows.all(JSON.stringify(hits.map((h) => h.chunk))).map((r) => [r.id, r]));
    const tokenize = this.keywords?.tokenize;
    const tokensOf = (s: string | null, out: string[]) => {
      if (s === null || s.length === 0) return;
      if (isSimpleText(s)) simpleTokens(s, out);
      else if (tokenize) for (const t of tokenize([s])[0] ?? []) out.push(t); // no spread: a long chunk has many tokens
    };
    return hits.flatMap((h) => {
      const row = rows.get(h.chunk);
      if (!row) return [];
      const tokens: string[] = [];
      tokensOf(row.text, tokens);
      tokensOf(row.title, tokens);
      tokensOf(row.heading, tokens);
      return [{ score: h.score, tokens }];
    });
  }

  /** Top `limit` chunks by cosine of their best window; with a filter only the vectors it allows are scored. */
  private vector(tenant: string, filter: Filter | undefined, unit: Float32Array, limit: number): Candidate[] {
    const matrix = this.index.tenant(tenant);
    if (!matrix || matrix.size === 0) return [];
    let scores: ChunkScore[];
    if (filter) {
      // Filters are per document: the documents it allows, then the matrix keeps to their rows.
      scores = matrix.searchDocuments(unit, this.documents.tenant(tenant).allowed(filter.search), limit);
    } else {
      scores = matrix.search(unit, limit);
    }
    return this.candidates(topWithTies(scores, limit).map((s) => ({ id: s.chunk, score: s.score }))).sort(byScoreThenKey);
  }
}
