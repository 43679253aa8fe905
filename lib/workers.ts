// Starting worker threads that run TypeScript modules, from source (tests, tsx) or compiled JavaScript alike.
import { Worker, type WorkerOptions } from 'node:worker_threads';

const bootstrap = new URL('./worker-bootstrap.mjs', import.meta.url);

/** Starts a worker running `moduleUrl` (a file URL of a .ts or .js module); `data` arrives as workerData.data. */
export function startWorker(moduleUrl: URL, data?: unknown, options: Omit<WorkerOptions, 'workerData'> = {}): Worker {
  return new Worker(bootstrap, { ...options, workerData: { module: moduleUrl.href, data } });
}
