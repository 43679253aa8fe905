// The random pool: ids from it are fresh across refills, of the asked length, and never overlap.
import { describe, expect, it } from 'vitest';
import { randomHex, takeRandom } from './random-pool.ts';

describe('random pool', () => {
  it('hands out non-overlapping bytes, refilling past 4 KiB, so 10,000 trace ids are all distinct', () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => randomHex(i % 2 === 0 ? 16 : 8));
    expect(ids.every((id, i) => id.length === (i % 2 === 0 ? 32 : 16) && /^[0-9a-f]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    const a = takeRandom(16);
    const b = takeRandom(16);
    if (a.bytes === b.bytes) expect(b.offset).toBeGreaterThanOrEqual(a.offset + 16);
  });

  it('spreads bytes over all values (not a constant or zero-filled pool)', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const { bytes, offset } = takeRandom(8);
      for (let j = 0; j < 8; j++) seen.add(bytes[offset + j] as number);
    }
    expect(seen.size).toBe(256);
  });

  it('refuses a request larger than the pool', () => {
    expect(() => takeRandom(5000)).toThrow(/at most 4096 bytes/);
  });
});
