// The SQLite retriever: keyword candidates (in-memory BM25), vector candidates (in-memory matrix) and hydration, scoped by tenant.
import type Database from 'better-sqlite3';
import { descending } from '../../../lib/compare.ts';
import type { Metadata } from '../../../streams/events/index.ts';
import { chunkKey, type Candidate, type CandidateRequest, type ChunkContent, type KeywordRequest, type SearchFilter } from '../../store.ts';
import type { DocumentFilterIndex } from './document-filter.ts';
import { expandQuery, RM3_SETTINGS, type FeedbackChunk } from './expansion.ts';
import { queryTerms } from './query-terms.ts';
import type { KeywordIndex, KeywordScore, Tokenizer } from './keyword-index.ts';
import { BM25_WEIGHTS } from './schema.ts';
import { filterCondition } from './sql-filter.ts';
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

/** A filter, validated: building its SQL form checks every key and value, so every search path rejects the same filters. */
function checkedFilter(filter: SearchFilter | undefined): SearchFilter | undefined {
  if (filter) filterCondition(filter);
  return filter;
}

/** The in-memory keyword index a store keeps, while it may still be loading after open. */
export interface KeywordSide {
  readonly index: KeywordIndex;
  readonly tokenize: Tokenizer;
  /** False while the index loads after open. */
  loaded(): boolean;
  /** Ends the load at once (a keyword query), or throws why it cannot. */
  loadNow(): void;
}

export class Searcher {
  private readonly feedbackRows: Database.Statement<[string], FeedbackRow>;
  private readonly keysOf: Database.Statement<[string], KeyRow>;
  private readonly contentByKey: Database.Statement<[string, string], ContentRow>;

  constructor(
    db: Database.Database,
    private readonly index: VectorIndex,
    /** Which live documents of a tenant a filter allows. */
    private readonly documents: DocumentFilterIndex,
    private readonly keywords: KeywordSide | undefined,
  ) {
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

  /** The tenant's best `limit` chunks by BM25 (field weights in schema.ts), ties at the cut included. */
  keywordCandidates(request: KeywordRequest): Candidate[] {
    return this.keyword(request.tenant, request.text, checkedFilter(request.filter), request.limit, request.expansion === 'rm3');
  }

  /** The tenant's best `limit` chunks by cosine of their best window. */
  vectorCandidates(request: CandidateRequest & { readonly vector: Float32Array }): Candidate[] {
    return this.vector(request.tenant, checkedFilter(request.filter), normalisedCopy(request.vector), request.limit);
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
   * Top `limit` chunks by BM25 over the tenant's rows in the keyword index, ties at the cut included; with RM3, the
   * query expanded from its best hits and ranked again. A query while the index is still loading after open ends the
   * load first.
   */
  private keyword(tenantName: string, text: string, filter: SearchFilter | undefined, limit: number, expand = false): Candidate[] {
    const keywords = this.keywords;
    if (!keywords) return [];
    if (!keywords.loaded()) keywords.loadNow();
    const tokens = this.queryTokens(text, keywords.tokenize);
    const index = keywords.index.tenant(tenantName);
    if (!index || tokens.length === 0) return [];
    const allow = filter ? this.documents.tenant(tenantName).allowed(filter) : undefined;
    if (allow && allow.size === 0) return [];
    const admit = allow ? (doc: number) => allow.has(doc) : undefined;
    let scored = index.search(tokens, BM25_WEIGHTS, expand ? Math.max(limit, RM3_SETTINGS.feedbackChunks) : limit, admit);
    if (expand && scored.length > 0) {
      // The index returns its best in no particular order: feedback is the best few, ties by content key (the same in
      // every rebuild of the store, unlike row ids).
      const keyOf = (chunk: number) => keywords.index.keyOf(chunk) ?? '';
      const best = [...scored].sort((a, b) => b.score - a.score || (keyOf(a.chunk) < keyOf(b.chunk) ? -1 : 1)).slice(0, RM3_SETTINGS.feedbackChunks);
      const expanded = expandQuery(tokens, this.feedback(best), (t) => index.idf(t));
      scored = index.search(expanded.tokens, BM25_WEIGHTS, limit, admit, expanded.weights);
    }
    return this.candidates(scored.map((s) => ({ id: s.chunk, score: s.score }))).sort(byScoreThenKey);
  }

  /**
   * The index tokens of the query's terms, in query order (a token may repeat: two words may stem alike). A word the
   * tokenizer splits further (U+0305, a combining mark it takes as a separator) searches for each of its tokens, as
   * Lucene's query parser does by default.
   */
  private queryTokens(text: string, tokenize: Tokenizer): string[] {
    const terms = queryTerms(text);
    return terms.length === 0 ? [] : tokenize(terms).flat();
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
  private vector(tenant: string, filter: SearchFilter | undefined, unit: Float32Array, limit: number): Candidate[] {
    const matrix = this.index.tenant(tenant);
    if (!matrix || matrix.size === 0) return [];
    let scores: ChunkScore[];
    if (filter) {
      // Filters are per document: the documents it allows, then the matrix keeps to their rows.
      scores = matrix.searchDocuments(unit, this.documents.tenant(tenant).allowed(filter), limit);
    } else {
      scores = matrix.search(unit, limit);
    }
    return this.candidates(topWithTies(scores, limit).map((s) => ({ id: s.chunk, score: s.score }))).sort(byScoreThenKey);
  }
}
