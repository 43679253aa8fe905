// Unit tests of the retrieval measures the SciFact benchmark reports (correctness of the arithmetic, never of timings).
import { describe, expect, it } from 'vitest';
import { documentsByMaxScore, pairedBootstrap, reciprocalRankFusion, scoreRanking } from './metrics.ts';

describe('documentsByMaxScore', () => {
  it('ranks each document by its best chunk, once', () => {
    const hits = [
      { docId: 'a', score: 9 },
      { docId: 'b', score: 8 },
      { docId: 'a', score: 7 },
      { docId: 'c', score: 8 },
    ];
    expect(documentsByMaxScore(hits)).toEqual(['a', 'b', 'c']);
  });
});

describe('scoreRanking', () => {
  it('gives 1 for a perfect ranking and 0 when nothing relevant is in the cutoff', () => {
    expect(scoreRanking(['x', 'y'], new Set(['x']))).toEqual({ ndcg: 1, recall: 1, mrr: 1 });
    expect(scoreRanking(['a', 'b', 'x'], new Set(['x']), 2)).toEqual({ ndcg: 0, recall: 0, mrr: 0 });
  });

  it('discounts by log2(rank + 1) and normalises by the ideal ranking of all relevant documents', () => {
    const s = scoreRanking(['a', 'x', 'b', 'y'], new Set(['x', 'y']), 10);
    const dcg = 1 / Math.log2(3) + 1 / Math.log2(5);
    const idcg = 1 + 1 / Math.log2(3);
    expect(s.ndcg).toBeCloseTo(dcg / idcg, 12);
    expect(s.recall).toBe(1);
    expect(s.mrr).toBe(0.5);
  });

  it('counts half recall when one of two relevant documents is retrieved', () => {
    expect(scoreRanking(['x'], new Set(['x', 'y'])).recall).toBe(0.5);
  });
});

describe('reciprocalRankFusion', () => {
  it('prefers a document near the top of both lists to one at the top of one list and the bottom of the other', () => {
    expect(reciprocalRankFusion([['a', 'b', 'c'], ['b', 'c', 'a']], 60)[0]).toBe('b');
    expect(reciprocalRankFusion([['a'], ['b']], 60)).toEqual(['a', 'b']);
  });
});

describe('pairedBootstrap', () => {
  it('reports the mean difference, its interval and the per-query wins and losses', () => {
    const c = pairedBootstrap([1, 1, 0, 0.5], [0, 1, 0, 0.25], 500);
    expect(c.delta).toBeCloseTo(0.3125, 12);
    expect(c.wins).toBe(2);
    expect(c.ties).toBe(2);
    expect(c.losses).toBe(0);
    expect(c.ci95[0]).toBeLessThanOrEqual(c.delta);
    expect(c.ci95[1]).toBeGreaterThanOrEqual(c.delta);
  });
});
