// The SQLite store hosted in a worker thread: InferenceStore over request/reply messages, so queries never block the event loop.
import { dirname } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { errorMessage, UnavailableError } from '../../../lib/errors.ts';
import { startWorker } from '../../../lib/workers.ts';
import type { Candidate, CandidateRequest, ChunkContent, KeywordRequest, DocumentRef, DocumentState, InferenceStore, SearchHit, SearchOptions, SearchQuery, StoreBatch, StoreSnapshot, StoreStats } from '../../store.ts';
import { sharedSnapshot, type SnapshotShare } from './snapshot.ts';
import { awaitReady, deserializeError, packBatch, takeWarning, type Method, type Reply, type StoreMemory, type WorkerConfig } from './protocol.ts';

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

// Compiled builds run .js files; the URL is not an import, so the compiler does not rewrite its extension.
const workerModule = new URL(import.meta.url.endsWith('.ts') ? './store-worker.ts' : './store-worker.js', import.meta.url);

export class WorkerInferenceStore implements InferenceStore {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Set once the thread is gone; every later call rejects with it. */
  private failure: Error | undefined;
  private closing = false;
  readonly storageDir: string;

  private constructor(
    private readonly worker: Worker,
    readonly model: { readonly id: string; readonly dims: number },
    private readonly path: string,
  ) {
    this.storageDir = dirname(path);
    worker.on('message', (message: Reply) => takeWarning(message) || this.settle(message));
    worker.on('error', (err: unknown) =>
      this.fail(new UnavailableError(`the inference store worker crashed: ${errorMessage(err)}; reopen the store`, 5, { cause: err })),
    );
    worker.on('exit', (code) => {
      if (!this.closing) this.fail(new UnavailableError(`the inference store worker exited (code ${code}); reopen the store`));
      this.failure ??= new UnavailableError('the inference store is closed; open it again');
      this.rejectAll(this.failure);
    });
  }

  /** Starts the worker and resolves once the store file is open (rejects with the open error, e.g. ConfigError). */
  static async open(config: WorkerConfig): Promise<WorkerInferenceStore> {
    const worker = startWorker(workerModule, {
      path: config.path,
      model: { id: config.model.id, dims: config.model.dims },
      ...(config.mode !== undefined ? { mode: config.mode } : {}),
    } satisfies WorkerConfig);
    await awaitReady(worker, 'inference store');
    return new WorkerInferenceStore(worker, { id: config.model.id, dims: config.model.dims }, config.path);
  }

  private settle(reply: Reply): void {
    const waiter = this.pending.get(reply.id);
    if (!waiter) return;
    this.pending.delete(reply.id);
    if (reply.ok) waiter.resolve(reply.value);
    else waiter.reject(deserializeError(reply.error));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.rejectAll(this.failure);
  }

  private rejectAll(err: Error): void {
    const waiters = [...this.pending.values()];
    this.pending.clear();
    for (const w of waiters) w.reject(err);
  }

  private call<T>(method: Method, args?: unknown, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(new UnavailableError('the inference store is closed; open it again'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      try {
        this.worker.postMessage({ id, method, args }, transfer);
      } catch (err) {
        this.pending.delete(id);
        reject(err as Error);
      }
    });
  }

  apply(batch: StoreBatch): Promise<void> {
    const packed = packBatch(batch);
    return this.call('apply', packed, [packed.floats.buffer as ArrayBuffer]);
  }

  checkpoints(): Promise<Record<string, number>> {
    return this.call('checkpoints');
  }

  keywordCandidates(request: KeywordRequest): Promise<Candidate[]> {
    return this.call('keywordCandidates', request);
  }

  vectorCandidates(request: CandidateRequest & { readonly vector: Float32Array }): Promise<Candidate[]> {
    // A fresh copy, transferred: the caller keeps its vector and no shared buffer is detached.
    const vector = new Float32Array(request.vector);
    return this.call('vectorCandidates', { ...request, vector }, [vector.buffer]);
  }

  hydrate(tenant: string, keys: readonly string[]): Promise<ChunkContent[]> {
    return this.call('hydrate', { tenant, keys });
  }

  /**
   * The whole search in the worker, one message each way. Three calls (both sides, then hydrate) cost the query a
   * thread wake-up each: measured at 100k chunks, ~0.8 ms of the main thread's wall time per hybrid query went to
   * the vector call's postMessage alone, the thread descheduled as it woke the worker on 2 cores.
   */
  search(query: SearchQuery, options: SearchOptions): Promise<SearchHit[]> {
    return this.call('search', { query, options });
  }

  document(ref: DocumentRef): Promise<DocumentState | undefined> {
    return this.call('document', { tenant: ref.tenant, source: ref.source, docId: ref.docId });
  }

  stats(): Promise<StoreStats> {
    return this.call('stats');
  }

  digest(): Promise<string> {
    return this.call('digest');
  }

  /** The snapshot, the worker digesting half of the documents while this thread digests the other half (snapshot.ts). */
  snapshot(): Promise<StoreSnapshot> {
    return sharedSnapshot(
      this.path,
      (range) => this.call<SnapshotShare>('snapshotShare', range),
      () => this.call<StoreSnapshot>('snapshot'),
    );
  }

  /** Bytes of the worker's in-memory indexes and JS heap (the benchmarks report them). */
  memory(): Promise<StoreMemory> {
    return this.call('memory');
  }

  /** Ends the keyword index's load after open at once (it loads between requests otherwise). */
  loadKeywords(): Promise<void> {
    return this.call('loadKeywords');
  }

  warmUp(): Promise<void> {
    return this.loadKeywords();
  }

  /** Closes the database in the worker, then ends the thread. Idempotent; after a crash it just stops the thread. */
  async close(): Promise<void> {
    if (this.closing) return;
    if (!this.failure) {
      const closed = this.call<void>('close');
      this.closing = true;
      await closed.catch(() => undefined);
    }
    this.closing = true;
    await this.worker.terminate();
  }

  /** Stops the thread at once without closing the database cleanly (WAL keeps the file consistent); pending calls reject. */
  async terminate(): Promise<void> {
    // Reject first: a reply already on its way must not settle a call the caller has given up on.
    this.fail(new UnavailableError('the inference store worker exited: terminated'));
    await this.worker.terminate();
  }
}
