// Streams against a real nats-server: idempotent provisioning and idempotent document publishing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNats, type TestNats } from '../test/helpers/nats.ts';
import { ValidationError } from '../lib/errors.ts';
import { decodeEvent } from './codec.ts';
import { documentInputSchema, publishDeletion, publishDocument } from './document-log.ts';
import { DLQ_DUPLICATE_WINDOW_MS, STREAMS, provision } from './provision.ts';
import { readDlq, sendToDlq } from './dlq.ts';
import { subjects } from './subjects.ts';
import { OUTBOUND_FLUSH_BYTES } from './nats.ts';

let nats: TestNats;
beforeAll(async () => {
  nats = await startTestNats({ maxPayloadBytes: 256 * 1024 });
});
afterAll(async () => {
  await nats?.stop();
});

const doc = (id: string, text: string) => documentInputSchema.parse({ id, text, title: 'T' });

describe('the connection', () => {
  it('gathers a burst of publishes up to OUTBOUND_FLUSH_BYTES before writing (an option the client reads but does not type)', () => {
    // A client upgrade that dropped the option would bring back socket writes every 32 KB without failing anything else.
    const protocol = (nats.handle.nc as unknown as { protocol?: { pendingLimit?: unknown } }).protocol;
    expect(protocol?.pendingLimit).toBe(OUTBOUND_FLUSH_BYTES);
  });
});

describe('provisioning', () => {
  it('creates every stream and the config bucket, and a second run changes nothing', async () => {
    const again = await provision(nats.handle);
    expect(again.created).toEqual([]);
    expect(again.updated).toEqual([]);
    const names: string[] = [];
    for await (const s of nats.handle.jsm.streams.list()) names.push(s.config.name);
    expect(names).toEqual(expect.arrayContaining(Object.values(STREAMS)));
    await again.kv.put('probe', 'ok');
    expect((await again.kv.get('probe'))?.string()).toBe('ok');
  });
});

