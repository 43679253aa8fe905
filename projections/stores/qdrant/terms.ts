// Keyword terms for Qdrant's sparse vectors: one tokenizer + stemmer for chunks and queries, BM25 term weights, term → index hashing.
import { contentTerms, words } from '../../../lib/text.ts';
import { porterStem } from './porter.ts';

/** BM25 term-frequency saturation and length normalisation (the usual defaults; Qdrant's own BM25 uses the same). */
export const BM25 = { k1: 1.2, b: 0.75 } as const;
/**
 * Qdrant keeps no document-length statistics, so the average length is fixed: about what one chunk of the default chunker
 * holds (800 characters ≈ 130–170 words). Chunks are bounded by the chunker, so lengths vary little around it.
 */
export const AVERAGE_CHUNK_WORDS = 150;
/** Field weights, as the SQLite store's FTS5 bm25() weights: a title word counts 1.5 times a body word. */
export const FIELD_WEIGHTS = { text: 1.0, title: 1.5, heading: 1.0 } as const;
/** Long pasted queries gain nothing from hundreds of terms (same cap as the SQLite store). */
export const MAX_QUERY_TERMS = 64;

export interface SparseVector {
  readonly indices: number[];
  readonly values: number[];
}

/** Diacritics removed (as FTS5's remove_diacritics), then Porter-stemmed. */
export function normaliseTerm(word: string): string {
  return porterStem(word.normalize('NFD').replace(/\p{M}+/gu, ''));
}

/** The indexed terms of a text: every word (stopwords too, so a query made only of stopwords still finds its text). */
export function indexTerms(text: string): string[] {
  return words(text).map(normaliseTerm).filter((t) => t.length > 0);
}

/** The distinct query terms: content words (stopwords dropped unless nothing else is left), normalised like indexed terms. */
export function queryTerms(text: string): string[] {
  return [...new Set(contentTerms(text).slice(0, MAX_QUERY_TERMS).map(normaliseTerm).filter((t) => t.length > 0))];
}

/** FNV-1a over the term's UTF-8 bytes: a stable u32 dimension per term (collisions merge two terms, rarely and harmlessly). */
export function termIndex(term: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(term, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function toSparse(weights: Map<number, number>): SparseVector {
  const entries = [...weights].sort((a, b) => a[0] - b[0]);
  return { indices: entries.map((e) => e[0]), values: entries.map((e) => e[1]) };
}

/**
 * A chunk's sparse vector: per term the BM25 saturated, length-normalised frequency over its fields (title and heading
 * weighted as above). Qdrant multiplies it by the query weight (1) and by the term's IDF (`modifier: idf`) at query time,
 * which makes the dot product BM25.
 */
export function documentVector(fields: { text: string; title?: string | null | undefined; heading?: string | null | undefined }): SparseVector {
  const tf = new Map<number, number>();
  let length = 0;
  const add = (value: string | null | undefined, weight: number) => {
    if (!value) return;
    const terms = indexTerms(value);
    length += terms.length;
    for (const t of terms) {
      const i = termIndex(t);
      tf.set(i, (tf.get(i) ?? 0) + weight);
    }
  };
  add(fields.text, FIELD_WEIGHTS.text);
  add(fields.title, FIELD_WEIGHTS.title);
  add(fields.heading, FIELD_WEIGHTS.heading);
  const norm = BM25.k1 * (1 - BM25.b + (BM25.b * length) / AVERAGE_CHUNK_WORDS);
  const weights = new Map<number, number>();
  for (const [i, f] of tf) weights.set(i, (f * (BM25.k1 + 1)) / (f + norm));
  return toSparse(weights);
}

/** The query's sparse vector (weight 1 per distinct term), or undefined when the text has no words. */
export function queryVector(text: string): SparseVector | undefined {
  const terms = queryTerms(text);
  if (terms.length === 0) return undefined;
  const weights = new Map<number, number>();
  for (const t of terms) weights.set(termIndex(t), 1);
  return toSparse(weights);
}
