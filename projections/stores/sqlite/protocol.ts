// Messages between the store host and its worker thread: requests, replies, errors that keep their class, packed vectors.
import type { MessagePort, Worker } from 'node:worker_threads';
import {
  ConfigError,
  errorMessage,
  NotFoundError,
  PermanentEventError,
  SpandaError,
  TransientError,
  UnavailableError,
  ValidationError,
} from '../../../lib/errors.ts';
import type { StoreBatch, StoreOp, VectorInput } from '../../store.ts';

export interface WorkerConfig {
  readonly path: string;
  readonly model: { readonly id: string; readonly dims: number };
  /** See SqliteStoreOptions.mode (default 'serve'). */
  readonly mode?: 'serve' | 'build' | 'digest';
}

export type Method =
  | 'apply'
  | 'checkpoints'
  | 'keywordCandidates'
  | 'vectorCandidates'
  | 'hydrate'
  | 'search'
  | 'document'
  | 'stats'
  | 'digest'
  | 'snapshot'
  | 'snapshotShare'
  | 'memory'
  | 'loadKeywords'
  | 'close';

/** Memory held by a store: its derived in-memory indexes and the JS heap of the thread it runs in. */
/** A warning the worker emitted (process.emitWarning), emitted again by the host thread where the node logs it. */
export interface WorkerWarning {
  readonly type: 'warning';
  readonly message: string;
}

/** In a store's worker: its warnings go to the host thread (a node logs them there) instead of to stderr. */
export function forwardWarnings(port: MessagePort): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning: Error) => port.postMessage({ type: 'warning', message: warning.message } satisfies WorkerWarning));
}

/** On the host thread: whether a worker's message is a forwarded warning, emitted again here if so. */
export function takeWarning(message: unknown): message is WorkerWarning {
  if (typeof message !== 'object' || message === null || (message as { type?: unknown }).type !== 'warning') return false;
  process.emitWarning(String((message as WorkerWarning).message));
  return true;
}

export interface StoreMemory {
  readonly vectorBytes: number;
  readonly keywordBytes: number;
  /** Whether the keyword index is still loading after open (a keyword query meanwhile ends the load first). */
  readonly keywordsLoading: boolean;
  readonly heapUsedBytes: number;
}

export interface Request {
  readonly id: number;
  readonly method: Method;
  readonly args: unknown;
}

export interface SerializedError {
  readonly name: string;
  /** Whether it was a SpandaError (its code is then one of Spanda's stable codes, not e.g. SQLite's). */
  readonly spanda: boolean;
  readonly message: string;
  readonly code?: string;
  readonly issues?: readonly string[];
  readonly retryAfterSeconds?: number;
  readonly retryAfterMs?: number;
  readonly stack?: string;
}

export type Reply = { readonly id: number; readonly ok: true; readonly value: unknown } | { readonly id: number; readonly ok: false; readonly error: SerializedError };

/** The worker's first message: the store opened, or why it could not. */
export type Hello = { readonly type: 'ready' } | { readonly type: 'failed'; readonly error: SerializedError };

export function serializeError(err: unknown): SerializedError {
  if (!(err instanceof Error)) return { name: 'Error', spanda: false, message: String(err) };
  const e = err as Error & Partial<{ code: unknown; issues: unknown; retryAfterSeconds: unknown; retryAfterMs: unknown }>;
  return {
    name: e.name,
    spanda: err instanceof SpandaError,
    message: e.message,
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
    ...(Array.isArray(e.issues) ? { issues: e.issues.map(String) } : {}),
    ...(typeof e.retryAfterSeconds === 'number' ? { retryAfterSeconds: e.retryAfterSeconds } : {}),
    ...(typeof e.retryAfterMs === 'number' ? { retryAfterMs: e.retryAfterMs } : {}),
    ...(e.stack !== undefined ? { stack: e.stack } : {}),
  };
}

