// Types of worker-bundle.mjs (plain JavaScript: it runs in a worker before any TypeScript loader).

/** Where bundles are cached, in order of preference (SPANDA_WORKER_CACHE alone when set). */
export function workerCacheDirs(): string[];

/** The file URL of an up-to-date bundle of the TypeScript module at `moduleUrl` (built when missing or stale). */
export function bundledWorker(moduleUrl: string): Promise<string>;
