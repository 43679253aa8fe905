// The sqlite catalog kind: one file per generation in the node's data dir (`<dataDir>/<role>/<generation>.sqlite`).
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { CATALOG_SCHEMA_VERSION } from './catalog-store.ts';
import { WorkerCatalogStore } from './worker-catalog-store.ts';
import type { CatalogStoreFactory, OpenCatalogOptions } from './registry.ts';

export function sqliteCatalogPath(options: Pick<OpenCatalogOptions, 'role' | 'generation'> & { readonly config: { readonly dataDir: string } }): string {
  return path.join(options.config.dataDir, options.role, `${options.generation}.sqlite`);
}

export const sqliteCatalogFactory: CatalogStoreFactory = {
  kind: 'sqlite',
  schemaVersion: CATALOG_SCHEMA_VERSION,
  local: true,
  // In a worker thread: its writes would otherwise take the event loop the processors and the API share.
  open: (options) => WorkerCatalogStore.open(sqliteCatalogPath(options)),
  drop: async (options) => {
    const file = sqliteCatalogPath(options);
    await Promise.all(['', '-wal', '-shm'].map((suffix) => rm(`${file}${suffix}`, { force: true })));
  },
};
