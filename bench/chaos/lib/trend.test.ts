// The soak's judgement of a series: least-squares slope per minute and "levelled off" (second half flat or slowing down).
import { describe, expect, it } from 'vitest';
import { slopePerMinute, trend } from './trend.ts';

const series = (f: (t: number) => number, seconds = 300, step = 5) => Array.from({ length: seconds / step + 1 }, (_, i) => [i * step, f(i * step)] as const);

describe('soak trends', () => {
  it('measures the slope per minute', () => {
    expect(slopePerMinute(series((t) => 100 + t / 6))).toBeCloseTo(10);
    expect(slopePerMinute([[0, 5]])).toBe(0);
  });

  it('calls a curve that flattens levelled, and a straight climb not', () => {
    expect(trend(series((t) => 200 - 100 * Math.exp(-t / 30)), 5)).toMatchObject({ levelled: true });
    const leak = trend(series((t) => 100 + t / 3), 5);
    expect(leak.levelled).toBe(false);
    expect(leak.slopeLastHalf).toBeCloseTo(20);
    expect(trend(series(() => 42), 5)).toMatchObject({ slopeFirstHalf: 0, slopeLastHalf: 0, levelled: true });
    // A sawtooth (a collected heap sampled at odd moments) whose level stays put has levelled off, whatever a half's slope says.
    const saw = trend(series((t) => 200 + ((t * 7) % 70) + (t > 150 && t < 290 ? 10 : 0)), 5);
    expect(saw.lateGrowthPercent).toBeLessThan(5);
    expect(saw.levelled).toBe(true);
  });
});
