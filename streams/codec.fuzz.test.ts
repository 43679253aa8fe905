// Property: decoding any message (any headers, any bytes, any subject) either gives an event or throws ValidationError,
// so a runner dead-letters a bad event at once instead of retrying it as if the failure were transient.
import fc from 'fast-check';
import { headers as createHeaders } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../lib/errors.ts';
import { decodeEvent, encodeEvent, eventMetadata } from './codec.ts';
import { EVENT_TYPES } from './events/index.ts';
import { subjects } from './subjects.ts';

const headerValue = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('1', '2', '0', '-1', 'NaN', '1e9', 'DOCUMENTS:1', 'DOCUMENTS:x', ':', '%', '%E0%A4%A', '%zz', 'CHUNKS:-5'));
const headerName = fc.constantFrom('ce-type', 'ce-specversion', 'content-type', 'spanda-schema-version', 'ce-subject', 'causation', 'traceparent', 'ce-id', 'ce-source', 'ce-time');
const token = fc.stringMatching(/^[a-z0-9%_-]{1,8}$/);
const subject = fc.oneof(
  fc.tuple(fc.constantFrom('docs', 'chunks'), token, token, token).map((p) => p.join('.')),
  fc.tuple(token, token, token, token, token).map((p) => `embeddings.${p.join('.')}`),
  fc.tuple(token, token).map((p) => `queries.${p.join('.')}`),
);
const json = fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.record({ tenant: token, source: token, id: fc.string(), text: fc.string(), docSeq: fc.integer(), contentHash: fc.constant(`sha256:${'0'.repeat(64)}`) }, { requiredKeys: [] }));

describe('decodeEvent on anything', () => {
  it('returns an event or throws ValidationError, never another error', () => {
    const encoder = new TextEncoder();
    fc.assert(
      fc.property(
        subject,
        fc.constantFrom(...EVENT_TYPES),
        fc.array(fc.tuple(headerName, headerValue), { maxLength: 6 }),
        fc.oneof(json.map((v) => encoder.encode(JSON.stringify(v))), fc.uint8Array({ maxLength: 40 })),
        (subj, type, extra, data) => {
          const h = createHeaders();
          h.set('ce-specversion', '1.0');
          h.set('ce-type', type);
          for (const [k, v] of extra) h.set(k, v);
          try {
            decodeEvent({ subject: subj, data, headers: h }, { stream: 'DOCUMENTS', seq: 1 });
          } catch (err) {
            if (!(err instanceof ValidationError)) throw new Error(`${(err as Error).constructor.name}: ${(err as Error).message}`);
          }
        },
      ),
      { numRuns: 3000, seed: 12 },
    );
  });

  it('decodes what encodeEvent wrote on the subject of the document, whatever its id', () => {
    const name = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,7}$/);
    fc.assert(
      fc.property(name, name, fc.string({ unit: 'grapheme', minLength: 1, maxLength: 50 }), (tenant, source, id) => {
        const event = { type: 'document.deleted' as const, data: { tenant, source, id }, metadata: eventMetadata('document.deleted', { source: '/fuzz' }) };
        const { headers, data } = encodeEvent(event);
        const decoded = decodeEvent({ subject: subjects.document({ tenant, source, id }), data, headers }, { stream: 'DOCUMENTS', seq: 1 });
        expect(decoded.data).toEqual(event.data);
      }),
      { numRuns: 500, seed: 12 },
    );
  });
});
