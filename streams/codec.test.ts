// The codec writes CloudEvents headers plus JSON and reads them back, rejecting anything that is not a valid event.
import { headers as createHeaders } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../lib/errors.ts';
import { HEADER, decodeEvent, encodeEvent, eventMetadata } from './codec.ts';
import type { DocumentUpserted } from './events/index.ts';
import { decodeVector, encodeVector, eventJsonSchemas, parseEventData } from './events/index.ts';

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
      [
        'ce-time not a time',
        () => {
          const h = encodeEvent(upserted).headers;
          h.set(HEADER.time, 'yesterday');
          return decodeEvent({ subject: 'docs.acme.api.doc-1', data, headers: h }, position);
        },
      ],
      ['not JSON', () => decodeEvent({ subject: 's', data: new TextEncoder().encode('{oops'), headers }, position)],
      ['missing field', () => decodeEvent({ subject: 's', data: new TextEncoder().encode('{"tenant":"acme"}'), headers }, position)],
    ];
    for (const [, run] of cases) expect(run).toThrow(ValidationError);
    expect(() => decodeEvent({ subject: 's', data: new TextEncoder().encode('{"tenant":"acme"}'), headers }, position)).toThrow(/invalid document.upserted event: source/);
  });

  it('refuses a payload that names another document than its subject (tenant, source, id, model)', () => {
    const { headers, data } = encodeEvent(upserted);
    const decode = (subject: string) => () => decodeEvent({ subject, data, headers }, position);
    expect(decode('docs.acme.api.doc-1')).not.toThrow();
    expect(decode('docs.other.api.doc-1')).toThrow(/names tenant "other", the payload "acme"/);
    expect(decode('docs.acme.rss.doc-1')).toThrow(/names source "rss"/);
    expect(decode('docs.acme.api.doc-2')).toThrow(/names document "doc-2"/);
    expect(decode('chunks.acme.api.doc-1')).toThrow(/is not a docs\.… subject/);
    for (const subject of ['docs.other.api.doc-1', 'queries.acme']) expect(decode(subject)).toThrow(ValidationError);

    const model = { id: 'use-lite-512', dims: 2, normalized: true, maxTokens: 128 };
    const embedded = encodeEvent({
      type: 'document.embedded',
      data: { tenant: 'acme', source: 'api', id: 'a.b', docSeq: 3, model, part: { index: 0, count: 1 }, vectors: [] },
      metadata: eventMetadata('document.embedded', { source: '/test' }),
    });
    const decodeEmbedded = (subject: string) => () => decodeEvent({ subject, ...embedded }, { stream: 'EMBEDDINGS', seq: 1 });
    expect(decodeEmbedded('embeddings.use-lite-512.acme.api.a%2Eb')).not.toThrow();
    expect(decodeEmbedded('embeddings.other-model.acme.api.a%2Eb')).toThrow(/names model "other-model", the payload "use-lite-512"/);
    // Only the canonical encoding names the document: one document never has two subjects.
    expect(decodeEmbedded('embeddings.use-lite-512.acme.api.a%2eb')).toThrow(/names document/);
  });

  it('refuses a part outside its count and a chunk that ends before it starts (a store would merge them into the version)', () => {
    const chunked = (part: { index: number; count: number }, start: number, end: number) =>
      encodeEvent({
        type: 'document.chunked',
        data: {
          tenant: 'acme',
          source: 'api',
          id: 'doc-1',
          docSeq: 3,
          document: { metadata: {}, contentHash: `sha256:${'0'.repeat(64)}` },
          chunker: { name: 'markdown', version: 1, size: 800, overlap: 120 },
          part,
          totalChunks: 1,
          chunks: [{ chunkId: '3:0', ordinal: 0, text: 'text', start, end, tokens: 1 }],
        },
        metadata: eventMetadata('document.chunked', { source: '/test' }),
      });
    const decode = (encoded: ReturnType<typeof chunked>) => () => decodeEvent({ subject: 'chunks.acme.api.doc-1', ...encoded }, { stream: 'CHUNKS', seq: 4 });
    expect(decode(chunked({ index: 1, count: 2 }, 0, 4))).not.toThrow();
    expect(decode(chunked({ index: 5, count: 2 }, 0, 4))).toThrow(/part 5 of 2: part indexes run from 0 to count - 1/);
    expect(decode(chunked({ index: 0, count: 1 }, 50, 3))).toThrow(/chunk "3:0" ends \(3\) before it starts \(50\)/);
    expect(decode(chunked({ index: 0, count: 1 }, 4, 4))).not.toThrow();
  });

  it('refuses vectors that are all zeros or not finite', () => {
    expect(() => decodeVector(encodeVector(new Float32Array([0.6, 0.8])), 2)).not.toThrow();
    expect(() => decodeVector(encodeVector(new Float32Array(4)), 4)).toThrow(/all zeros/);
    expect(() => decodeVector(encodeVector(new Float32Array([1, Number.NaN])), 2)).toThrow(/non-finite/);
    expect(() => decodeVector(encodeVector(new Float32Array([1, Number.POSITIVE_INFINITY])), 2)).toThrow(/non-finite/);
    expect(() => decodeVector(encodeVector(new Float32Array([1, 0])), 3)).toThrow(/2 dimensions, the model declares 3/);
    expect(() => decodeVector(encodeVector(new Float32Array([1, 0, 2])), 2)).toThrow(/3 dimensions, the model declares 2/);
    expect(() => decodeVector(encodeVector(new Float32Array([0.5, -0, 2, Number.NEGATIVE_INFINITY])), 4)).toThrow(/non-finite component \(-Infinity at 3\)/);
    // Finite, but its squared length overflows float32: a store's cosines with it come out 0 or NaN.
    expect(() => decodeVector(encodeVector(new Float32Array([1e30, 0])), 2)).toThrow(/too long to compare/);
    expect(() => decodeVector(encodeVector(new Float32Array([1e18, 1e18])), 2)).not.toThrow();
    // Cut short: bytes that are not whole float32s say so, not "18.75 dimensions".
    expect(() => decodeVector(encodeVector(new Float32Array([0.6, 0.8, 0.1])).slice(0, 10), 3)).toThrow(/7 bytes, not a whole number of float32s \(truncated or not base64\?\)/);
  });

  it('decodes base64 that is not in its plain form as Buffer.from does, and refuses what does not decode to the dimensions', () => {
    const vector = new Float32Array([0.25, -1.5, 3, 1e-7, 42]); // 20 bytes: padded base64
    const plain = encodeVector(vector);
    expect(plain.endsWith('=')).toBe(true);
    expect(decodeVector(plain, 5)).toEqual(vector);
    // Line breaks and spaces are skipped, and unpadded text decodes too.
    expect(decodeVector(`${plain.slice(0, 10)}\n${plain.slice(10, 20)} ${plain.slice(20)}`, 5)).toEqual(vector);
    expect(decodeVector(plain.replace(/=+$/, ''), 5)).toEqual(vector);
    // A character outside base64 in place of one inside leaves the text short of the dimensions.
    expect(() => decodeVector(`${plain.slice(0, 8)}*${plain.slice(9)}`, 5)).toThrow(/19 bytes, not a whole number of float32s/);
    expect(() => decodeVector('', 5)).toThrow(/0 dimensions, the model declares 5/);
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
