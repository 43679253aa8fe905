// A small pool of worker threads running one task each at a time: lazy start, FIFO dispatch, crash replacement, close.
import { parentPort, type Transferable, type Worker } from 'node:worker_threads';
import { SpandaError, TransientError } from '../../lib/errors.ts';

/** Main thread → worker. */
interface TaskMessage {
  readonly id: number;
  readonly request: unknown;
}

/** Worker → main thread: the result of one task, or why it failed. */
type ReplyMessage =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: { readonly name: string; readonly message: string } };

/** A task failed inside a worker; the worker is fine and keeps serving. */
export class WorkerTaskError extends SpandaError {
  constructor(message: string) {
    super('worker-task', message);
  }
}

/** The pool was closed: nothing more will run. */
export class PoolClosedError extends SpandaError {
  constructor(message: string) {
    super('closed', message);
  }
}

export interface WorkerPoolOptions {
  /** Names the pool in error messages, e.g. "offline embedder (use-lite-512)". */
  readonly name: string;
  readonly size: number;
  /** Starts one worker whose module calls serveTasks. */
  readonly start: () => Worker;
}

export interface WorkerPool<Request, Result> {
  readonly size: number;
  /**
   * Runs one task on the next idle worker; an `urgent` task goes ahead of those queued (a query waiting behind a
   * bulk load). Rejects with WorkerTaskError when the task throws in the worker, TransientError when the worker dies
   * meanwhile (it is replaced), PoolClosedError once the pool is closed.
   */
  run(request: Request, options?: { readonly transfer?: readonly Transferable[]; readonly urgent?: boolean }): Promise<Result>;
  /** Terminates the workers; queued and running tasks reject with PoolClosedError. */
  close(): Promise<void>;
}

interface Task {
  readonly id: number;
  readonly request: unknown;
  readonly transfer: readonly Transferable[];
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: Error) => void;
}

interface Slot {
  readonly worker: Worker;
  task: Task | undefined;
  /** The uncaught error that is about to end the worker, for the exit message. */
  crash: Error | undefined;
}

export function createWorkerPool<Request, Result>(options: WorkerPoolOptions): WorkerPool<Request, Result> {
  if (!Number.isInteger(options.size) || options.size < 1) {
    throw new RangeError(`${options.name}: pool size must be a positive integer, got ${options.size}`);
  }
  const slots = new Set<Slot>();
  const queue: Task[] = [];
  let nextId = 1;
  let closed = false;

  const spawn = (): Slot => {
    const slot: Slot = { worker: options.start(), task: undefined, crash: undefined };
    slot.worker.on('message', (message: ReplyMessage) => {
      const task = slot.task;
      if (!task || task.id !== message.id) return;
      slot.task = undefined;
      if (message.ok) task.resolve(message.result);
      else task.reject(new WorkerTaskError(`${options.name}: ${message.error.message}`));
      dispatch();
    });
    slot.worker.on('error', (error) => {
      slot.crash = error;
    });
    slot.worker.on('exit', (code) => {
      slots.delete(slot);
      const task = slot.task;
      slot.task = undefined;
      if (closed || !task) return;
      const why = slot.crash ? `: ${slot.crash.message}` : ` with code ${code}`;
      task.reject(new TransientError(`${options.name}: worker thread exited${why} while running a task; it is replaced, retry the task`, undefined, { cause: slot.crash }));
      // The replacement starts only if there is work, so a worker that cannot start does not spin.
      dispatch();
    });
    slots.add(slot);
    return slot;
  };

  const dispatch = () => {
    while (queue.length > 0) {
      let idle: Slot | undefined;
      for (const slot of slots) if (!slot.task) idle = slot;
      if (!idle && slots.size < options.size) idle = spawn();
      if (!idle) break;
      const task = queue.shift() as Task;
      idle.task = task;
      idle.worker.ref();
      idle.worker.postMessage({ id: task.id, request: task.request } satisfies TaskMessage, [...task.transfer]);
    }
    // An idle worker must not keep the process alive on its own.
    for (const slot of slots) if (!slot.task) slot.worker.unref();
  };

  return {
    size: options.size,
    run(request, { transfer = [], urgent = false } = {}) {
      if (closed) return Promise.reject(new PoolClosedError(`${options.name} is closed; create a new one to embed again`));
      return new Promise<Result>((resolve, reject) => {
        const task: Task = { id: nextId++, request, transfer, resolve: resolve as (result: unknown) => void, reject };
        if (urgent) queue.unshift(task);
        else queue.push(task);
        dispatch();
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      const stopped = new PoolClosedError(`${options.name} was closed before the task finished`);
      for (const task of queue.splice(0)) task.reject(stopped);
      const running = [...slots];
      for (const slot of running) {
        slot.task?.reject(stopped);
        slot.task = undefined;
      }
      await Promise.all(running.map((slot) => slot.worker.terminate()));
    },
  };
}

/** Worker side: answers each task with `handle`'s result, transferring the buffers it names; errors go back as messages. */
export function serveTasks<Request, Result>(handle: (request: Request) => Promise<{ result: Result; transfer?: readonly Transferable[] }>): void {
  const port = parentPort;
  if (!port) throw new Error('serveTasks must run in a worker thread started by a WorkerPool');
  port.on('message', (message: TaskMessage) => {
    handle(message.request as Request).then(
      ({ result, transfer = [] }) => port.postMessage({ id: message.id, ok: true, result } satisfies ReplyMessage, [...transfer]),
      (error: unknown) => {
        const { name, message: text } = error instanceof Error ? error : { name: 'Error', message: String(error) };
        port.postMessage({ id: message.id, ok: false, error: { name, message: text } } satisfies ReplyMessage);
      },
    );
  });
}
