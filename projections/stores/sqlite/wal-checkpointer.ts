// Checkpoints a store's WAL from a thread of its own, so the writer's commits never wait for the copy and its fsync.
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../../../lib/workers.ts';
import type { CheckpointerConfig, CheckpointerMessage } from './wal-checkpointer-worker.ts';

/**
 * How often the checkpointer copies the WAL into the file. At a steady ~10 MB/s of vectors and chunks that is a few
 * MB per checkpoint; the writer's own automatic checkpoint (every 1,000 pages, 16 MB) had stalled its commit for
 * 0.05-0.6 s each time, most of it in fsync, and every query and write queued behind it.
 */
export const CHECKPOINT_INTERVAL_MS = 500;

/**
 * The writer's own automatic checkpoint while a checkpointer runs: a backstop (65,536 pages of 16 KB, 1 GB) should the
 * checkpointer fall behind, never the usual path.
 */
export const BACKSTOP_AUTOCHECKPOINT_PAGES = 65_536;

/**
 * How long stop() waits for the thread to close its connection and exit before terminating it: a checkpoint in progress
 * finishes first (SQLite keeps the file consistent either way), but a stuck one must not hold up a node's shutdown.
 */
export const STOP_GRACE_MS = 2000;

/** SQLite's default automatic checkpoint, which a writer without a checkpointer keeps. */
export const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;

export interface WalCheckpointer {
  /** Stops the timer and closes the thread's connection; resolves once the thread has exited. */
  stop(): Promise<void>;
}

const workerModule = new URL(import.meta.url.endsWith('.ts') ? './wal-checkpointer-worker.ts' : './wal-checkpointer-worker.js', import.meta.url);

/**
 * Hands the WAL checkpoints of the SQLite file at `path` (open in WAL mode by the caller's connection) to a thread of
 * their own; nothing for an in-memory database. `setAutoCheckpoint` sets the writer's own automatic checkpoint, in
 * pages: a backstop while the thread runs, SQLite's default again should the thread die.
 */
export function checkpointInBackground(path: string, setAutoCheckpoint: (pages: number) => void): WalCheckpointer | undefined {
  if (path === ':memory:' || path.startsWith('file:')) return undefined;
  let running = true;
  const checkpointer = startWalCheckpointer(path, (error, ended) => {
    if (!ended || !running) return; // a failed checkpoint is tried again on the next tick
    running = false;
    try {
      setAutoCheckpoint(DEFAULT_AUTOCHECKPOINT_PAGES);
    } catch {
      return; // the writer has closed meanwhile
    }
    process.emitWarning(`the WAL checkpointer of ${path} stopped (${error}); the writer checkpoints its WAL itself again`);
  });
  setAutoCheckpoint(BACKSTOP_AUTOCHECKPOINT_PAGES);
  return {
    stop: () => {
      running = false;
      return checkpointer.stop();
    },
  };
}

/**
 * Starts checkpointing the WAL of the SQLite file at `path` (which must exist, in WAL mode). `onFailure` hears about
 * every failed checkpoint and about the thread dying (`ended` true): the writer should then checkpoint itself again.
 */
export function startWalCheckpointer(path: string, onFailure: (error: string, ended: boolean) => void, intervalMs = CHECKPOINT_INTERVAL_MS): WalCheckpointer {
  const worker: Worker = startWorker(workerModule, { path, intervalMs } satisfies CheckpointerConfig);
  let stopping = false;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.on('message', (message: CheckpointerMessage) => {
    if (message.type === 'failed') onFailure(message.error, false);
  });
  worker.on('error', (err) => onFailure(err.message, true));
  worker.once('exit', (code) => {
    if (!stopping && code !== 0) onFailure(`the checkpointer thread exited with code ${code}`, true);
  });
  // The thread must not keep a process alive that has nothing else to do.
  worker.unref();
  return {
    stop: async () => {
      if (!stopping) {
        stopping = true;
        worker.postMessage('stop');
        const grace = setTimeout(() => void worker.terminate(), STOP_GRACE_MS);
        grace.unref();
        void exited.then(() => clearTimeout(grace));
      }
      await exited;
    },
  };
}
