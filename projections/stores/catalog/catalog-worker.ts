// Worker thread entry: owns the SQLite catalog and answers the host's requests one at a time, in arrival order.
import { parentPort, workerData } from 'node:worker_threads';
import type { LineagePage } from '../../catalog.ts';
import type { CatalogOp } from '../../indexing.ts';
import type { DocumentRef, StoreBatch } from '../../store.ts';
import { forwardWarnings, serializeError, type Hello, type Reply } from '../sqlite/protocol.ts';
import { checkpointInBackground, type WalCheckpointer } from '../sqlite/wal-checkpointer.ts';
import { SqliteCatalogStore } from './catalog-store.ts';
import type { CatalogMethod, CatalogRequest } from './worker-catalog-store.ts';

const port = parentPort;
if (!port) throw new Error('catalog-worker must run in a worker thread (start it with startWorker)');
const { path } = (workerData as { data: { path: string } }).data;
// Its warnings (a stopped WAL checkpointer) go to the host thread, which logs them.
forwardWarnings(port);

let checkpointer: WalCheckpointer | undefined;

function handle(store: SqliteCatalogStore, method: CatalogMethod, args: unknown): Promise<unknown> {
  switch (method) {
    case 'apply':
      return store.apply(args as StoreBatch<CatalogOp>);
    case 'checkpoints':
      return store.checkpoints();
    case 'digest':
      return store.digest();
    case 'snapshot':
      return store.snapshot();
    case 'lineage':
      return store.lineage((args as { ref: DocumentRef }).ref, (args as { page: LineagePage }).page);
    case 'close':
      // The checkpointer's connection closes first: the writer's close, the last one, checkpoints what is left.
      return (checkpointer?.stop() ?? Promise.resolve()).then(() => store.close());
  }
}

let store: SqliteCatalogStore | undefined;
try {
  store = new SqliteCatalogStore(path);
  const opened = store;
  checkpointer = checkpointInBackground(path, (pages) => opened.setAutoCheckpoint(pages));
  port.postMessage({ type: 'ready' } satisfies Hello);
} catch (err) {
  port.postMessage({ type: 'failed', error: serializeError(err) } satisfies Hello);
}

if (store) {
  const opened = store;
  // The store's methods are synchronous inside (better-sqlite3): each request finishes before the next starts.
  port.on('message', async ({ id, method, args }: CatalogRequest) => {
    let reply: Reply;
    try {
      reply = { id, ok: true, value: await handle(opened, method, args) };
    } catch (err) {
      reply = { id, ok: false, error: serializeError(err) };
    }
    port.postMessage(reply);
    if (method === 'close') port.close();
  });
}
