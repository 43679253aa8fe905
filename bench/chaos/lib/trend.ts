// Whether a sampled series (memory, lag) levels off: least-squares slope per minute of its first and second halves.
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
  /** True when the second half does not keep growing: its slope is under `flat` or under half the first half's. */
  readonly levelled: boolean;
}

export function trend(points: ReadonlyArray<readonly [number, number]>, flat: number): Trend {
  const half = Math.floor(points.length / 2);
  const a = slopePerMinute(points.slice(0, half));
  const b = slopePerMinute(points.slice(half));
  return {
    first: points[0]?.[1] ?? 0,
    last: points.at(-1)?.[1] ?? 0,
    max: Math.max(...points.map(([, y]) => y)),
    slopeFirstHalf: round(a),
    slopeLastHalf: round(b),
    levelled: b <= flat || b <= a / 2,
  };
}
