// Types of worker-bundle.mjs (plain JavaScript: it runs in a worker before any TypeScript loader).

/** Where bundles are cached: SPANDA_WORKER_CACHE, else a directory of this user's in the system's temp dir. */
export function workerCacheDir(): string;

/** The file URL of an up-to-date bundle of the TypeScript module at `moduleUrl` (built when missing or stale). */
export function bundledWorker(moduleUrl: string): Promise<string>;
