// The codec writes CloudEvents headers plus JSON and reads them back, rejecting anything that is not a valid event.
import { headers as createHeaders } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../lib/errors.ts';
import { HEADER, decodeEvent, encodeEvent, eventMetadata } from './codec.ts';
import type { DocumentUpserted } from './events/index.ts';
import { eventJsonSchemas, parseEventData } from './events/index.ts';

const upserted: DocumentUpserted = {
  type: 'document.upserted',
  data: { tenant: 'acme', source: 'api', id: 'doc-1', text: 'hello', metadata: { tags: ['a'] }, contentHash: `sha256:${'0'.repeat(64)}` },
  metadata: eventMetadata('document.upserted', { source: '/api', subject: 'dök 1', causation: { stream: 'DOCUMENTS', seq: 7 }, traceparent: '00-abc-def-01' }),
};

const position = { stream: 'DOCUMENTS', seq: 12 };

describe('codec', () => {
  it('round-trips an event through ce-* headers and a JSON payload', () => {
    const { headers, data } = encodeEvent(upserted, 'msg-1');
    expect(headers.get(HEADER.specversion)).toBe('1.0');
    expect(headers.get(HEADER.type)).toBe('document.upserted');
    expect(headers.get(HEADER.msgId)).toBe('msg-1');
    expect(headers.get(HEADER.causation)).toBe('DOCUMENTS:7');
    expect(JSON.parse(new TextDecoder().decode(data))).toMatchObject({ id: 'doc-1', text: 'hello' });
    const decoded = decodeEvent({ subject: 'docs.acme.api.doc-1', data, headers }, position);
    expect(decoded.type).toBe('document.upserted');
    expect(decoded.data).toEqual(upserted.data);
    expect(decoded.metadata).toMatchObject({ id: upserted.metadata.id, subject: 'dök 1', causation: { stream: 'DOCUMENTS', seq: 7 }, traceparent: '00-abc-def-01' });
    expect(decoded.position).toEqual({ ...position, subject: 'docs.acme.api.doc-1' });
  });

  it('rejects messages that are not valid events, saying why', () => {
    const { headers, data } = encodeEvent(upserted);
    const cases: Array<[string, () => unknown]> = [
      ['no headers', () => decodeEvent({ subject: 's', data, headers: undefined }, position)],
      [
        'unknown event type',
        () => {
          const h = createHeaders();
          h.set(HEADER.type, 'document.exploded');
          h.set(HEADER.specversion, '1.0');
          return decodeEvent({ subject: 's', data, headers: h }, position);
        },
      ],
      ['not JSON', () => decodeEvent({ subject: 's', data: new TextEncoder().encode('{oops'), headers }, position)],
      ['missing field', () => decodeEvent({ subject: 's', data: new TextEncoder().encode('{"tenant":"acme"}'), headers }, position)],
    ];
    for (const [, run] of cases) expect(run).toThrow(ValidationError);
    expect(() => decodeEvent({ subject: 's', data: new TextEncoder().encode('{"tenant":"acme"}'), headers }, position)).toThrow(/invalid document.upserted event: source/);
  });

  it('refuses schema versions newer than this build with an upgrade hint', () => {
    expect(() => parseEventData('document.deleted', 2, { tenant: 'a', source: 'b', id: 'c' })).toThrow(/upgrade Spanda/);
  });

  it('publishes a JSON Schema for every event type', async () => {
    const schemas = await eventJsonSchemas();
    expect(Object.keys(schemas)).toEqual(
      expect.arrayContaining(['document.upserted.v1', 'document.deleted.v1', 'document.chunked.v1', 'document.embedded.v1', 'query.answered.v1']),
    );
    expect(schemas['document.upserted.v1']).toMatchObject({ type: 'object', required: expect.arrayContaining(['tenant', 'source', 'id', 'text']) });
  });
});
