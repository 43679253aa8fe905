// Worker thread of the WAL checkpointer: its own connection to a store file, checkpointing it (PASSIVE) on a timer.
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

export interface CheckpointerConfig {
  readonly path: string;
  readonly intervalMs: number;
}

/** What the thread tells its host: each failed checkpoint (it keeps trying). Its exit says it has stopped. */
export type CheckpointerMessage = { readonly type: 'failed'; readonly error: string };

const port = parentPort;
if (!port) throw new Error('wal-checkpointer-worker must run in a worker thread');
const { path, intervalMs } = (workerData as { data: CheckpointerConfig }).data;

const db = new Database(path, { fileMustExist: true });
// PASSIVE never waits for the writer; a busy file (another checkpoint under way) is simply tried again next time.
db.pragma('busy_timeout = 0');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    port.postMessage({ type: 'failed', error: err instanceof Error ? err.message : String(err) } satisfies CheckpointerMessage);
  }
}, intervalMs);

port.on('message', (message: unknown) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  port.close();
});
