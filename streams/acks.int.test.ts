// Confirmed acks against a real nats-server: the server has the ack when the promise resolves; a dropped connection or no answer rejects.
import { AckPolicy, DeliverPolicy, type JsMsg } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnavailableError } from '../lib/errors.ts';
import { startTestNats, type TestNats } from '../test/helpers/nats.ts';
import { confirmedAck, PublishTimeoutError } from './acks.ts';

let nats: TestNats;
const STREAM = 'ACKTEST';

beforeAll(async () => {
  nats = await startTestNats({ provisioned: false });
  await nats.handle.jsm.streams.add({ name: STREAM, subjects: ['acktest.>'] });
});
afterAll(async () => {
  await nats?.stop();
});

/** A durable consumer with explicit acks, `count` messages published to it, and the messages fetched (not acked). */
async function fetched(durable: string, count: number): Promise<JsMsg[]> {
  await nats.handle.jsm.consumers.add(STREAM, { durable_name: durable, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New, filter_subject: `acktest.${durable}` });
  for (let i = 0; i < count; i++) await nats.handle.js.publish(`acktest.${durable}`, new TextEncoder().encode(`m${i}`));
  const consumer = await nats.handle.js.consumers.get(STREAM, durable);
  const out: JsMsg[] = [];
  for await (const msg of await consumer.fetch({ max_messages: count, expires: 2000 })) out.push(msg);
  return out;
}

describe('confirmedAck', () => {
  it('resolves once the server holds the ack: the ack floor is past every message acked', async () => {
    const messages = await fetched('confirm', 50);
    expect(messages).toHaveLength(50);
    const before = await nats.handle.jsm.consumers.info(STREAM, 'confirm');
    expect(before.num_ack_pending).toBe(50);
    // Pipelined: all acks in flight at once, each answered on the connection's one reply subscription.
    expect(await Promise.all(messages.map((m) => confirmedAck(nats.handle, m, 5000)))).toEqual(messages.map(() => true));
    // No waiting: a confirmed ack is on the server already.
    const after = await nats.handle.jsm.consumers.info(STREAM, 'confirm');
    expect(after.num_ack_pending).toBe(0);
    expect(after.ack_floor.stream_seq).toBe(messages[messages.length - 1]?.seq);
  });

  it('rejects when no consumer takes the ack, and after the timeout when nothing answers', async () => {
    const [msg] = await fetched('silent', 1);
    if (!msg) throw new Error('no message fetched');
    // The same message with its ack subject pointed elsewhere (the JsMsg keeps it as \`reply\`).
    const ackingTo = (subject: string) => Object.create(msg, { reply: { value: subject } }) as JsMsg;
    // Nobody subscribes: the server answers "no responders", as it does for the ack of a deleted consumer.
    await expect(confirmedAck(nats.handle, ackingTo('_spanda.test.nobody'), 5000)).rejects.toThrow(/no responders/);
    // A subscriber that never answers: the ack is not confirmed, and the wait ends at the timeout.
    const silent = nats.handle.nc.subscribe('_spanda.test.silent', { callback: () => undefined });
    try {
      await expect(confirmedAck(nats.handle, ackingTo('_spanda.test.silent'), 300)).rejects.toBeInstanceOf(PublishTimeoutError);
    } finally {
      silent.unsubscribe();
    }
    // Neither acked the real message.
    expect((await nats.handle.jsm.consumers.info(STREAM, 'silent')).num_ack_pending).toBe(1);
  });

  // Last: it stops the server.
  it('rejects with UnavailableError while the connection is down, so the caller retries rather than trusting the ack', async () => {
    const [msg] = await fetched('down', 1);
    if (!msg) throw new Error('no message fetched');
    await nats.server.stop();
    const deadline = Date.now() + 5000;
    while (nats.handle.connected() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(nats.handle.connected()).toBe(false);
    // Not PublishTimeoutError: it fails as soon as it is asked, the connection being down.
    await expect(confirmedAck(nats.handle, msg, 10_000)).rejects.toBeInstanceOf(UnavailableError);
  });
});
