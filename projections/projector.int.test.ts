// The projector on real NATS with a scripted store: an event the store refuses is isolated and dead-lettered alone,
// whatever the error; an unavailable store is retried whole and shows in health() and /readyz.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { healthRoutes } from '../api/routes/health.ts';
import type { ApiDeps } from '../api/deps.ts';
import { UnavailableError } from '../lib/errors.ts';
import { createLogger } from '../lib/log.ts';
import { eventMetadata } from '../streams/codec.ts';
import { publishDocument } from '../streams/document-log.ts';
import { readDlq } from '../streams/dlq.ts';
import type { SpandaEvent } from '../streams/events/index.ts';
import { publishEvent } from '../streams/publisher.ts';
import { STREAMS } from '../streams/provision.ts';
import { subjects } from '../streams/subjects.ts';
import { consumersAfterDeletes, startTestNats, type TestNats } from '../test/helpers/nats.ts';
import { hangProcess } from '../test/helpers/processes.ts';
import { inferenceProjection } from './inference.ts';
import { runProjector, type RunningProjector } from './projector.ts';
import { staticServing } from './serving.ts';
import type { InferenceStore, StoreBatch } from './store.ts';

let nats: TestNats;
let projector: RunningProjector | undefined;

beforeEach(async () => {
  nats = await startTestNats();
});
afterEach(async () => {
  await projector?.stop();
  projector = undefined;
  await nats.stop();
});

/** A store that records what it applied and fails as `refuse` says for a batch holding a given document. */
function scriptedStore(refuse: (batch: StoreBatch, call: number) => Error | undefined) {
  const applied = new Set<string>();
  const checkpoints: Record<string, number> = {};
  let calls = 0;
  const store = {
    model: { id: 'm', dims: 4 },
    async apply(batch: StoreBatch) {
      const failure = refuse(batch, calls++);
      if (failure) throw failure;
      for (const op of batch.ops) applied.add(op.docId);
      Object.assign(checkpoints, batch.checkpoints);
    },
    async checkpoints() {
      return { ...checkpoints };
    },
    async stats() {
      return { documents: applied.size, tombstones: 0, chunks: 0, vectors: 0, tenants: 1 };
    },
  };
  return { store: store as unknown as InferenceStore, applied, checkpoints };
}

async function publishChunkedDocs(ids: readonly string[]): Promise<number[]> {
  const seqs: number[] = [];
  for (const id of ids) {
    const doc = await publishDocument(nats.handle, 'acme', { id, source: 'api', text: `text of ${id}`, metadata: {} });
    const event: SpandaEvent = {
      type: 'document.chunked',
      data: {
        tenant: 'acme',
        source: 'api',
        id,
        docSeq: doc.seq,
        document: { metadata: {}, contentHash: `sha256:${'0'.repeat(64)}` },
        chunker: { name: 'markdown', version: 1, size: 800, overlap: 120 },
        part: { index: 0, count: 1 },
        totalChunks: 1,
        chunks: [{ chunkId: `${doc.seq}:0`, ordinal: 0, text: `text of ${id}`, start: 0, end: 10, tokens: 3 }],
      },
      metadata: eventMetadata('document.chunked', { source: '/test' }),
    };
    seqs.push((await publishEvent(nats.handle, subjects.chunks({ tenant: 'acme', source: 'api', id }), event)).seq);
  }
  return seqs;
}

const holds = (batch: StoreBatch, id: string) => batch.ops.some((op) => op.docId === id);

