// A pull request the server forgets (nats-server before 2.9.16 drops an expired one silently) stalls a consumer briefly.
import { DeliverPolicy } from '@nats-io/jetstream';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../lib/metrics.ts';
import type { Processor } from '../processors/processor.ts';
import { runProcessor, type RunningProcessor } from '../processors/runner.ts';
import { startNatsProxy, type NatsProxy } from '../test/helpers/nats-proxy.ts';
import { startTestNats, type TestNats } from '../test/helpers/nats.ts';
import { createLogger, silentLogger } from '../lib/log.ts';
import { forgetsExpiredPulls, reportConsumerStalls } from './consumer-stalls.ts';
import { documentInputSchema, publishDocument } from './document-log.ts';
import type { DocumentRemoved } from './events/index.ts';
import { eventMetadata } from './codec.ts';
import { derivedMsgId } from './ids.ts';
import { connectNats, consumeOptions, type NatsHandle } from './nats.ts';
import { STREAMS } from './provision.ts';
import { subjects } from './subjects.ts';

let nats: TestNats | undefined;
let proxy: NatsProxy | undefined;
let viaProxy: NatsHandle | undefined;
let running: RunningProcessor | undefined;

afterEach(async () => {
  await running?.stop();
  running = undefined;
  await viaProxy?.drain().catch(() => undefined);
  await proxy?.close();
  await nats?.stop();
  viaProxy = proxy = nats = undefined;
});

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a consumer whose pull request the server forgot', () => {
  it('asks again within about a second: a message published after the loss arrives in under 3 s, not 5', async () => {
    nats = await startTestNats({ provisioned: false });
    proxy = await startNatsProxy(nats.server.url);
    viaProxy = await connectNats({ url: proxy.url, name: 'forgotten-pull-test' });
    await nats.handle.jsm.streams.add({ name: 'FORGET', subjects: ['forget.>'] });
    const consumer = await viaProxy.js.consumers.get('FORGET', { deliver_policy: DeliverPolicy.All });
    const messages = await consumer.consume(consumeOptions(100));
    const arrivals: Array<{ data: string; at: number }> = [];
    let stalls = 0;
    reportConsumerStalls(messages, { inc: () => stalls++ }, silentLogger, {});
    void (async () => {
      for await (const m of messages) arrivals.push({ data: m.string(), at: Date.now() });
    })();
    await nats.handle.js.publish('forget.a', 'before');
    await until(() => arrivals.length === 1, 5000);

    // The next pull to expire is ended by the server, but the client never hears of it: the server now holds no request
    // for this consumer and sends nothing, while the client believes 99 messages are still coming.
    await proxy.dropNextRequestTimeout();
    const sent = Date.now();
    await nats.handle.js.publish('forget.a', 'after');
    await until(() => arrivals.length === 2, 15_000);

    expect(arrivals.map((a) => a.data)).toEqual(['before', 'after']);
    // 0.5-1 s measured; with the client's default heartbeats (half of the 5 s expiry) it took 5 s. The client noticed the
    // silence and asked again.
    expect((arrivals[1]?.at ?? Infinity) - sent).toBeLessThan(3000);
    // The silence was noticed (and is reported once: the metric spanda_consumer_stalls_total counts these).
    expect(stalls).toBe(1);
    await messages.close();
  }, 30_000);

  it('in a processor is counted in spanda_consumer_stalls_total, and its input is still processed', async () => {
    nats = await startTestNats();
    proxy = await startNatsProxy(nats.server.url);
    viaProxy = await connectNats({ url: proxy.url, name: 'forgotten-pull-runner' });
    const metrics = createMetrics();
    // Each upserted document becomes a document.removed on CHUNKS: enough to see the input handled.
    const echo: Processor = {
      name: 'stall-echo',
      version: 1,
      stream: STREAMS.DOCUMENTS,
      filterSubjects: ['docs.>'],
      batchSize: 8,
      async handle(inputs) {
        return inputs.map((input) => {
          if (input.type !== 'document.upserted') return [];
          const d = input.data;
          const msgId = derivedMsgId('stall-echo', 1, input.position);
          const event: DocumentRemoved = {
            type: 'document.removed',
            data: { tenant: d.tenant, source: d.source, id: d.id, docSeq: input.position.seq },
            metadata: eventMetadata('document.removed', { source: '/test/stall-echo', id: msgId, causation: input.position }),
          };
          return [{ subject: subjects.chunks(d), event, msgId }];
        });
      },
    };
    running = runProcessor(viaProxy, echo, { metrics });
    const stallCount = async () => (await metrics.consumerStalls.get()).values.find((v) => v.labels.consumer === 'stall-echo')?.value;
    expect(await stallCount()).toBe(0);

    await proxy.dropNextRequestTimeout();
    const sent = Date.now();
    await publishDocument(nats.handle, 'acme', documentInputSchema.parse({ id: 'after-stall', text: 'published once the pull was forgotten' }));
    const handled = async () => nats?.handle.jsm.streams.getMessage(STREAMS.CHUNKS, { last_by_subj: 'chunks.acme.api.after-stall' }).catch(() => null);
    for (let m = await handled(); !m; m = await handled()) {
      if (Date.now() - sent > 15_000) throw new Error('the document was not handled within 15 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(Date.now() - sent).toBeLessThan(3000);
    expect(await stallCount()).toBe(1);
  }, 30_000);

  it('is announced when a node connects to a server that forgets them, with what to do', async () => {
    nats = await startTestNats({ provisioned: false });
    const lines: string[] = [];
    viaProxy = await connectNats({ url: nats.server.url, name: 'forgotten-pull-version', logger: createLogger('test', 'warn', (line) => lines.push(line)) });
    const version = viaProxy.nc.info?.version;
    // This machine's Debian nats-server is 2.9.10, which does; a newer one must not be warned about.
    expect(lines.some((line) => line.includes(`nats-server ${version} forgets`) && line.includes('upgrade nats-server'))).toBe(forgetsExpiredPulls(version));
  });
});