describe('the QUERIES stream', () => {
  it("keeps 90 days unless told otherwise; a node's limits are applied to the existing stream, a tool without them leaves them", async () => {
    const limitsOf = async () => {
      const { max_age, max_bytes } = (await nats.handle.jsm.streams.info(STREAMS.QUERIES)).config;
      return { max_age, max_bytes };
    };
    expect(await limitsOf()).toEqual({ max_age: 90 * 86_400_000 * 1_000_000, max_bytes: -1 });
    expect((await provision(nats.handle, { queries: { maxAgeMs: 3_600_000, maxBytes: 5e6 } })).updated).toEqual([STREAMS.QUERIES]);
    expect(await limitsOf()).toEqual({ max_age: 3_600_000 * 1_000_000, max_bytes: 5e6 });
    expect((await provision(nats.handle)).updated).toEqual([]);
    expect(await limitsOf()).toEqual({ max_age: 3_600_000 * 1_000_000, max_bytes: 5e6 });
  });

  it('drops the oldest answers past the size and age limits, never the newest', async () => {
    await provision(nats.handle, { queries: { maxAgeMs: 0, maxBytes: 2e6 } });
    const answer = 'x'.repeat(100_000);
    for (let i = 0; i < 40; i++) await nats.handle.js.publish(`queries.acme.q${i}.answered`, answer);
    const held = (await nats.handle.jsm.streams.info(STREAMS.QUERIES)).state;
    expect(held.bytes).toBeLessThanOrEqual(2e6);
    expect(held.messages).toBeGreaterThan(10);
    expect(held.messages).toBeLessThan(40);
    expect((await nats.handle.jsm.streams.getMessage(STREAMS.QUERIES, { last_by_subj: 'queries.acme.q39.answered' }))?.data.length).toBe(100_000);
    expect(await nats.handle.jsm.streams.getMessage(STREAMS.QUERIES, { last_by_subj: 'queries.acme.q0.answered' }).catch(() => null)).toBeNull();
    // Age: nats-server expires in the background (about once a second at this age).
    await provision(nats.handle, { queries: { maxAgeMs: 1000, maxBytes: 0 } });
    const deadline = Date.now() + 15_000;
    while ((await nats.handle.jsm.streams.info(STREAMS.QUERIES)).state.messages > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect((await nats.handle.jsm.streams.info(STREAMS.QUERIES)).state.messages).toBe(0);
  });
});

describe('the DLQ stream', () => {
  it('remembers entry ids for 24 h, set on creation and on an existing stream with a shorter window', async () => {
    const windowOf = async () => (await nats.handle.jsm.streams.info(STREAMS.DLQ)).config.duplicate_window;
    const day = DLQ_DUPLICATE_WINDOW_MS * 1_000_000;
    expect(await windowOf()).toBe(day);
    await nats.handle.jsm.streams.update(STREAMS.DLQ, { duplicate_window: 120 * 1_000_000_000 });
    expect((await provision(nats.handle)).updated).toEqual([STREAMS.DLQ]);
    expect(await windowOf()).toBe(day);
  });

  it("keeps 30 days unless told otherwise; a node's limits are applied, and the entries past them dropped oldest first", async () => {
    const limitsOf = async () => {
      const { max_age, max_bytes, duplicate_window } = (await nats.handle.jsm.streams.info(STREAMS.DLQ)).config;
      return { max_age, max_bytes, duplicate_window };
    };
    const day = DLQ_DUPLICATE_WINDOW_MS * 1_000_000;
    expect(await limitsOf()).toEqual({ max_age: 30 * 86_400_000 * 1_000_000, max_bytes: -1, duplicate_window: day });
    // Junk is copied into the DLQ whole: a size cap keeps the newest entries.
    expect((await provision(nats.handle, { dlq: { maxAgeMs: 0, maxBytes: 2e6 } })).updated).toEqual([STREAMS.DLQ]);
    expect(await limitsOf()).toEqual({ max_age: 0, max_bytes: 2e6, duplicate_window: day });
    const junk = new TextEncoder().encode('x'.repeat(100_000));
    for (let seq = 1; seq <= 40; seq++) await sendToDlq(nats.handle, 'chunker', { subject: 'docs.acme.api.junk', data: junk, seq: 10_000 + seq, info: { stream: STREAMS.DOCUMENTS } }, 'not an event', 1);
    const held = (await readDlq(nats.handle)).filter((e) => e.subject === 'docs.acme.api.junk').map((e) => e.seq);
    expect(held.length).toBeGreaterThan(10);
    expect(held.length).toBeLessThan(40);
    expect(held.at(-1)).toBe(10_040);
    expect(held).not.toContain(10_001);
    // An age shorter than the 24 h window shortens the window with it (nats-server wants it no longer than the age).
    await provision(nats.handle, { dlq: { maxAgeMs: 3_600_000, maxBytes: 0 } });
    expect(await limitsOf()).toEqual({ max_age: 3_600_000 * 1_000_000, max_bytes: -1, duplicate_window: 3_600_000 * 1_000_000 });
    // A tool that provisions without a node's settings leaves them.
    expect((await provision(nats.handle)).updated).toEqual([]);
    await provision(nats.handle, { dlq: { maxAgeMs: 30 * 86_400_000, maxBytes: 0 } });
    expect(await limitsOf()).toEqual({ max_age: 30 * 86_400_000 * 1_000_000, max_bytes: -1, duplicate_window: day });
  });

  it('keeps one entry per rejected log event, whichever stages reject it', async () => {
    const msg = { subject: 'chunks.acme.api.x', data: new TextEncoder().encode('{}'), seq: 42, info: { stream: STREAMS.CHUNKS } };
    expect(await sendToDlq(nats.handle, 'embedder-m', msg, 'first reason', 1)).toEqual({ duplicate: false });
    expect(await sendToDlq(nats.handle, 'projection-inference', msg, 'second reason', 1)).toEqual({ duplicate: true });
    const entries = (await readDlq(nats.handle)).filter((e) => e.stream === STREAMS.CHUNKS && e.seq === 42);
    expect(entries).toEqual([expect.objectContaining({ stage: 'embedder-m', reason: 'first reason', subject: 'chunks.acme.api.x' })]);
  });
});

describe('publishing documents', () => {
  it('stores an event a person can read back, with the id encoded in the subject', async () => {
    const published = await publishDocument(nats.handle, 'acme', doc('https://blog.example.com/a b', 'first'));
    expect(published.duplicate).toBe(false);
    const stored = await nats.handle.jsm.streams.getMessage(STREAMS.DOCUMENTS, { seq: published.seq });
    expect(stored?.subject).toBe('docs.acme.api.https://blog%2Eexample%2Ecom/a%20b');
    const event = decodeEvent({ subject: stored!.subject, data: stored!.data, headers: stored!.header }, { stream: STREAMS.DOCUMENTS, seq: published.seq });
    expect(event).toMatchObject({ type: 'document.upserted', data: { id: 'https://blog.example.com/a b', text: 'first' } });
  });

  it('drops an identical re-publish and answers with the original sequence', async () => {
    const first = await publishDocument(nats.handle, 'acme', doc('dup', 'same text'));
    const second = await publishDocument(nats.handle, 'acme', doc('dup', 'same text'));
    expect(second).toMatchObject({ duplicate: true, seq: first.seq });
  });

  it('publishes the same content again after a delete, so the document comes back', async () => {
    const v1 = await publishDocument(nats.handle, 'acme', doc('revived', 'text'));
    const deleted = await publishDeletion(nats.handle, { tenant: 'acme', source: 'api', id: 'revived' });
    const again = await publishDocument(nats.handle, 'acme', doc('revived', 'text'));
    expect(deleted.seq).toBeGreaterThan(v1.seq);
    expect(again.duplicate).toBe(false);
    expect(again.seq).toBeGreaterThan(deleted.seq);
    const last = await nats.handle.jsm.streams.getMessage(STREAMS.DOCUMENTS, { last_by_subj: subjects.document({ tenant: 'acme', source: 'api', id: 'revived' }) });
    expect(last?.seq).toBe(again.seq);
  });

  it('with skipUnchanged, skips content equal to the latest version however old', async () => {
    const first = await publishDocument(nats.handle, 'acme', doc('stable', 'v1'), { skipUnchanged: true });
    const same = await publishDocument(nats.handle, 'acme', doc('stable', 'v1'), { skipUnchanged: true });
    const changed = await publishDocument(nats.handle, 'acme', doc('stable', 'v2'), { skipUnchanged: true });
    expect(same).toMatchObject({ duplicate: true, seq: first.seq });
    expect(changed.duplicate).toBe(false);
  });

  it('refuses a document over the server max_payload with a clear reason', async () => {
    await expect(publishDocument(nats.handle, 'acme', doc('huge', 'x'.repeat(300 * 1024)))).rejects.toThrow(ValidationError);
    await expect(publishDocument(nats.handle, 'acme', doc('huge', 'x'.repeat(300 * 1024)))).rejects.toThrow(/max_payload/);
  });
});