/** Re-creates the error with its class, so `instanceof ValidationError` works on the caller's side. */
export function deserializeError(s: SerializedError): Error {
  let err: Error;
  switch (s.name) {
    case 'ValidationError':
      err = new ValidationError(s.message, s.issues ?? []);
      break;
    case 'ConfigError':
      err = new ConfigError(s.message);
      break;
    case 'NotFoundError':
      err = new NotFoundError(s.message);
      break;
    case 'UnavailableError':
      err = new UnavailableError(s.message, s.retryAfterSeconds);
      break;
    case 'PermanentEventError':
      err = new PermanentEventError(s.message);
      break;
    case 'TransientError':
      err = new TransientError(s.message, s.retryAfterMs);
      break;
    default:
      if (s.spanda && s.code !== undefined) {
        err = new SpandaError(s.code, s.message);
      } else {
        // Not ours (e.g. SqliteError): keep its name and code so it reads the same as in-thread.
        err = Object.assign(new Error(s.message), s.code !== undefined ? { code: s.code } : {});
        err.name = s.name;
      }
  }
  // The worker's stack points at where it failed, which is what someone debugging needs.
  if (s.stack !== undefined) err.stack = s.stack;
  return err;
}

type PackedVector = Omit<VectorInput, 'vector'> & { readonly offset: number; readonly length: number };
/** An op as sent; a vectors op whose vectors are not all Float32Array travels unpacked. */
type PackedOp = StoreOp | (Omit<Extract<StoreOp, { kind: 'vectors' }>, 'vectors'> & { readonly packed: readonly PackedVector[] });

export interface PackedBatch {
  readonly ops: readonly PackedOp[];
  readonly checkpoints: StoreBatch['checkpoints'];
  /** Every vector of the batch back to back, in one buffer that is transferred rather than copied. */
  readonly floats: Float32Array;
}

/**
 * Copies all vectors into one fresh buffer: transferring the caller's own buffers would detach them under the caller
 * (and could detach a shared Buffer pool). A vector that is not a Float32Array is sent as is, so the worker's
 * validation rejects it exactly as the in-thread store would.
 */
export function packBatch(batch: StoreBatch): PackedBatch {
  let total = 0;
  for (const op of batch.ops) {
    if (op.kind === 'vectors' && Array.isArray(op.vectors)) for (const v of op.vectors) if (v.vector instanceof Float32Array) total += v.vector.length;
  }
  const floats = new Float32Array(total);
  let offset = 0;
  const ops = batch.ops.map((op): PackedOp => {
    if (op.kind !== 'vectors' || !Array.isArray(op.vectors) || op.vectors.some((v) => !(v.vector instanceof Float32Array))) return op;
    const { vectors, ...rest } = op;
    const packed = vectors.map((v) => {
      floats.set(v.vector, offset);
      const p = { chunkId: v.chunkId, window: v.window, offset, length: v.vector.length };
      offset += v.vector.length;
      return p;
    });
    return { ...rest, packed };
  });
  return { ops, checkpoints: batch.checkpoints, floats };
}

export function unpackBatch(packed: PackedBatch): StoreBatch {
  const ops = packed.ops.map((op): StoreOp => {
    if (!('packed' in op)) return op;
    const { packed: vectors, ...rest } = op;
    return {
      ...rest,
      vectors: vectors.map((v) => ({ chunkId: v.chunkId, window: v.window, vector: packed.floats.subarray(v.offset, v.offset + v.length) })),
    };
  });
  return { ops, checkpoints: packed.checkpoints };
}

/**
 * Waits for a store worker's first message: resolves when it says it is ready, rejects with its open error (thrown as
 * the original error class) or an UnavailableError naming `what` when it fails to start or exits first.
 */
export async function awaitReady(worker: Worker, what: string): Promise<void> {
  const hello = await new Promise<Hello>((resolve, reject) => {
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const onMessage = (message: Hello | WorkerWarning) => {
      // A warning while the store opens is the host's to log; the hello is still to come.
      if (takeWarning(message)) return;
      cleanup();
      resolve(message);
    };
    const onError = (err: unknown) => {
      cleanup();
      reject(new UnavailableError(`the ${what} worker failed to start: ${errorMessage(err)}`, 5, { cause: err }));
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new UnavailableError(`the ${what} worker exited during start (code ${code})`));
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
  if (hello.type === 'failed') {
    await worker.terminate();
    throw deserializeError(hello.error);
  }
}
