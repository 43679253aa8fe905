// Shared decoding: the readers of one message in a process get one decoded event, each with its own position.
import type { JsMsg } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { encodeEvent, eventMetadata } from './codec.ts';
import { decodeMessage, registerReader } from './shared-decode.ts';

function message(seq: number, timestampNanos: number, data?: Uint8Array): JsMsg {
  const event = {
    type: 'document.deleted' as const,
    data: { tenant: 'acme', source: 'api', id: `doc-${seq}` },
    metadata: eventMetadata('document.deleted', { source: '/test' }),
  };
  const encoded = encodeEvent(event);
  return {
    subject: `docs.acme.api.doc-${seq}`,
    data: data ?? encoded.data,
    headers: encoded.headers,
    seq,
    info: { stream: 'SHARED_TEST', timestampNanos, deliveryCount: 1 },
  } as unknown as JsMsg;
}

describe('decodeMessage', () => {
  it('decodes a message once for its readers and gives each its own position', () => {
    const release = [registerReader('SHARED_TEST'), registerReader('SHARED_TEST')];
    const msg = message(1, 1000);
    const first = decodeMessage(msg, 1);
    const second = decodeMessage(msg, 3);
    expect(second.data).toBe(first.data);
    expect(first.position).toEqual({ stream: 'SHARED_TEST', seq: 1, subject: msg.subject, deliveryCount: 1 });
    expect(second.position).toEqual({ stream: 'SHARED_TEST', seq: 1, subject: msg.subject, deliveryCount: 3 });
    // Both readers took it: a third read decodes again.
    expect(decodeMessage(msg).data).not.toBe(first.data);
    release.forEach((r) => r());
  });

  it('never answers a message stored at another time with the same sequence (a recreated stream)', () => {
    const release = [registerReader('SHARED_TEST'), registerReader('SHARED_TEST')];
    const old = decodeMessage(message(2, 1000));
    const recreated = decodeMessage(message(2, 2000));
    expect(recreated.data).not.toBe(old.data);
    release.forEach((r) => r());
  });

  it('gives every reader the decoding error of a bad message', () => {
    const release = [registerReader('SHARED_TEST'), registerReader('SHARED_TEST')];
    const bad = message(3, 1000, new TextEncoder().encode('{oops'));
    expect(() => decodeMessage(bad)).toThrow(/not valid UTF-8 JSON/);
    expect(() => decodeMessage(bad)).toThrow(/not valid UTF-8 JSON/);
    release.forEach((r) => r());
  });
});
