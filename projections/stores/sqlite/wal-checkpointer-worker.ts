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
interface CheckpointResult {
  /** 1 when the checkpoint could not finish (a writer or reader in the way). */
  readonly busy: number;
  /** Frames in the WAL, and how many of them are in the file now. */
  readonly log: number;
  readonly checkpointed: number;
}

// The WAL size at the last tick that found it wholly copied into the file (-1: it was not).
let settledAt = -1;
const timer = setInterval(() => {
  try {
    const [result] = db.pragma('wal_checkpoint(PASSIVE)') as CheckpointResult[];
    const settled = result !== undefined && result.busy === 0 && result.log > 0 && result.checkpointed === result.log;
    // Copied and unchanged since the last tick: nothing is being written. The WAL still holds page images older than
    // the file (the text of a deleted document among them) until a writer reuses the space, and an idle store may not
    // write again for hours: truncate it. TRUNCATE waits for nobody here (busy_timeout 0); a writer that starts
    // meanwhile waits the few milliseconds it takes, as there is nothing left to copy.
    if (settled && result.log === settledAt) {
      db.pragma('wal_checkpoint(TRUNCATE)');
      settledAt = -1;
    } else {
      settledAt = settled ? result.log : -1;
    }
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
