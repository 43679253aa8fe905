// The sqlite store kind: one file per generation in the node's data dir (`<dataDir>/<role>/<generation>.sqlite`).
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { OpenStoreOptions, StoreFactory } from '../registry.ts';
import { openSqliteStore } from './index.ts';
import { SCHEMA_VERSION } from './schema.ts';

export function sqliteStorePath(options: Pick<OpenStoreOptions, 'role' | 'generation' | 'config'>): string {
  return path.join(options.config.dataDir, options.role, `${options.generation}.sqlite`);
}

export const sqliteStoreFactory: StoreFactory = {
  kind: 'sqlite',
  schemaVersion: SCHEMA_VERSION,
  open: (options) => openSqliteStore({ path: sqliteStorePath(options), model: options.model, ...(options.mode !== undefined ? { mode: options.mode } : {}) }),
  drop: async (options) => {
    const file = sqliteStorePath(options);
    await Promise.all(['', '-wal', '-shm'].map((suffix) => rm(`${file}${suffix}`, { force: true })));
  },
};
