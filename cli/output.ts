// Terminal output for the CLI: aligned tables for people, JSON for machines, errors with what to do next.
import { SpandaError, isDiskFull } from '../lib/errors.ts';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printTable(items: ReadonlyArray<object>, columns?: readonly string[]): void {
  const rows = items as ReadonlyArray<Record<string, unknown>>;
  const cols = columns ?? Object.keys(rows[0] ?? {});
  const cell = (v: unknown) => (v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  process.stdout.write(`${line(cols.map((c) => c.toUpperCase()))}\n`);
  for (const r of rows) process.stdout.write(`${line(cols.map((c) => cell(r[c])))}\n`);
}

/** Prints an error the way a user can act on it; returns the exit code (2 for usage errors). */
export function reportError(err: unknown): number {
  const message = err instanceof Error ? err.message : String(err);
  const hint = isDiskFull(err) && !/free space/.test(message) ? '; the disk is full: free space on it (or use another --data-dir) and run the command again' : '';
  process.stderr.write(`spanda: ${message}${hint}\n`);
  if (err instanceof UsageError) return 2;
  if (!(err instanceof SpandaError) && err instanceof Error && process.env.SPANDA_DEBUG) process.stderr.write(`${err.stack}\n`);
  return 1;
}

export class UsageError extends Error {}

