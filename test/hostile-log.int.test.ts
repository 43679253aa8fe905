// A whole node fed hostile events written straight onto its streams, between valid documents: nothing stalls, each
// rejected event is in the DLQ once with its reason, every valid document becomes queryable and no injected one does.
import { headers as createHeaders } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventMetadata, encodeEvent } from '../streams/codec.ts';
import { readDlq } from '../streams/dlq.ts';
import { encodeVector, type SpandaEvent } from '../streams/events/index.ts';
import { STREAMS } from '../streams/provision.ts';
import { publishEvent } from '../streams/publisher.ts';
import { subjects } from '../streams/subjects.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';
import { jsonApi } from './helpers/http.ts';

let node: TestSystem;

beforeAll(async () => {
  node = await startTestSystem();
});
afterAll(async () => {
  await node?.destroy();
});

const api = jsonApi(() => node.system.apiUrl);

async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const docIds = async (tenant: string, q: string): Promise<string[]> => {
  const r = await api('POST', '/v1/query', { query: q, mode: 'keyword', k: 50 }, { 'x-tenant': tenant });
  return (r.json.results as Array<{ docId: string }>).map((h) => h.docId);
};

function nestedJson(levels: number): string {
  return `{"id":"deep-${levels}","text":"deepword ${levels}","metadata":{"a":${'['.repeat(levels)}1${']'.repeat(levels)}}}`;
}

describe('deeply nested or huge metadata at the edge', () => {
  it.each([40, 1_000, 1_500, 2_000, 5_000, 100_000])('answers 400 naming the depth limit for %i levels', async (levels) => {
    const r = await api('POST', '/v1/documents', nestedJson(levels));
    expect(r.status).toBe(400);
    expect(r.json.detail).toMatch(/metadata: nests more than 32 levels deep; the limit is 32/);
  });

  it('answers 400 naming the size limit for 1 MB of metadata, and the key limit', async () => {
    const big = await api('POST', '/v1/documents', { id: 'big-meta', text: 'x', metadata: { blob: 'x'.repeat(1_000_000) } });
    expect(big.status).toBe(400);
    expect(big.json.detail).toMatch(/the limit is 65536 bytes/);
    const keys = Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`k${i}`, i]));
    const many = await api('POST', '/v1/documents', { id: 'many-keys', text: 'x', metadata: keys });
    expect(many.status).toBe(400);
    expect(many.json.detail).toMatch(/more than 1000 keys in total/);
  });

  it('answers 400 for a query filter over its limits, naming what a filter takes', async () => {
    const tooManyKeys = Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`k${i}`, i]));
    const keys = await api('POST', '/v1/query', { query: 'x', filter: { metadata: tooManyKeys } });
    expect(keys.status).toBe(400);
    expect(keys.json.detail).toMatch(/filter.metadata: name at most 1000 metadata keys/);
    const ids = await api('POST', '/v1/query', { query: 'x', filter: { docId: Array.from({ length: 1001 }, (_, i) => `d${i}`) } });
    expect(ids.status).toBe(400);
    expect(ids.json.detail).toMatch(/filter.docId: expected a document id \(1–4096 characters, as documents take\) or a list of at most 1000 of them/);
    const value = await api('POST', '/v1/query', { query: 'x', filter: { metadata: { tag: { nested: true } } } });
    expect(value.json.detail).toMatch(/filter.metadata.tag: expected a string, number or boolean or a list/);
  });
});

