// descending orders like the subtraction comparator it replaces, NaN and ties included.
import { describe, expect, it } from 'vitest';
import { prng } from './prng.ts';
import { descending } from './compare.ts';

describe('descending', () => {
  it('sorts exactly as (a, b) => b - a does, with ties left in their order', () => {
    const random = prng(3);
    const values = Array.from({ length: 500 }, (_, i) => ({ i, v: i % 7 === 0 ? 0.5 : Math.round(random() * 40) / 8 - 2 }));
    values.push({ i: 500, v: Number.POSITIVE_INFINITY }, { i: 501, v: Number.NEGATIVE_INFINITY }, { i: 502, v: -0 });
    const bySubtraction = [...values].sort((a, b) => b.v - a.v).map((x) => x.i);
    expect([...values].sort((a, b) => descending(a.v, b.v)).map((x) => x.i)).toEqual(bySubtraction);
    expect(descending(1, 2)).toBe(1);
    expect(descending(2, 1)).toBe(-1);
    expect(descending(2, 2)).toBe(0);
    expect(descending(Number.NaN, 2)).toBe(0);
  });
});
