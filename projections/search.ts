// Retrieval above every store: validate the query, ask the retriever for keyword and vector candidates, fuse once, hydrate.
import { descending } from '../lib/compare.ts';
import { ValidationError } from '../lib/errors.ts';
import { SEARCH_MODES } from '../streams/events/index.ts';
import { matchesNothing, validateFilter } from './filter.ts';
import { fuse, type RankedCandidate } from './fusion.ts';
import { chunkKey, type Candidate, type ChunkContent, type Retriever, type SearchFilter, type SearchHit, type SearchOptions, type SearchQuery } from './store.ts';

export type { SearchOptions } from './store.ts';

/** Upper bound on k: hits are hydrated and sent whole, so a runaway k is refused rather than served slowly. */
export const MAX_K = 10_000;

function bad(message: string, issue: string): never {
  throw new ValidationError(message, [issue]);
}

/** A unit-length copy of the query vector, after checking it belongs to the retriever's model. */
function unitQueryVector(model: Retriever['model'], query: SearchQuery): Float32Array {
  const v = query.vector;
  if (!(v instanceof Float32Array)) return bad(`${query.mode} search needs a query vector of the active model (${model.id})`, 'vector: missing');
  if (v.length !== model.dims) bad(`query vector has ${v.length} dimensions, the store's model ${model.id} has ${model.dims}`, 'vector: wrong dimensions');
  let norm = 0;
  for (const x of v) {
    if (!Number.isFinite(x)) bad('query vector contains a non-finite value', 'vector: not finite');
    norm += x * x;
  }
  const out = new Float32Array(v.length);
  if (norm === 0) return out;
  const scale = 1 / Math.sqrt(norm);
  for (let i = 0; i < v.length; i++) out[i] = (v[i] as number) * scale;
  return out;
}

export function validateQuery(query: SearchQuery): void {
  if (typeof query.tenant !== 'string' || query.tenant.length === 0) bad('tenant must be a non-empty string', 'tenant: empty');
  if (!SEARCH_MODES.includes(query.mode)) bad(`mode must be one of ${SEARCH_MODES.join(', ')}`, 'mode: unknown');
  if (!Number.isInteger(query.k) || query.k < 1 || query.k > MAX_K) bad(`k must be an integer from 1 to ${MAX_K}, got ${query.k}`, 'k: out of range');
  if (typeof query.text !== 'string') bad('text must be a string', 'text: not a string');
  const w = query.vectorWeight;
  if (typeof w !== 'number' || !(w >= 0 && w <= 1)) bad(`vectorWeight must be between 0 and 1, got ${w}`, 'vectorWeight: out of range');
  if (query.candidates !== undefined && (!Number.isInteger(query.candidates) || query.candidates < 1 || query.candidates > 10 * MAX_K)) {
    bad(`candidates must be an integer from 1 to ${10 * MAX_K}, got ${query.candidates}`, 'candidates: out of range');
  }
}

const byScoreThenKey = (a: Candidate, b: Candidate): number => descending(a.score, b.score) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** Best score per key (a store may list a chunk once per window), best first, ties by key: a total order. */
export function rankCandidates(candidates: readonly Candidate[]): Candidate[] {
  const best = new Map<string, number>();
  for (const c of candidates) {
    if (!Number.isFinite(c.score)) continue;
    const held = best.get(c.key);
    if (held === undefined || c.score > held) best.set(c.key, c.score);
  }
  return [...best].map(([key, score]) => ({ key, score })).sort(byScoreThenKey);
}

/** The document part of a chunk key (source and doc id). */
const documentOf = (key: string): string => key.slice(0, key.lastIndexOf('\u0000'));

/** Best chunk per document, best first (input is ranked best first, so the first chunk seen for a document is its best). */
export function collapseToDocuments(ranked: readonly Candidate[]): Candidate[] {
  const seen = new Set<string>();
  return ranked.filter((c) => {
    const doc = documentOf(c.key);
    if (seen.has(doc)) return false;
    seen.add(doc);
    return true;
  });
}

/** The doc id part of a chunk key. */
const docIdOf = (key: string): string => key.split('\u0000')[1] as string;

/**
 * Vector scores (best chunk) of the keyword candidates the vector side did not list, asked with a docId filter (ANDed
 * with the user's filter, intersecting a docId list it already has). A document without vectors stays without.
 */
async function vectorScoresOf(
  keywordSide: readonly Candidate[],
  vectorSide: readonly Candidate[],
  filter: SearchFilter | undefined,
  vector: (limit: number, f: SearchFilter) => Promise<Candidate[]>,
): Promise<Candidate[]> {
  const listed = new Set(vectorSide.map((c) => documentOf(c.key)));
  const missing = keywordSide.filter((c) => !listed.has(documentOf(c.key)));
  if (missing.length === 0) return [];
  let ids = [...new Set(missing.map((c) => docIdOf(c.key)))];
  if (filter?.docId) {
    const allowed = new Set(filter.docId);
    ids = ids.filter((id) => allowed.has(id));
  }
  if (ids.length === 0) return [];
  const wanted = new Set(missing.map((c) => documentOf(c.key)));
  // A document id may exist in several sources: keep only the documents that were keyword candidates.
  const found = await vector(ids.length * 16, { ...filter, docId: ids });
  return found.filter((c) => wanted.has(documentOf(c.key)));
}

