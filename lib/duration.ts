// Durations as people write them in flags and settings (30s, 10m, 1.5h, 7d), read and written.

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: HOUR_MS, d: DAY_MS };

/** "10m", "30s", "1.5h", "7d", "250ms" → milliseconds; undefined when the text is not such a duration. */
export function durationMs(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(text.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * (UNITS[match[2] as string] as number));
}

/** Milliseconds as a person reads them in a log line: 90d, 12h, 1.5h (days from one day up, else hours). */
export function humanDuration(ms: number): string {
  return ms >= DAY_MS ? `${+(ms / DAY_MS).toFixed(1)}d` : `${+(ms / HOUR_MS).toFixed(1)}h`;
}
