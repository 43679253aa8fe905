// Retrieval quality measures (pure): chunk hits to document rankings, nDCG/Recall/MRR at a cutoff, RRF, paired bootstrap, percentiles.
import { prng } from '../../lib/prng.ts';

/** A ranked chunk hit: the document it belongs to and its score (higher is better). */
export interface ChunkHit {
  readonly docId: string;
  readonly score: number;
}

/**
 * Document ranking from chunk hits, each document scored by its best chunk (max). Hits arrive best first, as a store
 * returns them, so a document's first appearance is its best; a stable sort keeps the store's order among equal scores.
 */
export function documentsByMaxScore(hits: readonly ChunkHit[]): string[] {
  const best = new Map<string, { score: number; order: number }>();
  hits.forEach((hit, order) => {
    const held = best.get(hit.docId);
    if (!held || hit.score > held.score) best.set(hit.docId, { score: hit.score, order: held?.order ?? order });
  });
  return [...best.entries()].sort((a, b) => b[1].score - a[1].score || a[1].order - b[1].order).map(([docId]) => docId);
}

export interface QueryScores {
  readonly ndcg: number;
  readonly recall: number;
  readonly mrr: number;
}

/** nDCG, Recall and MRR at `cutoff` with binary relevance; IDCG counts min(relevant, cutoff) ideal hits. */
export function scoreRanking(ranking: readonly string[], relevant: ReadonlySet<string>, cutoff = 10): QueryScores {
  if (relevant.size === 0) throw new Error('a query without relevant documents cannot be scored');
  let dcg = 0;
  let hits = 0;
  let mrr = 0;
  ranking.slice(0, cutoff).forEach((docId, i) => {
    if (!relevant.has(docId)) return;
    dcg += 1 / Math.log2(i + 2);
    hits += 1;
    if (mrr === 0) mrr = 1 / (i + 1);
  });
  let idcg = 0;
  for (let i = 0; i < Math.min(relevant.size, cutoff); i++) idcg += 1 / Math.log2(i + 2);
  return { ndcg: dcg / idcg, recall: hits / relevant.size, mrr };
}

/** Reciprocal rank fusion of rankings (ids best first): score(id) = Σ 1 / (k + rank), rank from 1. Ties by id. */
export function reciprocalRankFusion(rankings: readonly (readonly string[])[], k = 60): string[] {
  const scores = new Map<string, number>();
  for (const ranking of rankings) ranking.forEach((id, i) => scores.set(id, (scores.get(id) ?? 0) + 1 / (k + i + 1)));
  return [...scores.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([id]) => id);
}

export const mean = (values: readonly number[]): number => values.reduce((sum, v) => sum + v, 0) / Math.max(1, values.length);


export interface PairedComparison {
  /** mean(a) − mean(b) over the same queries. */
  readonly delta: number;
  /** 95% percentile bootstrap interval of the delta (queries resampled with replacement). */
  readonly ci95: readonly [number, number];
  readonly wins: number;
  readonly ties: number;
  readonly losses: number;
}

/** Compares per-query scores of two systems on the same queries (a vs b). */
export function pairedBootstrap(a: readonly number[], b: readonly number[], resamples = 2000, seed = 7): PairedComparison {
  if (a.length !== b.length || a.length === 0) throw new Error('paired comparison needs two equally long, non-empty score lists');
  const diffs = a.map((x, i) => x - (b[i] as number));
  const random = prng(seed);
  const means: number[] = [];
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    for (let i = 0; i < diffs.length; i++) sum += diffs[Math.floor(random() * diffs.length)] as number;
    means.push(sum / diffs.length);
  }
  means.sort((x, y) => x - y);
  const at = (q: number) => means[Math.min(means.length - 1, Math.floor(q * means.length))] as number;
  const eps = 1e-12;
  return {
    delta: mean(diffs),
    ci95: [at(0.025), at(0.975)],
    wins: diffs.filter((d) => d > eps).length,
    ties: diffs.filter((d) => Math.abs(d) <= eps).length,
    losses: diffs.filter((d) => d < -eps).length,
  };
}

/** The q-quantile (0..1) of `values` by nearest rank; NaN for an empty list. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] as number;
}
