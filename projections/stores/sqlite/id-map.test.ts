// IdMap: the row-id map of the in-memory indexes behaves as a Map for every id, across pages and page frees.
import { describe, expect, it } from 'vitest';
import { prng } from '../../../lib/prng.ts';
import { IdMap } from './id-map.ts';

describe('IdMap', () => {
  it('agrees with a Map through random sets and deletes of row ids and odd numbers', () => {
    const random = prng(7);
    const ids = new IdMap<number>();
    const reference = new Map<number, number>();
    const odd = [-1, -4096, 0.5, 2 ** 31, 2 ** 40, Number.MAX_SAFE_INTEGER];
    for (let step = 0; step < 200_000; step++) {
      const r = random();
      const id = r < 0.02 ? (odd[Math.floor(random() * odd.length)] as number) : Math.floor(random() * 20_000);
      if (random() < 0.6) {
        ids.set(id, step);
        reference.set(id, step);
      } else {
        expect(ids.delete(id)).toBe(reference.delete(id));
      }
      if (step % 997 === 0) expect(ids.size).toBe(reference.size);
    }
    for (let id = -5; id < 20_100; id++) expect(ids.get(id)).toBe(reference.get(id));
    for (const id of odd) expect(ids.has(id)).toBe(reference.has(id));
    expect(ids.size).toBe(reference.size);
  });

  it('frees a page when its last id goes and takes ids on it again', () => {
    const ids = new IdMap<string>();
    for (let id = 0; id < 10_000; id++) ids.set(id, `k${id}`);
    for (let id = 4096; id < 8192; id++) ids.delete(id);
    expect(ids.size).toBe(10_000 - 4096);
    expect(ids.get(5000)).toBeUndefined();
    expect(ids.get(4095)).toBe('k4095');
    expect(ids.get(8192)).toBe('k8192');
    ids.set(5000, 'again');
    expect(ids.get(5000)).toBe('again');
    expect(ids.size).toBe(10_000 - 4096 + 1);
  });

  it('agrees with a Map for sparse ids (a small tenant among many), dense ids, and a map that turns dense', () => {
    const random = prng(11);
    for (const spread of [1, 64, 100_000]) {
      const ids = new IdMap<number>();
      const reference = new Map<number, number>();
      for (let step = 0; step < 40_000; step++) {
        const id = Math.floor(random() * 10_000) * spread + (step > 30_000 ? 0 : 1);
        if (random() < 0.8) {
          ids.set(id, step);
          reference.set(id, step);
        } else {
          expect(ids.delete(id)).toBe(reference.delete(id));
        }
      }
      expect(ids.size).toBe(reference.size);
      for (const [id, value] of reference) expect(ids.get(id)).toBe(value);
      expect(ids.get(spread * 3 + 2)).toBe(reference.get(spread * 3 + 2));
    }
  });
});
