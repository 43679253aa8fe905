// Starting worker threads that run TypeScript modules, from source (tests, tsx) or compiled JavaScript alike.
import { Worker, type WorkerOptions } from 'node:worker_threads';

const bootstrap = new URL('./worker-bootstrap.mjs', import.meta.url);

/**
 * Starts a worker running `moduleUrl` (a file URL of a .ts or .js module); `data` arrives as workerData.data. A .ts
 * module runs from a cached bundle (see worker-bundle.mjs), so the worker does not take the flags by which the tsx CLI
 * loads itself into a process: they would start a loader thread in every worker for nothing (~100 ms each).
 */
export function startWorker(moduleUrl: URL, data?: unknown, options: Omit<WorkerOptions, 'workerData'> = {}): Worker {
  const start = (execArgv: string[] | undefined) =>
    new Worker(bootstrap, { ...options, ...(execArgv ? { execArgv } : {}), workerData: { module: moduleUrl.href, data } });
  if (options.execArgv !== undefined || !moduleUrl.href.endsWith('.ts')) return start(undefined);
  // Each failed attempt shortens the flags or gives up on them, so this ends: at worst the worker inherits them all.
  for (;;) {
    workerArgv ??= { argv: withoutTsxFlags(process.execArgv) };
    const argv = workerArgv.argv;
    try {
      return start(argv);
    } catch (err) {
      // A worker refuses V8 options (--max-semi-space-size …) passed to it, though it inherits them: they apply to the
      // whole process anyway. Drop the ones it names, or let it inherit everything as before.
      if (!argv || (err as { code?: unknown }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw err;
      const refused = new Set(/flags: (.*)$/.exec((err as Error).message)?.[1]?.split(', ') ?? []);
      const kept = argv.filter((flag) => !refused.has(flag));
      workerArgv = { argv: kept.length < argv.length ? kept : undefined };
    }
  }
}

/** The execArgv given to workers of .ts modules (undefined: they inherit the process's), worked out at the first start. */
let workerArgv: { argv: string[] | undefined } | undefined;

/**
 * `argv` without the tsx CLI's `--require …tsx…` and `--import …tsx…` flags (the bootstrap registers tsx when it
 * needs it), or undefined when there are none: the worker then inherits the process's flags as it always did.
 */
export function withoutTsxFlags(argv: readonly string[]): string[] | undefined {
  const isTsx = (value: string) => /^tsx(\/|$)|[/\\]tsx[/\\]/.test(value);
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    const value = argv[i + 1];
    if ((flag === '--require' || flag === '--import' || flag === '-r') && value !== undefined && isTsx(value)) {
      i++;
      continue;
    }
    const inline = /^--(?:require|import)=(.*)$/.exec(flag);
    if (inline && isTsx(inline[1] as string)) continue;
    out.push(flag);
  }
  return out.length === argv.length ? undefined : out;
}
