// Worker thread entry: owns the SQLite store and answers the host's requests one at a time, in arrival order.
import { parentPort, workerData } from 'node:worker_threads';
import { search } from '../../search.ts';
import type { CandidateRequest, DocumentRef, InferenceStore, KeywordRequest, SearchOptions, SearchQuery } from '../../store.ts';
import { forwardWarnings, serializeError, unpackBatch, type Hello, type PackedBatch, type Reply, type Request, type WorkerConfig } from './protocol.ts';
import type { DocRange } from './digest.ts';
import { asInferenceStore, SqliteInferenceStore } from './sqlite-store.ts';
import { checkpointInBackground, type WalCheckpointer } from './wal-checkpointer.ts';

const port = parentPort;
if (!port) throw new Error('store-worker must run in a worker thread (start it with startWorker)');
const config = (workerData as { data: WorkerConfig }).data;

let checkpointer: WalCheckpointer | undefined;

// The store's warnings (a schema upgrade, a checkpointer that stopped) go to the host thread, which logs them.
forwardWarnings(port);

/** `local` is the store as search() reads it in this thread: it has no `search` of its own, so search() runs here. */
function handle(store: SqliteInferenceStore, local: InferenceStore, request: Request): unknown {
  switch (request.method) {
    case 'search': {
      // Runs to the end before the next message is handled: every store call it awaits is synchronous here.
      const { query, options } = request.args as { query: SearchQuery; options: SearchOptions };
      return search(local, query, options);
    }
    case 'apply':
      return store.apply(unpackBatch(request.args as PackedBatch));
    case 'checkpoints':
      return store.checkpoints();
    case 'keywordCandidates':
      return store.keywordCandidates(request.args as KeywordRequest);
    case 'vectorCandidates':
      return store.vectorCandidates(request.args as CandidateRequest & { vector: Float32Array });
    case 'hydrate': {
      const { tenant, keys } = request.args as { tenant: string; keys: string[] };
      return store.hydrate(tenant, keys);
    }
    case 'document':
      return store.document(request.args as DocumentRef);
    case 'stats':
      return store.stats();
    case 'digest':
      return store.digest();
    case 'snapshot':
      return store.snapshot();
    case 'snapshotShare':
      return store.snapshotShare(request.args as DocRange);
    case 'memory':
      return store.memory();
    case 'loadKeywords':
      return store.loadKeywordsNow();
    case 'close':
      // The checkpointer's connection closes first: the writer's close, the last one, checkpoints what is left.
      return (checkpointer?.stop() ?? Promise.resolve()).then(() => store.close());
  }
}

let store: SqliteInferenceStore | undefined;
try {
  store = SqliteInferenceStore.open({
    path: config.path,
    model: config.model,
    ...(config.mode !== undefined ? { mode: config.mode } : {}),
  });
  // A build keeps its own journal settings; a serving store's commits must not wait for checkpoints.
  if ((config.mode ?? 'serve') === 'serve') {
    const opened = store;
    checkpointer = checkpointInBackground(config.path, (pages) => opened.setAutoCheckpoint(pages));
  }
  port.postMessage({ type: 'ready' } satisfies Hello);
} catch (err) {
  port.postMessage({ type: 'failed', error: serializeError(err) } satisfies Hello);
}

if (store) {
  const opened = store;
  const local = asInferenceStore(opened);
  const send = (request: Request, reply: Reply) => {
    port.postMessage(reply);
    // Closing the port lets the thread end once the reply is out.
    if (request.method === 'close') port.close();
  };
  const failed = (request: Request, err: unknown): Reply => ({ id: request.id, ok: false, error: serializeError(err) });
  port.on('message', (request: Request) => {
    let value: unknown;
    try {
      value = handle(opened, local, request);
    } catch (err) {
      return send(request, failed(request, err));
    }
    if (value instanceof Promise) {
      value.then(
        (settled: unknown) => send(request, { id: request.id, ok: true, value: settled }),
        (err: unknown) => send(request, failed(request, err)),
      );
    } else {
      send(request, { id: request.id, ok: true, value });
    }
  });
}