describe('hostile events written straight onto the streams', () => {
  it('are dead-lettered once each with their reason while every valid document is indexed', async () => {
    const nats = node.system.nats;
    const model = node.system.provider.info;
    const encoder = new TextEncoder();
    const publishRaw = (subject: string, data: string | Uint8Array, ceType?: string) => {
      const h = createHeaders();
      h.set('ce-specversion', '1.0');
      if (ceType !== undefined) h.set('ce-type', ceType);
      return nats.js.publish(subject, typeof data === 'string' ? encoder.encode(data) : data, { headers: h });
    };
    const inject = async (subject: string, event: SpandaEvent) => (await publishEvent(nats, subject, event)).seq;
    const meta = (type: SpandaEvent['type']) => eventMetadata(type, { source: '/attacker' });
    const contentHash = `sha256:${'0'.repeat(64)}`;

    const valid: Array<{ tenant: string; id: string; word: string }> = [];
    const publishValid = async (tenant: string, i: number) => {
      const word = `validword${i}`;
      const r = await api('POST', '/v1/documents', { id: `valid-${i}`, text: `Document ${i} mentions ${word} and sharedvalid.`, metadata: { n: i } }, { 'x-tenant': tenant });
      expect(r.status).toBe(202);
      valid.push({ tenant, id: `valid-${i}`, word });
      return r.json.accepted[0].seq as number;
    };

    // Expected rejections: [stream, seq, reason pattern].
    const rejected: Array<{ stream: string; seq: number; reason: RegExp }> = [];
    const expectRejected = (stream: string, seq: number, reason: RegExp) => rejected.push({ stream, seq, reason });

    const victimSeq = await publishValid('victim', 0);

    // 1. A document.upserted with deep metadata (1,500 levels) written straight to DOCUMENTS.
    const deep = `{"tenant":"acme","source":"api","id":"deep-direct","text":"injectedword deep","metadata":{"a":${'['.repeat(1500)}1${']'.repeat(1500)}},"contentHash":"${contentHash}"}`;
    let ack = await publishRaw('docs.acme.api.deep-direct', deep, 'document.upserted');
    expectRejected(STREAMS.DOCUMENTS, ack.seq, /metadata: nests more than 32 levels/);
    await publishValid('acme', 1);

    // 2. A docs.<attacker> message whose payload says tenant "victim".
    const cross = { tenant: 'victim', source: 'api', id: 'cross', text: 'injectedword crosstenant', metadata: {}, contentHash };
    ack = await publishRaw('docs.attacker.api.cross', JSON.stringify(cross), 'document.upserted');
    expectRejected(STREAMS.DOCUMENTS, ack.seq, /names tenant "attacker", the payload "victim"/);

    // 3. Malformed JSON, a wrong ce-type, no ce-type, and a huge payload.
    ack = await publishRaw('docs.acme.api.garbage', '{"tenant": oops', 'document.upserted');
    expectRejected(STREAMS.DOCUMENTS, ack.seq, /not valid UTF-8 JSON/);
    ack = await publishRaw('docs.acme.api.wrongtype', JSON.stringify(cross), 'document.exploded');
    expectRejected(STREAMS.DOCUMENTS, ack.seq, /unknown event type/);
    ack = await publishRaw('chunks.acme.api.notype', '{}');
    expectRejected(STREAMS.CHUNKS, ack.seq, /no ce-type header/);
    const huge = { tenant: 'acme', source: 'api', id: 'huge', text: 'injectedword huge', metadata: { blob: 'x'.repeat(500_000) }, contentHash };
    ack = await publishRaw('docs.acme.api.huge', JSON.stringify(huge), 'document.upserted');
    expectRejected(STREAMS.DOCUMENTS, ack.seq, /the limit is 65536 bytes/);
    await publishValid('acme', 2);

    // 4. A chunk event on the attacker's subject whose payload indexes into the victim's tenant.
    const chunked = (tenant: string, id: string, docSeq: number, text = 'injectedword chunk'): SpandaEvent => ({
      type: 'document.chunked',
      data: {
        tenant,
        source: 'api',
        id,
        docSeq,
        document: { metadata: {}, contentHash },
        chunker: { name: 'markdown', version: 1, size: 800, overlap: 120 },
        part: { index: 0, count: 1 },
        totalChunks: 1,
        chunks: [{ chunkId: `${docSeq}:0`, ordinal: 0, text, start: 0, end: text.length, tokens: 2 }],
      },
      metadata: meta('document.chunked'),
    });
    let seq = await inject(subjects.chunks({ tenant: 'attacker', source: 'api', id: 'x' }), { ...chunked('victim', 'x', victimSeq) });
    expectRejected(STREAMS.CHUNKS, seq, /names tenant "attacker", the payload "victim"/);

    // 5. Far-future docSeq: a chunk event that would pin, and a removal that would delete, the victim's document.
    seq = await inject(subjects.chunks({ tenant: 'victim', source: 'api', id: 'valid-0' }), chunked('victim', 'valid-0', 1e9));
    expectRejected(STREAMS.CHUNKS, seq, /past the end of DOCUMENTS/);
    const removal: SpandaEvent = { type: 'document.removed', data: { tenant: 'victim', source: 'api', id: 'valid-0', docSeq: 1e9 }, metadata: meta('document.removed') };
    seq = await inject(subjects.chunks({ tenant: 'victim', source: 'api', id: 'valid-0' }), removal);
    expectRejected(STREAMS.CHUNKS, seq, /past the end of DOCUMENTS/);

    // 6. Chunks of a document never published (docSeq points at another document's version), and a removal pointing at it.
    seq = await inject(subjects.chunks({ tenant: 'acme', source: 'api', id: 'ghost' }), chunked('acme', 'ghost', victimSeq));
    expectRejected(STREAMS.CHUNKS, seq, /not on docs\.acme\.api\.ghost/);
    const ghostRemoval: SpandaEvent = { type: 'document.removed', data: { tenant: 'victim', source: 'api', id: 'valid-0', docSeq: ack.seq }, metadata: meta('document.removed') };
    seq = await inject(subjects.chunks({ tenant: 'victim', source: 'api', id: 'valid-0' }), ghostRemoval);
    expectRejected(STREAMS.CHUNKS, seq, /not on docs\.victim\.api\.valid-0/);
    await publishValid('victim', 3);

    // 7. Vectors: all zeros, NaN, wrong dimensions, and a model token that is not the payload's model.
    const embedded = (vector: Float32Array, dims = model.dims, id = 'valid-0'): SpandaEvent => ({
      type: 'document.embedded',
      data: { tenant: 'victim', source: 'api', id, docSeq: victimSeq, model: { ...model, dims }, part: { index: 0, count: 1 }, vectors: [{ chunkId: `${victimSeq}:0`, window: 0, vector: encodeVector(vector) }] },
      metadata: meta('document.embedded'),
    });
    const victimAddress = { tenant: 'victim', source: 'api', id: 'valid-0' };
    seq = await inject(subjects.embeddings(model.id, victimAddress), embedded(new Float32Array(model.dims)));
    expectRejected(STREAMS.EMBEDDINGS, seq, /all zeros/);
    seq = await inject(subjects.embeddings(model.id, victimAddress), embedded(new Float32Array(model.dims).fill(Number.NaN)));
    expectRejected(STREAMS.EMBEDDINGS, seq, /non-finite/);
    seq = await inject(subjects.embeddings(model.id, victimAddress), embedded(new Float32Array(3).fill(1), 3));
    expectRejected(STREAMS.EMBEDDINGS, seq, /3 dimensions; this projection expects/);
    const liar = embedded(new Float32Array(model.dims).fill(1));
    const other = { ...liar, data: { ...liar.data, model: { ...model, id: 'other-model' } } } as SpandaEvent;
    const encoded = encodeEvent(other);
    ack = await nats.js.publish(subjects.embeddings(model.id, victimAddress), encoded.data, { headers: encoded.headers });
    expectRejected(STREAMS.EMBEDDINGS, ack.seq, /names model "[^"]+", the payload "other-model"/);
    await publishValid('acme', 4);

    // 8. Erasures (read by the indexing catalog) that would make it forget a live document: one naming the victim's
    // live version instead of a deletion, one past the end of DOCUMENTS, one on the attacker's subject naming the
    // victim, and junk.
    const erasure = (docSeq: number, tenant = 'victim'): SpandaEvent => ({ type: 'document.erased', data: { tenant, source: 'api', id: 'valid-0', docSeq }, metadata: meta('document.erased') });
    seq = await inject(subjects.erasure(victimAddress), erasure(victimSeq));
    expectRejected(STREAMS.ERASURES, seq, /is a document\.upserted, not a document\.deleted/);
    seq = await inject(subjects.erasure(victimAddress), erasure(1e9));
    expectRejected(STREAMS.ERASURES, seq, /past the end of DOCUMENTS/);
    seq = await inject(subjects.erasure({ ...victimAddress, tenant: 'attacker' }), erasure(victimSeq));
    expectRejected(STREAMS.ERASURES, seq, /names tenant "attacker", the payload "victim"/);
    ack = await publishRaw('erasures.victim.api.valid-0', '{"tenant": oops', 'document.erased');
    expectRejected(STREAMS.ERASURES, ack.seq, /not valid UTF-8 JSON/);

    for (let i = 5; i < 10; i++) await publishValid(i % 2 === 0 ? 'acme' : 'victim', i);

    // Every valid document becomes queryable in its tenant.
    for (const doc of valid) await eventually(() => docIds(doc.tenant, doc.word), (ids) => ids.includes(doc.id), 20_000);
    await eventually(async () => node.system.projector.caughtUp(), (v) => v, 20_000);
    // Nothing injected is queryable, in any tenant.
    for (const tenant of ['acme', 'victim', 'attacker']) expect(await docIds(tenant, 'injectedword')).toEqual([]);
    const victim = await api('GET', '/v1/documents/api/valid-0', undefined, { 'x-tenant': 'victim' });
    expect(victim.json).toMatchObject({ deleted: false, seq: victimSeq });
    // The catalog still tells the victim's version: no forged erasure reached it.
    await eventually(
      () => api('GET', '/v1/documents/api/valid-0', undefined, { 'x-tenant': 'victim' }),
      (r) => (r.json.versions as Array<{ seq: number; chunked: unknown[] }>).some((v) => v.seq === victimSeq && v.chunked.length > 0),
    );

    // Each rejected event is in the DLQ exactly once, with its reason; no valid event is.
    const entries = await eventually(
      () => readDlq(nats),
      (es) => rejected.every((r) => es.some((e) => e.stream === r.stream && e.seq === r.seq)),
      20_000,
    );
    // Let the second stage (the projection after the embedder) finish: its entries must be deduplicated away.
    await new Promise((r) => setTimeout(r, 500));
    const all = await readDlq(nats);
    for (const r of rejected) {
      const mine = all.filter((e) => e.stream === r.stream && e.seq === r.seq);
      expect(mine, `${r.stream}:${r.seq}`).toHaveLength(1);
      expect(mine[0]?.reason, `${r.stream}:${r.seq}`).toMatch(r.reason);
    }
    expect(all.length).toBe(rejected.length);
    expect(entries.length).toBeLessThanOrEqual(rejected.length);

    // The projection never stalled, and /readyz says so.
    expect(node.system.projector.health()).toMatchObject({ ok: true, consecutiveFailures: 0 });
    const ready = await fetch(`${node.system.apiUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect((await ready.json()).checks.projection).toMatchObject({ ok: true });
  });
});
