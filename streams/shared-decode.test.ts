// Shared decoding: the readers of one message in a process get one decoded event, each with its own position.
import type { JsMsg } from '@nats-io/jetstream';
import { beforeEach, describe, expect, it } from 'vitest';
import { encodeEvent, eventMetadata } from './codec.ts';
import { clearSharedDecode, decodeMessage, registerReader, SHARED_DECODE_LIMITS, sharedDecodeUsage } from './shared-decode.ts';

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

/** A document.upserted message of about `bytes` bytes (its text), on the shared test stream. */
function upserted(seq: number, bytes: number): JsMsg {
  const encoded = encodeEvent({
    type: 'document.upserted' as const,
    data: { tenant: 'acme', source: 'api', id: `doc-${seq}`, text: 'x'.repeat(bytes), metadata: {}, contentHash: `sha256:${'0'.repeat(64)}` },
    metadata: eventMetadata('document.upserted', { source: '/test' }),
  });
  return {
    subject: `docs.acme.api.doc-${seq}`,
    data: encoded.data,
    headers: encoded.headers,
    seq,
    info: { stream: 'SHARED_TEST', timestampNanos: 1, deliveryCount: 1 },
  } as unknown as JsMsg;
}

describe('decodeMessage', () => {
  beforeEach(clearSharedDecode);

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

  it('shares a message with a reader 4,000 messages behind (a burst: the catalog reads DOCUMENTS after the chunker)', () => {
    const release = [registerReader('SHARED_TEST'), registerReader('SHARED_TEST')];
    const messages = Array.from({ length: 4000 }, (_, i) => upserted(10_000 + i, 4000));
    const first = messages.map((m) => decodeMessage(m).data);
    const second = messages.map((m) => decodeMessage(m).data);
    expect(second.filter((data, i) => data === first[i])).toHaveLength(4000);
    expect(sharedDecodeUsage()).toEqual({ entries: 0, bytes: 0 }); // each taken by both readers, then let go
    release.forEach((r) => r());
  });

  it('holds at most its byte budget of decoded events, forgetting the oldest first', () => {
    const release = [registerReader('SHARED_TEST'), registerReader('SHARED_TEST')];
    const size = 1024 * 1024;
    const count = Math.ceil(SHARED_DECODE_LIMITS.bytes / size) + 8;
    const messages = Array.from({ length: count }, (_, i) => upserted(20_000 + i, size));
    const first = messages.map((m) => decodeMessage(m).data);
    const usage = sharedDecodeUsage();
    expect(usage.bytes).toBeLessThanOrEqual(SHARED_DECODE_LIMITS.bytes);
    expect(usage.bytes).toBeGreaterThan(SHARED_DECODE_LIMITS.bytes - 2 * size);
    // The newest is still shared; the oldest was forgotten and decodes again.
    expect(decodeMessage(messages[count - 1] as JsMsg).data).toBe(first[count - 1]);
    expect(decodeMessage(messages[0] as JsMsg).data).not.toBe(first[0]);
    release.forEach((r) => r());
  });

  it('keeps an event only for readers whose subjects it is on (a second model\'s vectors are read by the catalog alone)', () => {
    // Subjects of the helper: docs.acme.api.doc-<seq>. One reader of everything, one of this document only.
    const release = [registerReader('SHARED_TEST', ['docs.>']), registerReader('SHARED_TEST', ['docs.*.api.doc-30001'])];
    decodeMessage(upserted(30_000, 100));
    expect(sharedDecodeUsage().entries).toBe(0); // nobody else reads it: not kept
    const shared = upserted(30_001, 100);
    const first = decodeMessage(shared).data;
    expect(sharedDecodeUsage().entries).toBe(1);
    expect(decodeMessage(shared).data).toBe(first);
    expect(sharedDecodeUsage().entries).toBe(0);
    release.forEach((r) => r());
    // Released readers count no more: with none left, nothing is kept.
    decodeMessage(upserted(30_002, 100));
    expect(sharedDecodeUsage().entries).toBe(0);
  });
});