describe('the projector', () => {
  it.each([
    ['RangeError', () => new RangeError('Maximum call stack size exceeded')],
    ['TypeError', () => new TypeError('Cannot read properties of undefined')],
    ['a SQLite constraint error', () => Object.assign(new Error('UNIQUE constraint failed: chunks.chunk_id'), { code: 'SQLITE_CONSTRAINT_UNIQUE', name: 'SqliteError' })],
  ])('dead-letters alone the event the store refuses with %s and applies the rest', async (_, error) => {
    const ids = Array.from({ length: 9 }, (_, i) => (i === 5 ? 'poison' : `ok-${i}`));
    const chunkSeqs = await publishChunkedDocs(ids);
    const { store, applied, checkpoints } = scriptedStore((batch) => (holds(batch, 'poison') ? error() : undefined));
    projector = runProjector(nats.handle, inferenceProjection({ id: 'm', dims: 4 }), store, { batchSize: 500 });
    await projector.waitUntil((ps) => ps.find((p) => p.key === 'CHUNKS')?.applied === chunkSeqs.at(-1), 10_000);
    expect([...applied].sort()).toEqual(ids.filter((id) => id !== 'poison').sort());
    expect(checkpoints.CHUNKS).toBe(chunkSeqs.at(-1));
    const dlq = await readDlq(nats.handle);
    expect(dlq).toHaveLength(1);
    expect(dlq[0]).toMatchObject({ stage: 'projection-inference', stream: 'CHUNKS', seq: chunkSeqs[5] });
    expect(dlq[0]?.reason).toMatch(/cannot project: .+/);
    expect(projector.health()).toMatchObject({ ok: true, consecutiveFailures: 0 });
  });

  it('pipelined (the next batch projected while one applies): applies in order, isolates a refused event, retries a busy store', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => (i === 7 ? 'poison' : `ok-${i}`));
    const chunkSeqs = await publishChunkedDocs(ids);
    const busy = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY', name: 'SqliteError' });
    const committed: number[] = [];
    const { store, applied, checkpoints } = scriptedStore((batch, call) => {
      if (call === 2) return busy();
      if (holds(batch, 'poison')) return new TypeError('Cannot read properties of undefined');
      if (batch.checkpoints.CHUNKS !== undefined) committed.push(batch.checkpoints.CHUNKS);
      return undefined;
    });
    projector = runProjector(nats.handle, inferenceProjection({ id: 'm', dims: 4 }), store, { batchSize: 2, pipeline: true });
    await projector.waitUntil((ps) => ps.find((p) => p.key === 'CHUNKS')?.applied === chunkSeqs.at(-1), 10_000);
    expect([...applied].sort()).toEqual(ids.filter((id) => id !== 'poison').sort());
    expect(checkpoints.CHUNKS).toBe(chunkSeqs.at(-1));
    expect(committed).toEqual([...committed].sort((a, b) => a - b));
    const dlq = await readDlq(nats.handle);
    expect(dlq.map((d) => d.seq)).toEqual([chunkSeqs[7]]);
  });

  /** A lingering projector, caught up with one event ('first'): the sizes of the batches it applies from then on. */
  async function caughtUpLingering(options: { batchSize: number; lingerMs: number }): Promise<{ running: RunningProjector; sizes: number[]; applied: Set<string> }> {
    const sizes: number[] = [];
    const { store, applied } = scriptedStore((batch) => {
      if (batch.ops.length > 0) sizes.push(batch.ops.length);
      return undefined;
    });
    const running = runProjector(nats.handle, inferenceProjection({ id: 'm', dims: 4 }), store, options);
    projector = running;
    // Caught up once its first event is applied (the projector lingers only then, never while catching up).
    const [first] = await publishChunkedDocs(['first']);
    await running.waitUntil((ps) => ps.find((p) => p.key === 'CHUNKS')?.applied === first, 10_000);
    sizes.length = 0;
    return { running, sizes, applied };
  }

  it('with lingerMs, gathers a trickle of events into few batches once caught up, and still applies a lone event', async () => {
    const { running, sizes, applied } = await caughtUpLingering({ batchSize: 500, lingerMs: 1500 });
    const trickle = Array.from({ length: 10 }, (_, i) => `t-${i}`);
    const seqs = await publishChunkedDocs(trickle); // one at a time, each waiting for its acknowledgements
    await running.waitUntil((ps) => ps.find((p) => p.key === 'CHUNKS')?.applied === seqs.at(-1), 10_000);
    expect([...applied].sort()).toEqual(['first', ...trickle].sort());
    // Without lingering each document arrives alone and is applied alone (10 batches of 1).
    expect(sizes.length).toBeLessThanOrEqual(3);
    const [lone] = await publishChunkedDocs(['lone']);
    await running.waitUntil((ps) => ps.find((p) => p.key === 'CHUNKS')?.applied === lone, 10_000);
    expect(applied.has('lone')).toBe(true);
    expect(sizes.at(-1)).toBe(1);
  });

  it('stops lingering for someone who waits on a position', async () => {
    const { running, applied } = await caughtUpLingering({ batchSize: 500, lingerMs: 60_000 });
    const [seq] = await publishChunkedDocs(['waited-for']);
    await new Promise((resolve) => setTimeout(resolve, 300)); // delivered, and lingering, before anyone waits
    expect(applied.has('waited-for')).toBe(false);
    // Lingering alone would hold the event for a minute; the waiter gets it applied now.
    await running.waitUntil((ps) => ps.find((p) => p.key === 'CHUNKS')?.applied === seq, 5_000);
    expect(applied.has('waited-for')).toBe(true);
  });

  it('stops lingering as soon as a whole batch is queued', async () => {
    const { sizes, applied } = await caughtUpLingering({ batchSize: 3, lingerMs: 60_000 });
    // Nobody waits on a position: only the full batch can end a one-minute linger.
    await publishChunkedDocs(['b1', 'b2', 'b3']);
    const deadline = Date.now() + 5_000;
    while (!applied.has('b3') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(['b1', 'b2', 'b3'].filter((id) => applied.has(id))).toEqual(['b1', 'b2', 'b3']);
    expect(sizes).toEqual([3]);
  });

  it('leaves no consumer on its streams once stopped', async () => {
    const { store, applied } = scriptedStore(() => undefined);
    const running = runProjector(nats.handle, inferenceProjection({ id: 'm', dims: 4 }), store);
    projector = running;
    const [seq] = await publishChunkedDocs(['one']);
    await running.waitUntil((ps) => ps.find((p) => p.key === 'CHUNKS')?.applied === seq, 10_000);
    expect(applied.has('one')).toBe(true);
    await running.stop();
    // Its ordered consumers would otherwise stay on the server for 5 minutes after each stop or reopen.
    expect(await consumersAfterDeletes(nats, STREAMS.CHUNKS)).toEqual([]);
    expect(await consumersAfterDeletes(nats, STREAMS.EMBEDDINGS)).toEqual([]);
  });

  it('retries the whole batch while the store is busy and dead-letters nothing', async () => {
    const chunkSeqs = await publishChunkedDocs(['a', 'b', 'c']);
    const busy = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY', name: 'SqliteError' });
    const { store, applied } = scriptedStore((batch, call) => (call < 2 && batch.ops.length > 0 ? busy() : undefined));
    projector = runProjector(nats.handle, inferenceProjection({ id: 'm', dims: 4 }), store);
    await projector.waitUntil((ps) => ps.find((p) => p.key === 'CHUNKS')?.applied === chunkSeqs.at(-1), 10_000);
    expect([...applied].sort()).toEqual(['a', 'b', 'c']);
    expect(await readDlq(nats.handle)).toEqual([]);
  });

  it('is caught up when nothing is left to read, even though the last message it got counted more pending', async () => {
    // Everything after the first chunk is deleted while the projector holds a few of them: the last one it reads was
    // counted with the deleted ones pending, and none arrives after it to say otherwise.
    const chunkSeqs = await publishChunkedDocs(Array.from({ length: 40 }, (_, i) => `d${i}`));
    const first = chunkSeqs[0] as number;
    const base = scriptedStore(() => undefined);
    let blocked: () => void = () => undefined;
    const firstApply = new Promise<void>((resolve) => (blocked = resolve));
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    let calls = 0;
    const store = {
      ...base.store,
      apply: async (batch: StoreBatch) => {
        if (calls++ === 0) {
          blocked();
          await released;
        }
        return base.store.apply(batch);
      },
    } as InferenceStore;
    projector = runProjector(nats.handle, inferenceProjection({ id: 'm', dims: 4 }), store, { batchSize: 1 });
    await firstApply;
    await new Promise((r) => setTimeout(r, 300)); // the sources fill the projector's queue meanwhile
    for (const seq of chunkSeqs.slice(1)) await nats.handle.jsm.streams.deleteMessage('CHUNKS', seq);
    release();
    const running = projector;
    await running.waitUntil(() => running.caughtUp(), 10_000);
    const chunks = running.positions().find((p) => p.key === 'CHUNKS');
    expect(chunks?.pending).toBe(0);
    expect(chunks?.applied).toBeGreaterThan(first); // it had read some of the deleted ones before they were deleted
    expect(running.health()).toMatchObject({ ok: true, detail: 'caught up' });
  });

  it('reports a projection that is not advancing in health() and /readyz, and recovers', async () => {
    await publishChunkedDocs(['a', 'b']);
    let down = true;
    const { store } = scriptedStore(() => (down ? new UnavailableError('the inference store is closed; open it again') : undefined));
    projector = runProjector(nats.handle, inferenceProjection({ id: 'm', dims: 4 }), store, { failuresBeforeUnhealthy: 2 });
    const running = projector;
    const embedder = { info: { id: 'm', dims: 4, normalized: true, maxTokens: 8 }, embed: async () => [] };
    const serving = staticServing({ id: 'scripted', store, embedder, vectorWeight: 0.5, projector: running });
    const readyz = () => healthRoutes({ nats: nats.handle, serving } as unknown as ApiDeps).request('/readyz');
    const deadline = Date.now() + 10_000;
    while (running.health().ok && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(running.health()).toMatchObject({ ok: false, pendingWork: true, lastError: expect.stringMatching(/store is closed/) });
    const notReady = await readyz();
    expect(notReady.status).toBe(503);
    expect((await notReady.json()).checks.projection).toMatchObject({ ok: false, detail: expect.stringMatching(/applying failed \d+ times in a row; last error: the inference store is closed/) });
    expect(await readDlq(nats.handle)).toEqual([]);
    down = false;
    await running.waitUntil(() => running.caughtUp(), 10_000);
    expect(running.health()).toMatchObject({ ok: true });
    expect((await readyz()).status).toBe(200);
  });

  it('retries a store that keeps failing ever less often, logging the start as an error and a full disk with what to do', async () => {
    await publishChunkedDocs(['a']);
    const attempts: number[] = [];
    const full = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    const { store, applied } = scriptedStore((_, call) => {
      attempts.push(Date.now());
      return call < 6 ? full : undefined;
    });
    const lines: Array<{ level: string; message: string; error?: string }> = [];
    const logger = createLogger('test', 'debug', (line) => lines.push(JSON.parse(line)), { format: 'json' });
    projector = runProjector(nats.handle, inferenceProjection({ id: 'm', dims: 4 }), store, { logger, applyRetryMs: { first: 40, max: 160 } });
    const running = projector;
    const deadline = Date.now() + 10_000;
    while (!applied.has('a') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(applied.has('a')).toBe(true);
    const gaps = attempts.slice(1).map((t, i) => t - (attempts[i] as number));
    // 40, 80, 160, then 160 at most: each wait at least as long as it was due (timers never fire early).
    for (const [i, due] of [40, 80, 160, 160, 160, 160].entries()) expect(gaps[i]).toBeGreaterThanOrEqual(due - 5);
    const failures = lines.filter((l) => l.message.startsWith('apply failed'));
    expect(failures.map((l) => l.level)).toEqual(['error', 'warn', 'warn', 'warn', 'warn', 'warn']);
    expect(failures.map((l) => l.message.match(/in ([\d.]+) s$/)?.[1])).toEqual(['0.04', '0.08', '0.16', '0.16', '0.16', '0.16']);
    expect(failures[0]?.error).toMatch(/^database or disk is full \(the disk holding the store is full: free space on it or move the data dir\)$/);
    expect(running.health()).toMatchObject({ ok: true, consecutiveFailures: 0 });
  });

  it('after failing to read the log while JetStream was silent, resumes as soon as it answers instead of at the end of its backoff', async () => {
    await publishChunkedDocs(['a']);
    const { store, applied } = scriptedStore(() => undefined);
    const lines: Array<{ level: string; message: string }> = [];
    const logger = createLogger('test', 'debug', (line) => lines.push(JSON.parse(line)), { format: 'json' });
    const pid = nats.server.pid;
    await hangProcess(pid); // hung: its consumers cannot be made
    let stopped = true;
    try {
      projector = runProjector(nats.handle, inferenceProjection({ id: 'm', dims: 4 }), store, { logger, applyRetryMs: { first: 60_000, max: 60_000 } });
      const deadline = Date.now() + 30_000;
      while (!lines.some((l) => l.message.startsWith('apply failed')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(lines.find((l) => l.message.startsWith('apply failed'))).toMatchObject({ level: 'error', message: expect.stringContaining('in 60 s') });
      process.kill(pid, 'SIGCONT');
      stopped = false;
      const resumedAt = Date.now();
      while (!applied.has('a') && Date.now() < resumedAt + 20_000) await new Promise((r) => setTimeout(r, 50));
      expect(applied.has('a')).toBe(true);
      expect(Date.now() - resumedAt).toBeLessThan(10_000); // not the 60 s backoff
      expect(lines.map((l) => l.message)).toContain('JetStream answers; resuming now');
    } finally {
      if (stopped) process.kill(pid, 'SIGCONT');
    }
  }, 60_000);

  it('after a failure for a full disk, applies as soon as the disk has room again instead of at the end of its backoff', async () => {
    await publishChunkedDocs(['a']);
    const attempts: number[] = [];
    const full = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    const { store, applied } = scriptedStore((_, call) => {
      attempts.push(Date.now());
      return call === 0 ? full : undefined;
    });
    let room = false;
    const lines: Array<{ level: string; message: string }> = [];
    const logger = createLogger('test', 'debug', (line) => lines.push(JSON.parse(line)), { format: 'json' });
    projector = runProjector(nats.handle, inferenceProjection({ id: 'm', dims: 4 }), Object.assign(store, { storageDir: '/data/inference' }), {
      logger,
      applyRetryMs: { first: 60_000, max: 60_000 },
      readDisk: (dir) => (dir === '/data/inference' ? { size: 1_000_000, free: room ? 400_000 : 1_000 } : undefined),
    });
    const deadline = Date.now() + 10_000;
    while (attempts.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // Still full: it waits (its backoff is a minute), looking at the disk meanwhile.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(attempts).toHaveLength(1);
    room = true;
    const freedAt = Date.now();
    while (!applied.has('a') && Date.now() < deadline + 5_000) await new Promise((r) => setTimeout(r, 20));
    expect(applied.has('a')).toBe(true);
    expect(Date.now() - freedAt).toBeLessThan(3_000);
    expect(lines.map((l) => l.message)).toContain('the disk holding the store has room again; applying now');
  });
});

