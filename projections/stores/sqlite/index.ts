// Entry point of the embedded SQLite inference store: open a store file for one embedding model, in a worker or in-thread.
import type { InferenceStore } from '../../store.ts';
import { asInferenceStore, SqliteInferenceStore } from './sqlite-store.ts';
import { WorkerInferenceStore } from './worker-store.ts';

export { SqliteInferenceStore, asInferenceStore } from './sqlite-store.ts';
export { WorkerInferenceStore } from './worker-store.ts';

export interface OpenSqliteStoreOptions {
  /** The store file (one projection generation); created with its directory when missing. */
  readonly path: string;
  /** The embedding model the file holds; opening a file built for another model fails with ConfigError. */
  readonly model: { readonly id: string; readonly dims: number };
  /** Run SQLite and vector search in a worker thread so queries never block the event loop (default true). */
  readonly inWorker?: boolean;
  /** 'build': written by a replay (or read whole), never searched while open, so no in-memory index (default 'serve'). */
  readonly mode?: 'serve' | 'build';
}

export async function openSqliteStore(options: OpenSqliteStoreOptions): Promise<InferenceStore> {
  const config = {
    path: options.path,
    model: { id: options.model.id, dims: options.model.dims },
    ...(options.mode !== undefined ? { mode: options.mode } : {}),
  };
  if (options.inWorker ?? true) return WorkerInferenceStore.open(config);
  return asInferenceStore(SqliteInferenceStore.open(config));
}
