// Starting worker threads that run TypeScript modules, from source (tests, tsx) or compiled JavaScript alike.
import { Worker, type WorkerOptions } from 'node:worker_threads';

const bootstrap = new URL('./worker-bootstrap.mjs', import.meta.url);

/**
 * Starts a worker running `moduleUrl` (a file URL of a .ts or .js module); `data` arrives as workerData.data. A .ts
 * module runs from a cached bundle (see worker-bundle.mjs), so the worker does not take the flags by which the tsx CLI
 * loads itself into a process: they would start a loader thread in every worker for nothing (~100 ms each).
 */
export function startWorker(moduleUrl: URL, data?: unknown, options: Omit<WorkerOptions, 'workerData'> = {}): Worker {
  const execArgv = options.execArgv ?? (moduleUrl.href.endsWith('.ts') ? withoutTsxFlags(process.execArgv) : undefined);
  return new Worker(bootstrap, { ...options, ...(execArgv ? { execArgv } : {}), workerData: { module: moduleUrl.href, data } });
}

/** `argv` without the tsx CLI's `--require …/tsx/…` and `--import …/tsx/…` pairs (the bootstrap registers tsx when it needs it). */
export function withoutTsxFlags(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    const value = argv[i + 1];
    if ((flag === '--require' || flag === '--import' || flag === '-r') && value !== undefined && /[/\\]tsx[/\\]/.test(value)) {
      i++;
      continue;
    }
    if (/^--(require|import)=.*[/\\]tsx[/\\]/.test(flag)) continue;
    out.push(flag);
  }
  return out;
}
