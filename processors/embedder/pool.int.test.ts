// The worker pool with real threads: results, task errors, a crashed worker replaced, close.
import { afterEach, describe, expect, it } from 'vitest';
import { TransientError } from '../../lib/errors.ts';
import { startWorker } from '../../lib/workers.ts';
import type { FixtureRequest } from './pool-fixture-worker.ts';
import { createWorkerPool, PoolClosedError, WorkerTaskError, type WorkerPool } from './pool.ts';

const fixture = new URL('./pool-fixture-worker.ts', import.meta.url);
let pool: WorkerPool<FixtureRequest, { value: number; thread: number }> | undefined;
const makePool = (size: number) => (pool = createWorkerPool({ name: 'test pool', size, start: () => startWorker(fixture) }));

afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

describe('createWorkerPool', () => {
  it('runs tasks on up to `size` threads and returns each result to its caller', async () => {
    const p = makePool(2);
    const results = await Promise.all(Array.from({ length: 8 }, (_, value) => p.run({ do: 'echo', value })));
    expect(results.map((r) => r.value)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(new Set(results.map((r) => r.thread)).size).toBe(2);
  });

  it('runs an urgent task before those already queued', async () => {
    const p = makePool(1);
    const finished: number[] = [];
    const track = (value: number, urgent = false) => p.run({ do: 'echo', value, delayMs: 100 }, { urgent }).then(() => finished.push(value));
    await Promise.all([track(1), track(2), track(3), track(4, true)]);
    // 1 was already running when 4 arrived.
    expect(finished).toEqual([1, 4, 2, 3]);
  });

  it('rejects a task that throws with its message, and keeps serving', async () => {
    const p = makePool(1);
    await expect(p.run({ do: 'fail' })).rejects.toThrow(WorkerTaskError);
    await expect(p.run({ do: 'fail' })).rejects.toThrow('test pool: asked to fail');
    await expect(p.run({ do: 'echo', value: 3 })).resolves.toMatchObject({ value: 3 });
  });

  it('fails the task of a crashed worker as transient and replaces the worker', async () => {
    const p = makePool(1);
    const first = await p.run({ do: 'echo', value: 1 });
    const crash = p.run({ do: 'crash' });
    await expect(crash).rejects.toThrow(TransientError);
    await expect(crash).rejects.toThrow(/asked to crash/);
    const after = await p.run({ do: 'echo', value: 2 });
    expect(after.value).toBe(2);
    expect(after.thread).not.toBe(first.thread);
  });

  it('rejects running and queued tasks on close, and every later task', async () => {
    const p = makePool(1);
    const running = p.run({ do: 'hang' });
    const queued = p.run({ do: 'echo', value: 1 });
    const rejected = Promise.all([expect(running).rejects.toThrow(PoolClosedError), expect(queued).rejects.toThrow(PoolClosedError)]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await p.close();
    await rejected;
    await expect(p.run({ do: 'echo', value: 1 })).rejects.toThrow(/closed/);
  });
});
