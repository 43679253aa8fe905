// The replay's wait for the chunker and the embedder on a real JetStream: done when caught up, a clear error when nobody runs a stage.
import { AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../lib/errors.ts';
import { startTestNats, type TestNats } from '../test/helpers/nats.ts';
import { chunkerConsumerName, chunkerFingerprint, DEFAULT_CHUNKER_SETTINGS } from '../streams/events/index.ts';
import { STREAMS } from '../streams/provision.ts';
import { awaitBackfill, type BackfillProgress } from './backfill.ts';
import type { GenerationSpec } from './generations.ts';
import { embedderConsumer } from './read-your-writes.ts';

const chunker = chunkerFingerprint(DEFAULT_CHUNKER_SETTINGS);
const spec: GenerationSpec = {
  role: 'inference',
  projection: { name: 'inference', version: 1 },
  store: { kind: 'sqlite', schemaVersion: 1 },
  model: { id: 'hash-64', dims: 64, embedderVersion: 1 },
  chunker,
};

let nats: TestNats;

beforeEach(async () => {
  nats = await startTestNats();
  // DOCUMENTS is empty: the chunker has nothing to catch up with once its consumer exists.
  await nats.handle.jsm.consumers.add(STREAMS.DOCUMENTS, { durable_name: chunkerConsumerName(chunker), ack_policy: AckPolicy.Explicit });
  await nats.handle.js.publish('chunks.acme.api.d1', 'a chunk the embedder has to read');
});
afterEach(async () => {
  await nats.stop();
});

const addEmbedderConsumer = () =>
  nats.handle.jsm.consumers.add(STREAMS.CHUNKS, {
    durable_name: embedderConsumer(spec.model.id),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
  });

describe('awaitBackfill', () => {
  it('says which stage is missing when no consumer exists for the model', async () => {
    const waiting = awaitBackfill(nats.handle, spec, { timeoutMs: 5000, idleMs: 500 });
    await expect(waiting).rejects.toThrow(ConfigError);
    await expect(waiting).rejects.toThrow('no embedder runs for model hash-64: add it to SPANDA_MODELS');
  });

  it('says that no node runs the embedder when its consumer is behind and nothing pulls from it', async () => {
    await addEmbedderConsumer(); // left over from a node that ran the model once and stopped
    const progress: BackfillProgress[] = [];
    const started = Date.now();
    const waiting = awaitBackfill(nats.handle, spec, { timeoutMs: 30_000, idleMs: 600, onProgress: (p) => progress.push(p) });
    await expect(waiting).rejects.toThrow(/the hash-64 embedder is behind CHUNKS and nothing has pulled from it for \d+ s: no node runs it/);
    expect(Date.now() - started).toBeLessThan(10_000); // long before the 30 s deadline
    expect(progress.at(-1)).toEqual({ phase: 'backfill', slice: 'embedder hash-64', applied: 0, total: 1 });
    expect(progress.some((p) => p.slice === 'chunker')).toBe(true);
  });

  it('keeps waiting for an embedder that pulls, until it has acknowledged everything', async () => {
    await addEmbedderConsumer();
    const consumer = await nats.handle.js.consumers.get(STREAMS.CHUNKS, embedderConsumer(spec.model.id));
    // A running embedder: it pulls and holds the message for longer than the idle time, then acknowledges it.
    const messages = await consumer.consume({ max_messages: 10 });
    const embedder = (async () => {
      for await (const m of messages) {
        await new Promise((r) => setTimeout(r, 1500));
        m.ack();
      }
    })();
    await awaitBackfill(nats.handle, spec, { timeoutMs: 20_000, idleMs: 600 });
    const info = await nats.handle.jsm.consumers.info(STREAMS.CHUNKS, embedderConsumer(spec.model.id));
    expect(info.ack_floor.stream_seq).toBe(1);
    messages.stop();
    await embedder;
  });

  it('gives up at the deadline on an embedder that pulls but never catches up', async () => {
    await addEmbedderConsumer();
    const consumer = await nats.handle.js.consumers.get(STREAMS.CHUNKS, embedderConsumer(spec.model.id));
    // Read (the client keeps its pull request waiting for more) but never acknowledged: a stage stuck on a message.
    const messages = await consumer.consume({ max_messages: 10 });
    const stuck = (async () => {
      for await (const m of messages) void m;
    })();
    const waiting = awaitBackfill(nats.handle, spec, { timeoutMs: 2000, idleMs: 600 });
    await expect(waiting).rejects.toThrow('the hash-64 embedder has not caught up with CHUNKS 1; try again later');
    messages.stop();
    await stuck;
  });
});
