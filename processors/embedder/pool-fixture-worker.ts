// Worker for pool.int.test.ts: echoes, fails or crashes on request, so the pool's failure handling can be observed.
import { serveTasks } from './pool.ts';

export type FixtureRequest =
  | { readonly do: 'echo'; readonly value: number; readonly delayMs?: number }
  | { readonly do: 'fail' | 'crash' | 'hang' };

serveTasks<FixtureRequest, { value: number; thread: number }>(async (request) => {
  const { threadId } = await import('node:worker_threads');
  switch (request.do) {
    case 'echo': {
      if (request.delayMs) await new Promise((resolve) => setTimeout(resolve, request.delayMs));
      const buffer = new Float32Array([request.value]);
      return { result: { value: buffer[0] as number, thread: threadId }, transfer: [buffer.buffer] };
    }
    case 'fail':
      throw new Error('asked to fail');
    case 'crash':
      // An uncaught error ends the thread, as a native crash or an out-of-memory would.
      setImmediate(() => {
        throw new Error('asked to crash');
      });
      return new Promise(() => {});
    case 'hang':
      return new Promise(() => {});
  }
});
