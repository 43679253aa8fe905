// Vector fingerprints in digests: the rounding is Math.round's for every double, so digests recorded earlier stay comparable.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { prng } from '../lib/prng.ts';
import { roundHalfUp, vectorFingerprint } from './digest.ts';

describe('roundHalfUp', () => {
  it('equals Math.round on halves, near-halves, large and odd values (-0 comes out as 0)', () => {
    const special = [
      0, -0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999999999999994, -0.49999999999999994, 0.5000000000000001, -0.5000000000000001,
      2 ** 52 - 0.5, 2 ** 52, 2 ** 52 + 1, 2 ** 53 + 2, -(2 ** 52) - 1, 1e300, -1e300, Number.MAX_VALUE, Number.MIN_VALUE, -Number.MIN_VALUE,
      Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY,
    ];
    const random = prng(11);
    const values = [...special];
    for (let i = 0; i < 20_000; i++) values.push((random() - 0.5) * 10 ** Math.floor(random() * 12), Math.floor((random() - 0.5) * 1000) + 0.5);
    for (const x of values) expect(roundHalfUp(x) + 0, `x = ${x}`).toBe(Math.round(x) + 0);
    expect(roundHalfUp(Number.NaN)).toBeNaN();
  });
});

describe('vectorFingerprint', () => {
  it('is the fingerprint earlier versions computed with Math.round', () => {
    const random = prng(3);
    for (let n = 0; n < 50; n++) {
      const vector = Float32Array.from({ length: 512 }, () => (random() - 0.5) * 0.2);
      const q = Int32Array.from(vector, (x) => Math.round(x * 1e5));
      const earlier = createHash('sha256').update(new Uint8Array(q.buffer)).digest('hex').slice(0, 32);
      expect(vectorFingerprint(vector)).toBe(earlier);
    }
  });
});
