// Hybrid retrieval fusion: weighted min-max fusion of a vector and a keyword candidate list (pure).
import { descending } from '../lib/compare.ts';
import { ValidationError } from '../lib/errors.ts';

/** One candidate from one side; `id` is unique per chunk and is the last tie-breaker, so make it content-based. */
export interface RankedCandidate {
  readonly id: string;
  /** Raw score of that side (cosine, BM25); higher is better. */
  readonly score: number;
}

export interface FusedCandidate {
  readonly id: string;
  /** w·v + (1−w)·kw over the min-max normalised side scores. */
  readonly score: number;
  /** Raw side scores, present when the candidate came from that side. */
  readonly vector?: number;
  readonly keyword?: number;
}

export interface FusionOptions {
  /** Weight of the vector side, 0..1 (from the embedding model's profile). */
  readonly vectorWeight: number;
  /** How many fused candidates to return. */
  readonly k: number;
}

interface Entry {
  id: string;
  vector?: number;
  keyword?: number;
  vNorm: number;
  kNorm: number;
}

/** Best score per id (a side may list a chunk twice, e.g. once per window), ignoring non-finite scores. */
function bestPerId(hits: readonly RankedCandidate[]): Map<string, number> {
  const best = new Map<string, number>();
  for (const hit of hits) {
    if (!Number.isFinite(hit.score)) continue;
    const held = best.get(hit.id);
    if (held === undefined || hit.score > held) best.set(hit.id, hit.score);
  }
  return best;
}

/** Min-max to [0,1]; a side with one candidate or all-equal scores gives every candidate 1 (they all top that side). */
function normaliser(scores: Iterable<number>): (score: number) => number {
  let min = Infinity;
  let max = -Infinity;
  for (const s of scores) {
    if (s < min) min = s;
    if (s > max) max = s;
  }
  const range = max - min;
  if (!(range > 0)) return () => 1;
  return (score) => (score - min) / range;
}

/**
 * Fuses two candidate lists. A side with weight 0 contributes neither candidates nor tie-breaks, so w = 0 is exactly
 * the keyword ranking and w = 1 exactly the vector ranking. Ties: fused score, then keyword score, then vector score,
 * then id (so the order never depends on input order).
 */
export function fuse(
  vectorHits: readonly RankedCandidate[],
  keywordHits: readonly RankedCandidate[],
  options: FusionOptions,
): FusedCandidate[] {
  const w = options.vectorWeight;
  if (!Number.isFinite(w) || w < 0 || w > 1) {
    throw new ValidationError(`vectorWeight must be between 0 and 1, got ${w}`, ['vectorWeight: out of range']);
  }
  if (!Number.isInteger(options.k) || options.k < 0) {
    throw new ValidationError(`k must be a non-negative integer, got ${options.k}`, ['k: not a non-negative integer']);
  }
  const vector = w > 0 ? bestPerId(vectorHits) : new Map<string, number>();
  const keyword = w < 1 ? bestPerId(keywordHits) : new Map<string, number>();
  const vNorm = normaliser(vector.values());
  const kNorm = normaliser(keyword.values());

  const entries = new Map<string, Entry>();
  for (const [id, score] of vector) entries.set(id, { id, vector: score, vNorm: vNorm(score), kNorm: 0 });
  for (const [id, score] of keyword) {
    const held = entries.get(id);
    if (held) {
      held.keyword = score;
      held.kNorm = kNorm(score);
    } else {
      entries.set(id, { id, keyword: score, vNorm: 0, kNorm: kNorm(score) });
    }
  }

  const fused = [...entries.values()].map((e) => ({ entry: e, score: w * e.vNorm + (1 - w) * e.kNorm }));
  fused.sort((a, b) => {
    if (a.score !== b.score) return descending(a.score, b.score);
    const ka = a.entry.keyword ?? -Infinity;
    const kb = b.entry.keyword ?? -Infinity;
    if (ka !== kb) return kb - ka;
    const va = a.entry.vector ?? -Infinity;
    const vb = b.entry.vector ?? -Infinity;
    if (va !== vb) return vb - va;
    return a.entry.id < b.entry.id ? -1 : a.entry.id > b.entry.id ? 1 : 0;
  });

  return fused.slice(0, options.k).map(({ entry, score }) => ({
    id: entry.id,
    score,
    ...(entry.vector !== undefined ? { vector: entry.vector } : {}),
    ...(entry.keyword !== undefined ? { keyword: entry.keyword } : {}),
  }));
}
