// The runner against a real nats-server: outputs with derived ids, retries with backoff, DLQ for bad input, clean stop.
import { AckPolicy } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentEventError, TransientError } from '../lib/errors.ts';
import { eventMetadata } from '../streams/codec.ts';
import { documentInputSchema, publishDocument } from '../streams/document-log.ts';
import type { DocumentRemoved } from '../streams/events/index.ts';
import { derivedMsgId } from '../streams/ids.ts';
import { STREAMS } from '../streams/provision.ts';
import { subjects } from '../streams/subjects.ts';
import { startTestNats, type TestNats } from '../test/helpers/nats.ts';
import type { Processor } from './processor.ts';
import { DLQ_HEADER, runProcessor, type RunningProcessor } from './runner.ts';

let nats: TestNats;
beforeAll(async () => {
  nats = await startTestNats();
});
afterAll(async () => {
  await nats?.stop();
});

/** Turns every upserted document into a document.removed on CHUNKS; the text steers failures. */
function testProcessor(attempts: Map<string, number>): Processor {
  return {
    name: 'echo',
    version: 1,
    stream: STREAMS.DOCUMENTS,
    filterSubjects: ['docs.>'],
    batchSize: 16,
    async handle(inputs) {
      return inputs.map((input) => {
        if (input.type !== 'document.upserted') return new PermanentEventError(`echo cannot handle ${input.type}`);
        const d = input.data;
        const n = (attempts.get(d.id) ?? 0) + 1;
        attempts.set(d.id, n);
        if (d.text === 'permanent') return new PermanentEventError('this document can never be processed');
        if (d.text === 'flaky' && n < 3) return new TransientError(`flaky failure ${n}`);
        const msgId = derivedMsgId('echo', 1, input.position);
        const event: DocumentRemoved = {
          type: 'document.removed',
          data: { tenant: d.tenant, source: d.source, id: d.id, docSeq: input.position.seq },
          metadata: eventMetadata('document.removed', { source: '/test/echo', id: msgId, causation: input.position }),
        };
        return [{ subject: subjects.chunks(d), event, msgId }];
      });
    },
  };
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A processor of one tenant's documents that hands `record` the ids of each batch and publishes nothing. */
function recorder(name: string, tenant: string, extra: Partial<Processor>, record: (ids: string[]) => Promise<void>): Processor {
  return {
    name,
    version: 1,
    stream: STREAMS.DOCUMENTS,
    filterSubjects: [`docs.${tenant}.>`],
    batchSize: 1,
    ...extra,
    async handle(inputs) {
      await record(inputs.map((input) => (input.type === 'document.upserted' ? input.data.id : input.type)));
      return inputs.map(() => []);
    },
  };
}

const countOf = async (stream: string) => (await nats.handle.jsm.streams.info(stream)).state.messages;
const publish = (id: string, text: string) => publishDocument(nats.handle, 'acme', documentInputSchema.parse({ id, text }));

describe('runProcessor', () => {
  let running: RunningProcessor;
  const attempts = new Map<string, number>();

  it('publishes outputs with ids derived from the input and acks', async () => {
    running = runProcessor(nats.handle, testProcessor(attempts), { backoffBaseMs: 50, backoffMaxMs: 200 });
    const input = await publish('ok-1', 'fine');
    const out = await waitFor(async () =>
      (await nats.handle.jsm.streams.getMessage(STREAMS.CHUNKS, { last_by_subj: 'chunks.acme.api.ok-1' }).catch(() => undefined)) ?? undefined,
    );
    expect(out.header.get('Nats-Msg-Id')).toBe(`echo@1:DOCUMENTS:${input.seq}:0`);
    expect(out.header.get('spanda-causation')).toBe(`DOCUMENTS:${input.seq}`);
  });

  it('retries a transient failure with backoff until it succeeds', async () => {
    await publish('flaky-1', 'flaky');
    await waitFor(async () => (await nats.handle.jsm.streams.getMessage(STREAMS.CHUNKS, { last_by_subj: 'chunks.acme.api.flaky-1' }).catch(() => undefined)) ?? undefined);
    expect(attempts.get('flaky-1')).toBe(3);
  });

  it('sends a permanently failing event and an invalid message to the DLQ with the reason, and keeps running', async () => {
    const bad = await publish('bad-1', 'permanent');
    await nats.handle.js.publish('docs.acme.api.garbage', new TextEncoder().encode('not an event'));
    const reasons = await waitFor(async () => {
      if ((await countOf(STREAMS.DLQ)) < 2) return undefined;
      const first = await nats.handle.jsm.streams.getMessage(STREAMS.DLQ, { seq: 1 });
      const second = await nats.handle.jsm.streams.getMessage(STREAMS.DLQ, { seq: 2 });
      return [first, second];
    });
    const bySeq = new Map(reasons.flatMap((m) => (m ? [[Number(m.header.get(DLQ_HEADER.seq)), m] as const] : [])));
    expect(bySeq.get(bad.seq)?.header.get(DLQ_HEADER.reason)).toMatch(/can never be processed/);
    const garbage = [...bySeq.values()].find((m) => m.header.get(DLQ_HEADER.subject) === 'docs.acme.api.garbage');
    expect(garbage?.header.get(DLQ_HEADER.reason)).toMatch(/no headers/);
    expect(new TextDecoder().decode(garbage?.data)).toBe('not an event');
    await publish('ok-2', 'still running');
    await waitFor(async () => (await nats.handle.jsm.streams.getMessage(STREAMS.CHUNKS, { last_by_subj: 'chunks.acme.api.ok-2' }).catch(() => undefined)) ?? undefined);
  });

  it('publishes nothing new when every input is processed again from the start', async () => {
    await running.stop();
    const before = await countOf(STREAMS.CHUNKS);
    await nats.handle.jsm.consumers.delete(STREAMS.DOCUMENTS, 'echo');
    const again = runProcessor(nats.handle, testProcessor(new Map()), { backoffBaseMs: 50, backoffMaxMs: 200 });
    await waitFor(async () => {
      const info = await nats.handle.jsm.consumers.info(STREAMS.DOCUMENTS, 'echo');
      return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined;
    });
    expect(await countOf(STREAMS.CHUNKS)).toBe(before);
    await again.stop();
  });

  it('keeps inputs queued behind a slow batch from being redelivered, and holds no more than maxInFlight', async () => {
    const handled = new Map<string, number>();
    const slow: Processor = {
      name: 'slow',
      version: 1,
      stream: STREAMS.DOCUMENTS,
      filterSubjects: ['docs.slow.>'],
      batchSize: 1,
      maxInFlight: 8,
      async handle(inputs) {
        await new Promise((r) => setTimeout(r, 700));
        for (const input of inputs) if (input.type === 'document.upserted') handled.set(input.data.id, (handled.get(input.data.id) ?? 0) + 1);
        return inputs.map(() => []);
      },
    };
    for (let i = 0; i < 6; i++) await publishDocument(nats.handle, 'slow', documentInputSchema.parse({ id: `s-${i}`, text: 'slow work' }));
    // A consumer left by an earlier version (1,000 in flight, 120 s ack wait) is brought up to date at start.
    await nats.handle.jsm.consumers.add(STREAMS.DOCUMENTS, {
      durable_name: 'slow',
      ack_policy: AckPolicy.Explicit,
      filter_subject: 'docs.slow.>',
      ack_wait: 120_000_000_000,
      max_ack_pending: 1000,
    });
    // ack_wait 1.5 s: the last input waits ~3.5 s behind the others, well past it.
    const run = runProcessor(nats.handle, slow, { ackWaitMs: 1500 });
    try {
      const info = await waitFor(async () => {
        const i = await nats.handle.jsm.consumers.info(STREAMS.DOCUMENTS, 'slow');
        return i.num_pending === 0 && i.num_ack_pending === 0 ? i : undefined;
      });
      expect(info.config.max_ack_pending).toBe(8);
      expect(info.config.ack_wait).toBe(1_500_000_000);
      expect([...handled.values()]).toEqual([1, 1, 1, 1, 1, 1]);
      expect(info.delivered.consumer_seq).toBe(6);
    } finally {
      await run.stop();
    }
  });

  it('with concurrentBatches, handles later inputs beside a batch that takes long instead of after it', async () => {
    // One input takes 4 s (a document of thousands of chunks before a model); the others are quick.
    for (const [lanes, tenant, expected] of [
      [2, 'lanes', ['small-1', 'small-2', 'huge']],
      [undefined, 'onelane', ['huge', 'small-1', 'small-2']],
    ] as const) {
      const finished: string[] = [];
      const processor = recorder(`lanes-${tenant}`, tenant, lanes !== undefined ? { concurrentBatches: lanes } : {}, async (ids) => {
        if (ids.includes('huge')) await sleep(4000);
        finished.push(...ids);
      });
      const run = runProcessor(nats.handle, processor);
      try {
        for (const id of ['huge', 'small-1', 'small-2']) await publishDocument(nats.handle, tenant, documentInputSchema.parse({ id, text: id }));
        await waitFor(async () => (finished.length === 3 ? true : undefined));
        expect(finished, `concurrentBatches ${lanes ?? 'default'}`).toEqual(expected);
        const info = await nats.handle.jsm.consumers.info(STREAMS.DOCUMENTS, processor.name);
        expect(info.num_ack_pending).toBe(0);
        expect(info.ack_floor.stream_seq).toBe(info.delivered.stream_seq);
      } finally {
        await run.stop();
      }
    }
  });

  it('with concurrentBatches, stop waits for every running batch and releases the queued inputs to the next runner', async () => {
    const started: string[] = [];
    const finished: string[] = [];
    let delayMs = 2500;
    const processor = recorder('lanes-stop', 'lanestop', { concurrentBatches: 2 }, async (ids) => {
      started.push(...ids);
      await sleep(delayMs);
      finished.push(...ids);
    });
    const run = runProcessor(nats.handle, processor);
    for (const id of ['a', 'b', 'c']) await publishDocument(nats.handle, 'lanestop', documentInputSchema.parse({ id, text: 'slow' }));
    // Two lanes: a starts, b starts beside it a second later, c waits for a lane.
    await waitFor(async () => (started.length === 2 ? true : undefined));
    await run.stop();
    expect(started).toEqual(['a', 'b']);
    expect(finished).toEqual(['a', 'b']);
    // The next runner gets c at once (released, not left to its ack wait) and nothing that was acked.
    delayMs = 0;
    const next = runProcessor(nats.handle, processor);
    try {
      await waitFor(async () => (finished.length === 3 ? true : undefined), 5000);
      expect(finished).toEqual(['a', 'b', 'c']);
    } finally {
      await next.stop();
    }
  });

  it('with maxBatchBytes, puts a message larger than the limit in a batch of its own', async () => {
    const batches: string[][] = [];
    const processor = recorder('bytes', 'bytes', { batchSize: 32, maxBatchBytes: 64 * 1024 }, async (ids) => {
      batches.push(ids);
      // The first batch takes a while, so everything after it is waiting when the next batch is taken.
      if (ids.includes('s1')) await sleep(800);
    });
    const run = runProcessor(nats.handle, processor);
    const publish = (id: string, text: string) => publishDocument(nats.handle, 'bytes', documentInputSchema.parse({ id, text }));
    try {
      await publish('s1', 'small');
      await waitFor(async () => (batches.length === 1 ? true : undefined));
      // Published while s1's batch runs: all four are waiting when the next batch is taken.
      for (const [id, text] of [['s2', 'small'], ['huge', 'word '.repeat(40_000)], ['s3', 'small'], ['s4', 'small']] as const) await publish(id, text);
      await waitFor(async () => (batches.flat().length === 5 ? true : undefined));
      expect(batches).toEqual([['s1'], ['s2'], ['huge'], ['s3', 's4']]);
    } finally {
      await run.stop();
    }
  });

  it('stop releases a batch still running after the stop grace to the next runner at once', async () => {
    const handled: string[] = [];
    let slowMs = 4000;
    const processor = recorder('grace', 'grace', {}, async (ids) => {
      const ms = slowMs;
      await sleep(ms);
      handled.push(...ids.map((id) => `${id}@${ms}`));
    });
    // A 60 s ack wait: an input not released would come back only after it, far past the waits below.
    const first = runProcessor(nats.handle, processor, { ackWaitMs: 60_000, stopGraceMs: 300 });
    await publishDocument(nats.handle, 'grace', documentInputSchema.parse({ id: 'g1', text: 'takes long' }));
    await waitFor(async () => ((await nats.handle.jsm.consumers.info(STREAMS.DOCUMENTS, 'grace')).num_ack_pending === 1 ? true : undefined));
    await first.stop();
    expect(handled).toEqual([]); // stop did not wait the 4 s
    slowMs = 0;
    const next = runProcessor(nats.handle, processor, { ackWaitMs: 60_000 });
    try {
      await waitFor(async () => (handled.length > 0 ? true : undefined), 3000);
      expect(handled).toEqual(['g1@0']);
      const info = await nats.handle.jsm.consumers.info(STREAMS.DOCUMENTS, 'grace');
      expect(info.num_ack_pending + info.num_pending).toBe(0);
    } finally {
      await next.stop();
    }
  });
});
