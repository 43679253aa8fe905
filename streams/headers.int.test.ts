// Header decoding of received messages: headersOf reads what the client's own decoder reads, from a real server.
import { DeliverPolicy } from '@nats-io/jetstream';
import { MsgHdrsImpl } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNats, type TestNats } from '../test/helpers/nats.ts';
import { decodeHeaderBlock, encodeEvent, eventMetadata, headersOf } from './codec.ts';
import { STREAMS } from './provision.ts';
import { publishEvent } from './publisher.ts';
import { subjects } from './subjects.ts';

let nats: TestNats;
beforeAll(async () => {
  nats = await startTestNats();
});
afterAll(async () => {
  await nats?.stop();
});

const entries = (h: MsgHdrsImpl) => [...h.headers.entries()];
const block = (text: string) => new TextEncoder().encode(text);

describe('decodeHeaderBlock', () => {
  it.each([
    ['plain headers', 'NATS/1.0\r\nce-type: document.upserted\r\nNats-Msg-Id: a/b\r\n\r\n'],
    ['a repeated name and spaces around values', 'NATS/1.0\r\nx-a:  1 \r\nx-a:2\r\nempty:\r\n\r\n'],
    ['a value with a colon', 'NATS/1.0\r\ntraceparent: 00-ab:cd-01\r\n\r\n'],
    ['a status line with a code', 'NATS/1.0 503\r\n\r\n'],
    ['a line without a colon', 'NATS/1.0\r\nnonsense\r\nx: 1\r\n\r\n'],
  ])('reads %s as the client does', (_name, text) => {
    const ours = decodeHeaderBlock(block(text));
    const theirs = MsgHdrsImpl.decode(block(text));
    expect(entries(ours)).toEqual(entries(theirs));
    expect(ours.code).toBe(theirs.code);
  });
});

describe('headersOf', () => {
  it('gives a consumed event the headers it was published with, and msg.headers the same object', async () => {
    const address = { tenant: 'acme', source: 'api', id: 'héllo world' };
    const event = {
      type: 'document.deleted' as const,
      data: address,
      metadata: eventMetadata('document.deleted', { source: '/test', subject: address.id, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }),
    };
    const published = await publishEvent(nats.handle, subjects.document(address), event, { msgId: 'headers-test' });
    const consumer = await nats.handle.js.consumers.get(STREAMS.DOCUMENTS, { opt_start_seq: published.seq, deliver_policy: DeliverPolicy.StartSequence });
    const msg = await consumer.next({ expires: 5000 });
    expect(msg).not.toBeNull();
    const h = headersOf(msg!);
    const expected = encodeEvent(event, 'headers-test').headers as MsgHdrsImpl;
    expect(entries(h as MsgHdrsImpl)).toEqual(entries(expected));
    expect(msg!.headers).toBe(h);
  });
});