/**
 * Runs a search against any retriever. Keyword and vector modes rank one side by its raw score; hybrid asks both sides
 * at once (a side whose weight is 0 cannot change the ranking and is not asked) and fuses them with the model's weight.
 */
export async function search(retriever: Retriever, query: SearchQuery, options: SearchOptions = {}): Promise<SearchHit[]> {
  if (retriever.search) return retriever.search(query, options);
  validateQuery(query);
  const filter: SearchFilter | undefined = query.filter ? validateFilter(query.filter) : undefined;
  const unit = query.mode === 'keyword' ? undefined : unitQueryVector(retriever.model, query);
  if (matchesNothing(filter)) return [];
  const base = { tenant: query.tenant, ...(filter ? { filter } : {}) };
  const perDocument = options.perDocument === true;
  const collapse = (cs: Candidate[]) => (perDocument ? collapseToDocuments(cs) : cs);
  const expansion = options.keywordExpansion !== undefined && options.keywordExpansion !== 'none' ? { expansion: options.keywordExpansion } : {};
  const keyword = (limit: number) =>
    retriever.keywordCandidates({ ...base, limit, text: query.text, ...expansion }).then(rankCandidates).then(collapse);
  const vector = (limit: number, f: SearchFilter | undefined = filter) =>
    retriever.vectorCandidates({ tenant: query.tenant, ...(f ? { filter: f } : {}), limit, vector: unit as Float32Array }).then(rankCandidates).then(collapse);
  // Per document, a side must read deeper than k chunks to find k documents (several chunks of one document may lead).
  const sideLimit = (k: number) => (perDocument ? Math.max(k * 4, 40) : k);

  let ranked: Array<{ key: string; score: number; scores: SearchHit['scores'] }>;
  if (query.mode === 'keyword') {
    ranked = (await keyword(sideLimit(query.k))).slice(0, query.k).map((c) => ({ key: c.key, score: c.score, scores: { keyword: c.score } }));
  } else if (query.mode === 'vector') {
    ranked = (await vector(sideLimit(query.k))).slice(0, query.k).map((c) => ({ key: c.key, score: c.score, scores: { vector: c.score } }));
  } else {
    const w = query.vectorWeight;
    let vectorSide: Candidate[];
    let keywordSide: Candidate[];
    if (perDocument) {
      const docs = Math.max(query.candidates ?? options.documentCandidates ?? Math.max(100, 10 * query.k), query.k);
      // ~3 chunks a document: read 3× as many chunks to find `docs` documents.
      [vectorSide, keywordSide] = await Promise.all([w > 0 ? vector(3 * docs) : [], w < 1 ? keyword(3 * docs) : []]);
      vectorSide = vectorSide.slice(0, docs);
      keywordSide = keywordSide.slice(0, docs);
      if (w > 0 && w < 1) vectorSide = [...vectorSide, ...(await vectorScoresOf(keywordSide, vectorSide, filter, vector))];
    } else {
      const limit = Math.max(query.candidates ?? Math.max(50, 5 * query.k), query.k);
      [vectorSide, keywordSide] = await Promise.all([w > 0 ? vector(limit) : [], w < 1 ? keyword(limit) : []]);
    }
    // Fused by document: the representative chunk is the keyword side's best (it holds the query's words), else the vector side's.
    const idOf = (c: Candidate) => (perDocument ? documentOf(c.key) : c.key);
    const representative = new Map<string, string>();
    for (const c of [...vectorSide, ...keywordSide]) representative.set(idOf(c), c.key);
    const asRanked = (cs: Candidate[]): RankedCandidate[] => cs.map((c) => ({ id: idOf(c), score: c.score }));
    ranked = fuse(asRanked(vectorSide), asRanked(keywordSide), { vectorWeight: w, k: query.k }).map((f) => ({
      key: representative.get(f.id) ?? f.id,
      score: f.score,
      scores: { ...(f.vector !== undefined ? { vector: f.vector } : {}), ...(f.keyword !== undefined ? { keyword: f.keyword } : {}) },
    }));
  }
  if (ranked.length === 0) return [];
  const contents = await retriever.hydrate(query.tenant, ranked.map((r) => r.key));
  const byKey = new Map<string, ChunkContent>(contents.map((c) => [chunkKey(c.source, c.docId, c.chunkId), c]));
  return ranked.flatMap((r) => {
    const content = byKey.get(r.key);
    return content ? [{ ...content, tenant: query.tenant, score: r.score, scores: r.scores }] : [];
  });
}
