// Shared plumbing of the benchmark scripts: repo paths, machine and load facts, timing, percentiles, result files, cleanup.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file lives in bench/lib/). Result files never record absolute paths of the machine. */
export const REPO_ROOT = path.resolve(fileURLToPath(new URL('../../', import.meta.url)));

/** An absolute path from a path relative to the repository root (e.g. '../shared/evals/scifact-train'). */
export const fromRoot = (relative: string): string => path.resolve(REPO_ROOT, relative);

/** A path as the report shows it: relative to the repository root. */
export const relativeToRoot = (absolute: string): string => path.relative(REPO_ROOT, absolute) || '.';

export interface Machine {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly platform: string;
  readonly memoryGB: number;
}

export function machine(): Machine {
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    memoryGB: Math.round(os.totalmem() / 1e8) / 10,
  };
}

/** os.loadavg() rounded: the 1, 5 and 15 minute load averages (compare with the cpu count). */
export function loadAverage(): [number, number, number] {
  const [a = 0, b = 0, c = 0] = os.loadavg();
  return [round(a), round(b), round(c)];
}

export const round = (value: number, digits = 2): number => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface Summary {
  readonly n: number;
  readonly mean: number;
  readonly min: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

/** Nearest-rank percentile of an ascending array (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

export function summarize(values: readonly number[], digits = 2): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, v) => sum + v, 0) / Math.max(1, sorted.length);
  return {
    n: sorted.length,
    mean: round(mean, digits),
    min: round(sorted[0] ?? Number.NaN, digits),
    p50: round(percentile(sorted, 50), digits),
    p95: round(percentile(sorted, 95), digits),
    p99: round(percentile(sorted, 99), digits),
    max: round(sorted[sorted.length - 1] ?? Number.NaN, digits),
  };
}

/** CPU time (user + system, all threads of this process) spent while `run` ran, with its wall time. */
export async function measured<T>(run: () => Promise<T>): Promise<{ value: T; ms: number; cpuMs: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const value = await run();
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { value, ms, cpuMs: (used.user + used.system) / 1000 };
}

export const RESULTS_DIR = fromRoot('bench/results');

/** Writes bench/results/<name>.json with the machine, the load averages at start and end, and the figures. */
export async function writeResult(name: string, startLoad: readonly number[], figures: Record<string, unknown>): Promise<string> {
  const file = path.join(RESULTS_DIR, `${name}.json`);
  const result = { benchmark: name, date: new Date().toISOString(), machine: machine(), load: { start: startLoad, end: loadAverage() }, ...figures };
  await mkdir(RESULTS_DIR, { recursive: true });
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  return relativeToRoot(file);
}

export async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, 'utf8')) as T;
}

type Cleanup = () => Promise<void> | void;
const cleanups: Cleanup[] = [];

/** Registers a release (a nats-server, a node, a temp dir) to run at the end, on error and on SIGINT/SIGTERM; returns an unregister. */
export function onCleanup(cleanup: Cleanup): () => void {
  cleanups.push(cleanup);
  return () => {
    const i = cleanups.indexOf(cleanup);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

async function runCleanups(): Promise<void> {
  while (cleanups.length > 0) {
    const cleanup = cleanups.pop() as Cleanup;
    try {
      await cleanup();
    } catch (err) {
      console.error(`cleanup failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/**
 * Runs a benchmark's main and releases everything it registered, in reverse order, whether it succeeds, throws or is
 * interrupted. Exits non-zero on error: a benchmark that cannot run says so, but it never fails on its figures.
 */
export async function runBenchmark(name: string, main: () => Promise<void>): Promise<void> {
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error(`\n${name}: ${signal}, stopping what this benchmark started`);
    void runCleanups().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await main();
  } catch (err) {
    console.error(`${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  } finally {
    await runCleanups();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  // Worker threads and sockets of libraries may keep the loop alive after everything was closed; the figures are written.
  setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
}

/** A one-line progress note on stderr (results go to stdout and the JSON file). */
export function note(message: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)} load ${loadAverage()[0]}] ${message}\n`);
}

/** Formats rows as an aligned text table (first column left, others right). */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  const line = (r: readonly string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
