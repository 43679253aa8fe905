// Whether a sampled series (memory, lag) levels off: least-squares slope per minute of each half, and the late level against the early one.
import { round } from '../../lib/common.ts';

/** Least-squares slope of y over t (per minute). */
export function slopePerMinute(points: ReadonlyArray<readonly [number, number]>): number {
  if (points.length < 2) return 0;
  const n = points.length;
  const mt = points.reduce((s, [t]) => s + t, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const num = points.reduce((s, [t, y]) => s + (t - mt) * (y - my), 0);
  const den = points.reduce((s, [t]) => s + (t - mt) ** 2, 0);
  return den === 0 ? 0 : (num / den) * 60;
}

export interface Trend {
  readonly first: number;
  readonly last: number;
  readonly max: number;
  /** Per minute, first half and second half of the run. */
  readonly slopeFirstHalf: number;
  readonly slopeLastHalf: number;
  /** Mean of the last quarter against the mean of the second quarter, in % (a leak raises the floor, not just the peaks). */
  readonly lateGrowthPercent: number;
  /**
   * True when the second half does not keep growing: its slope is under `flat` or under half the first half's, or the
   * last quarter's mean is within 5% of the second quarter's (a garbage-collected heap saws up and down between samples,
   * which can tilt a half's slope while its level stays put).
   */
  readonly levelled: boolean;
}

const mean = (points: ReadonlyArray<readonly [number, number]>) => points.reduce((s, [, y]) => s + y, 0) / Math.max(1, points.length);

export function trend(points: ReadonlyArray<readonly [number, number]>, flat: number): Trend {
  const half = Math.floor(points.length / 2);
  const a = slopePerMinute(points.slice(0, half));
  const b = slopePerMinute(points.slice(half));
  const q = Math.floor(points.length / 4);
  const second = mean(points.slice(q, 2 * q));
  const late = second === 0 ? 0 : ((mean(points.slice(points.length - q)) - second) / Math.abs(second)) * 100;
  return {
    first: points[0]?.[1] ?? 0,
    last: points.at(-1)?.[1] ?? 0,
    max: Math.max(...points.map(([, y]) => y)),
    slopeFirstHalf: round(a),
    slopeLastHalf: round(b),
    lateGrowthPercent: round(late, 1),
    levelled: b <= flat || b <= a / 2 || (q > 0 && late <= 5),
  };
}
