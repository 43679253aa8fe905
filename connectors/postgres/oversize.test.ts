// Refusing change events too large for NATS: which limit applies, how the row is named, what the DLQ entry keeps.
import { describe, expect, it } from 'vitest';
import { decodeChange } from '../cdc/envelope.ts';
import { UNAVAILABLE_VALUE } from '../cdc/map-change.ts';
import { changeEvent } from './envelope-builder.ts';
import { messageLimit, oversizedReason, publishSize, rowKeyText, trimmedEvent } from './oversize.ts';

const origin = { serverName: 'cdc', db: 'app', schema: 'public', table: 'articles', tsMs: 0 };

describe('oversized change events', () => {
  it('takes the smaller of max_payload and the stream max_msg_size', () => {
    expect(messageLimit(1_000_000)).toEqual({ bytes: 1_000_000, setting: "the NATS server's max_payload" });
    expect(messageLimit(1_000_000, { name: 'S', maxMsgSize: -1 })).toEqual({ bytes: 1_000_000, setting: "the NATS server's max_payload" });
    expect(messageLimit(1_000_000, { name: 'S', maxMsgSize: 4096 })).toEqual({ bytes: 4096, setting: "stream S's max_msg_size" });
  });

  it('counts the message id header against the limit', () => {
    expect(publishSize(new Uint8Array(100), 'pg:s:0/1:0')).toBeGreaterThan(100 + 'pg:s:0/1:0'.length);
  });

  it('names the row by its key, and the large columns with their sizes', () => {
    const event = changeEvent('c', origin, null, { org: 'acme', id: 7, title: 'Huge', body: 'x'.repeat(5000) });
    expect(rowKeyText(event.after, ['org', 'id'])).toBe('row org=acme, id=7');
    expect(rowKeyText(event.after, [])).toBe('a row (the table has no primary key)');
    const reason = oversizedReason({ event, subject: 'cdc.public.articles', msgId: 'm', slot: 's', size: 5200, limit: messageLimit(4096), maxPayload: 4096, keyColumns: ['org', 'id'] });
    expect(reason).toMatch(/^change \(op c\) of public\.articles row org=acme, id=7 is 5200 bytes, over the NATS server's max_payload of 4096 bytes \(body 5002 bytes\)/);
  });

  it('keeps the key and small values in the DLQ copy, then only the key, then nothing', () => {
    const event = changeEvent('c', origin, null, { id: 7, title: 'Huge', body: 'x'.repeat(5000) });
    const decoded = (data: Uint8Array) => {
      const d = decodeChange(data);
      return d.kind === 'change' ? d.event.after : undefined;
    };
    expect(decoded(trimmedEvent(event, ['id'], 4096))).toEqual({ id: 7, title: 'Huge', body: UNAVAILABLE_VALUE });
    const wide = changeEvent('c', origin, null, Object.fromEntries([['id', 7], ...Array.from({ length: 40 }, (_, i) => [`c${i}`, 'y'.repeat(200)])]));
    expect(decoded(trimmedEvent(wide, ['id'], 4096))).toMatchObject({ id: 7, c0: UNAVAILABLE_VALUE, c39: UNAVAILABLE_VALUE });
    expect(trimmedEvent(event, ['id'], 10).byteLength).toBe(0);
  });
});
