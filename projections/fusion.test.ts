// Unit tests of weighted min-max fusion: normalisation, weights at the extremes, missing sides and deterministic ties.
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../lib/errors.ts';
import { fuse, type RankedCandidate } from './fusion.ts';

const c = (id: string, score: number): RankedCandidate => ({ id, score });

const vector = [c('a', 0.9), c('b', 0.8), c('c', 0.5), c('d', 0.1)];
const keyword = [c('c', 12), c('e', 9), c('a', 3), c('f', 3)];
const ids = (hits: readonly { id: string }[]) => hits.map((h) => h.id);

describe('fuse', () => {
  it('with vectorWeight 0 returns exactly the keyword ranking', () => {
    expect(ids(fuse(vector, keyword, { vectorWeight: 0, k: 10 }))).toEqual(['c', 'e', 'a', 'f']);
  });

  it('with vectorWeight 1 returns exactly the vector ranking', () => {
    expect(ids(fuse(vector, keyword, { vectorWeight: 1, k: 10 }))).toEqual(['a', 'b', 'c', 'd']);
  });

  it('weights min-max normalised scores and counts a missing side as 0', () => {
    const fused = fuse(vector, keyword, { vectorWeight: 0.5, k: 10 });
    const byId = new Map(fused.map((h) => [h.id, h]));
    // c: vector (0.5-0.1)/0.8 = 0.5, keyword 1 → 0.75; a: vector 1, keyword 0 → 0.5; e: keyword (9-3)/9 → 0.333…
    expect(byId.get('c')?.score).toBeCloseTo(0.75, 10);
    expect(byId.get('a')?.score).toBeCloseTo(0.5, 10);
    expect(byId.get('e')?.score).toBeCloseTo(1 / 3, 10);
    expect(byId.get('b')?.score).toBeCloseTo(0.4375, 10);
    expect(ids(fused)).toEqual(['c', 'a', 'b', 'e', 'f', 'd']);
  });

  it('keeps the raw score of each side a candidate came from', () => {
    const fused = fuse(vector, keyword, { vectorWeight: 0.3, k: 10 });
    const byId = new Map(fused.map((h) => [h.id, h]));
    expect(byId.get('c')).toMatchObject({ vector: 0.5, keyword: 12 });
    expect(byId.get('e')).toEqual({ id: 'e', score: expect.any(Number), keyword: 9 });
    expect(byId.get('b')).toEqual({ id: 'b', score: expect.any(Number), vector: 0.8 });
  });

  it('normalises a side with one candidate or all-equal scores to 1', () => {
    const fused = fuse([c('x', 0.2)], [c('y', 5), c('z', 5)], { vectorWeight: 0.25, k: 10 });
    expect(fused.map((h) => [h.id, h.score])).toEqual([
      ['y', 0.75],
      ['z', 0.75],
      ['x', 0.25],
    ]);
  });

  it('breaks ties by keyword score, then vector score, then id, whatever the input order', () => {
    const v = [c('m', 1), c('n', 0)];
    const k = [c('n', 1), c('m', 0), c('o', 1), c('p', 0.5)];
    const forward = fuse(v, k, { vectorWeight: 0.5, k: 10 });
    const backward = fuse([...v].reverse(), [...k].reverse(), { vectorWeight: 0.5, k: 10 });
    expect(ids(forward)).toEqual(ids(backward));
    // m, n and o all fuse to 0.5: n and o have the higher keyword score, and n also has a vector score.
    expect(ids(forward)).toEqual(['n', 'o', 'm', 'p']);
  });

  it('takes the best score when a side lists an id twice', () => {
    const fused = fuse([c('a', 0.2), c('a', 0.9), c('b', 0.5)], [], { vectorWeight: 1, k: 10 });
    expect(fused.map((h) => [h.id, h.vector])).toEqual([
      ['a', 0.9],
      ['b', 0.5],
    ]);
  });

  it('returns at most k candidates and copes with empty sides', () => {
    expect(fuse(vector, keyword, { vectorWeight: 0.5, k: 2 })).toHaveLength(2);
    expect(fuse([], [], { vectorWeight: 0.5, k: 5 })).toEqual([]);
    expect(ids(fuse([], keyword, { vectorWeight: 0.5, k: 5 }))).toEqual(['c', 'e', 'a', 'f']);
  });

  it('rejects a weight outside 0..1', () => {
    expect(() => fuse(vector, keyword, { vectorWeight: 1.5, k: 3 })).toThrow(ValidationError);
    expect(() => fuse(vector, keyword, { vectorWeight: Number.NaN, k: 3 })).toThrow(ValidationError);
  });
});
