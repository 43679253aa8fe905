// A pull request the server forgets (nats-server before 2.9.16 drops an expired one silently) stalls a consumer briefly.
import { DeliverPolicy } from '@nats-io/jetstream';
import { afterEach, describe, expect, it } from 'vitest';
import { startNatsProxy, type NatsProxy } from '../test/helpers/nats-proxy.ts';
import { startTestNats, type TestNats } from '../test/helpers/nats.ts';
import { connectNats, consumeOptions, type NatsHandle } from './nats.ts';

let nats: TestNats | undefined;
let proxy: NatsProxy | undefined;
let viaProxy: NatsHandle | undefined;

afterEach(async () => {
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
    const statuses: string[] = [];
    void (async () => {
      for await (const status of messages.status()) statuses.push(status.type);
    })();
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
    expect(statuses).toContain('heartbeats_missed');
    await messages.close();
  }, 30_000);
});
