// The SQLite catalog hosted in a worker thread: the projector's writes (a few rows per document) leave the event loop.
import { dirname } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { errorMessage, UnavailableError } from '../../../lib/errors.ts';
import { startWorker } from '../../../lib/workers.ts';
import type { CatalogStore, DocumentLineage, LineagePage } from '../../catalog.ts';
import type { CatalogOp } from '../../indexing.ts';
import type { DocumentRef, StoreBatch } from '../../store.ts';
import { awaitReady, deserializeError, takeWarning, type Reply } from '../sqlite/protocol.ts';

export type CatalogMethod = 'apply' | 'checkpoints' | 'digest' | 'snapshot' | 'lineage' | 'close';

export interface CatalogRequest {
  readonly id: number;
  readonly method: CatalogMethod;
  readonly args?: unknown;
}

// Compiled builds run .js files; the URL is not an import, so the compiler does not rewrite its extension.
const workerModule = new URL(import.meta.url.endsWith('.ts') ? './catalog-worker.ts' : './catalog-worker.js', import.meta.url);

export class WorkerCatalogStore implements CatalogStore {
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();
  private nextId = 1;
  /** Set once the thread is gone; every later call rejects with it. */
  private failure: Error | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly storageDir: string,
  ) {
    worker.on('message', (reply: Reply) => {
      if (takeWarning(reply)) return;
      const waiter = this.pending.get(reply.id);
      if (!waiter) return;
      this.pending.delete(reply.id);
      if (reply.ok) waiter.resolve(reply.value);
      else waiter.reject(deserializeError(reply.error));
    });
    worker.on('error', (err: unknown) => this.fail(new UnavailableError(`the indexing catalog worker crashed: ${errorMessage(err)}; reopen the catalog`, 5, { cause: err })));
    worker.on('exit', (code) => {
      if (!this.closing) this.fail(new UnavailableError(`the indexing catalog worker exited (code ${code}); reopen the catalog`));
      this.fail(new UnavailableError('the indexing catalog is closed; open it again'));
    });
  }

  /** Starts the worker and resolves once the catalog file is open (rejects with the open error). */
  static async open(path: string): Promise<WorkerCatalogStore> {
    const worker = startWorker(workerModule, { path });
    await awaitReady(worker, 'indexing catalog');
    return new WorkerCatalogStore(worker, dirname(path));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const waiters = [...this.pending.values()];
    this.pending.clear();
    for (const w of waiters) w.reject(this.failure);
  }

  private call<T>(method: CatalogMethod, args?: unknown): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closing && method !== 'close') return Promise.reject(new UnavailableError('the indexing catalog is closed; open it again'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      try {
        this.worker.postMessage({ id, method, args } satisfies CatalogRequest);
      } catch (err) {
        this.pending.delete(id);
        reject(err as Error);
      }
    });
  }

  apply(batch: StoreBatch<CatalogOp>): Promise<void> {
    return this.call('apply', batch);
  }

  checkpoints(): Promise<Record<string, number>> {
    return this.call('checkpoints');
  }

  digest(): Promise<string> {
    return this.call('digest');
  }

  snapshot(): Promise<{ checkpoints: Record<string, number>; digest: string }> {
    return this.call('snapshot');
  }

  lineage(ref: DocumentRef, page: LineagePage = {}): Promise<DocumentLineage | undefined> {
    return this.call('lineage', { ref, page });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (!this.failure) await this.call<void>('close').catch(() => undefined);
      await this.worker.terminate();
    })();
    return this.closing;
  }
}
