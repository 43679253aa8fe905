// DLQ tools end to end: an embedding provider that is down dead-letters a document's chunks with the reason; after the fix,
// `spanda dlq redrive` makes the document searchable by vector, once, and leaves the DLQ empty; list/show/purge filter.
import { headers } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../cli/main.ts';
import { TransientError } from '../lib/errors.ts';
import { createMetrics, type SpandaMetrics } from '../lib/metrics.ts';
import { jetStreamCollectorFor } from '../lib/metrics-collector.ts';
import { instrumentEmbedder } from '../lib/metrics-embedder.ts';
import { createChunker } from '../processors/chunker/handler.ts';
import { createEmbedder } from '../processors/embedder/handler.ts';
import { createEmbeddingProvider } from '../processors/embedder/models.ts';
import type { EmbeddingProvider } from '../processors/embedder/provider.ts';
import { runProcessor, type RunningProcessor } from '../processors/runner.ts';
import { inferenceProjection } from '../projections/inference.ts';
import { runProjector, type RunningProjector } from '../projections/projector.ts';
import { search } from '../projections/search.ts';
import type { InferenceStore } from '../projections/store.ts';
import { storeFactory } from '../projections/stores/registry.ts';
import { publishDocument } from '../streams/document-log.ts';
import { readDlq, redriveDlqEntry, sendToDlq } from '../streams/dlq.ts';
import { STREAMS } from '../streams/provision.ts';
import { until } from './helpers/eventually.ts';
import { startTestNats, type TestNats } from './helpers/nats.ts';

let nats: TestNats;
let store: InferenceStore;
let metrics: SpandaMetrics;
let provider: EmbeddingProvider;
const running: Array<RunningProcessor | RunningProjector> = [];
let providerDown = true;

/** Runs `spanda …` in this process; returns the exit code and what it printed. */
async function spanda(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((out += String(chunk)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((err += String(chunk)), true));
  try {
    const code = await main([...args, '--nats-url', nats.server.url]);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

async function vectorHits(text: string) {
  const [vector] = await provider.embed([text]);
  return search(store, { tenant: 'acme', mode: 'vector', k: 5, text, vectorWeight: 1, ...(vector ? { vector } : {}) });
}

async function dlqGauge(): Promise<Record<string, number>> {
  await jetStreamCollectorFor(metrics, nats.handle.jsm).poll();
  const metric = await metrics.dlqMessages.get();
  return Object.fromEntries(metric.values.map((v) => [String(v.labels.processor), v.value]));
}

beforeAll(async () => {
  nats = await startTestNats({ prefix: 'spanda-dlq-' });
  metrics = createMetrics();
  provider = createEmbeddingProvider('hash', { dims: 64 });
  // A remote model endpoint that answers 503 until it is fixed.
  const flaky = new Proxy(provider, {
    get(target, key) {
      if (key === 'embed') {
        return async (texts: readonly string[]) => {
          if (providerDown) throw new TransientError('embedding endpoint answered 503 Service Unavailable');
          return target.embed(texts);
        };
      }
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  store = await (await storeFactory('sqlite')).open({ role: 'inference', generation: 'dlq-test', model: provider.info, config: { dataDir: nats.dir } });
  const fast = { metrics, maxAttempts: 2, backoffBaseMs: 20, backoffMaxMs: 50 };
  running.push(runProcessor(nats.handle, createChunker({ size: 800, overlap: 120 }), fast));
  running.push(runProcessor(nats.handle, createEmbedder(instrumentEmbedder(flaky, metrics)), fast));
  running.push(runProjector(nats.handle, inferenceProjection(provider.info), store, { metrics }));
});

afterAll(async () => {
  for (const r of running.reverse()) await r.stop();
  await store?.close();
  await provider?.close();
  await nats?.stop();
});

describe('spanda dlq', () => {
  const text = 'Kepler orbits and resonance: the outer planets drift in slow harmonic rhythm around the sun.';

  it('dead-letters the chunks of a document while the provider is down, with the reason, and reports it', async () => {
    await publishDocument(nats.handle, 'acme', { id: 'kepler', source: 'notes', text, metadata: {} });
    const [entry] = await until(async () => {
      const entries = await readDlq(nats.handle);
      return entries.length > 0 ? entries : undefined;
    }, 'the DLQ entry');
    expect(entry).toMatchObject({ stage: 'embedder-hash-64', stream: STREAMS.CHUNKS, attempts: 2 });
    expect(entry?.reason).toMatch(/gave up after 2 attempts: embedding endpoint answered 503/);
    // The chunks applied (keyword search finds them), but no vector: the document is not searchable by meaning.
    expect(await vectorHits(text)).toEqual([]);
    expect(await dlqGauge()).toMatchObject({ 'embedder-hash-64': 1, chunker: 0 });
    const errors = await metrics.providerErrors.get();
    expect(errors.values.find((v) => v.labels.kind === 'transient')?.value).toBeGreaterThanOrEqual(2);

    const list = await spanda('dlq', 'list', '--json');
    expect(list.code).toBe(0);
    expect(JSON.parse(list.out)).toEqual([expect.objectContaining({ processor: 'embedder-hash-64', stream: 'CHUNKS', reason: entry?.reason })]);
    expect(JSON.parse((await spanda('dlq', 'list', '--json', '--processor', 'chunker')).out)).toEqual([]);
    expect(JSON.parse((await spanda('dlq', 'list', '--json', '--reason', 'no such reason')).out)).toEqual([]);
    expect(JSON.parse((await spanda('dlq', 'list', '--json', '--reason', '503', '--since', '10m', '--stream', 'chunks')).out)).toHaveLength(1);
    expect(JSON.parse((await spanda('dlq', 'list', '--json', '--since', '2099-01-01T00:00:00Z')).out)).toEqual([]);

    const show = await spanda('dlq', 'show', String(entry?.dlqSeq), '--json');
    expect(JSON.parse(show.out)).toMatchObject({ event: { type: 'document.chunked', data: { tenant: 'acme', id: 'kepler' } }, headers: { 'ce-type': 'document.chunked' } });
  });

  it('re-drives after the fix: the document becomes searchable by vector, once, and the DLQ empties', async () => {
    providerDown = false;
    const redrive = await spanda('dlq', 'redrive', '--processor', 'embedder-hash-64', '--json');
    expect(redrive.code).toBe(0);
    expect(JSON.parse(redrive.out)).toEqual([expect.objectContaining({ result: 'redriven', processor: 'embedder-hash-64' })]);
    const hits = await until(async () => {
      const found = await vectorHits(text);
      return found.length > 0 ? found : undefined;
    }, 'the document to be searchable by vector');
    expect(hits[0]).toMatchObject({ docId: 'kepler', source: 'notes' });
    expect(await readDlq(nats.handle)).toEqual([]);
    expect(await dlqGauge()).toMatchObject({ 'embedder-hash-64': 0 });
    // Nothing left to re-drive; the document's vectors were published once.
    expect(JSON.parse((await spanda('dlq', 'redrive', '--json')).out)).toEqual([]);
    const embedded = await nats.handle.jsm.streams.info(STREAMS.EMBEDDINGS);
    expect(embedded.state.messages).toBe(1);
    const stats = await store.stats();
    expect(stats.vectors).toBe(stats.chunks);
  });

  it('purges with a filter, and without one only with --yes', async () => {
    for (const seq of [1, 2]) {
      await sendToDlq(nats.handle, 'chunker', { subject: 'docs.acme.notes.x', data: new TextEncoder().encode('{}'), seq: 900 + seq, info: { stream: STREAMS.DOCUMENTS } }, 'bad input', 1);
    }
    await sendToDlq(nats.handle, 'projection-inference', { subject: 'chunks.acme.notes.y', data: new Uint8Array(), seq: 77, info: { stream: STREAMS.CHUNKS } }, 'cannot project', 1);
    const refused = await spanda('dlq', 'purge');
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/--yes/);
    expect(JSON.parse((await spanda('dlq', 'purge', '--processor', 'chunker', '--json')).out)).toEqual({ purged: 2 });
    expect((await readDlq(nats.handle)).map((e) => e.stage)).toEqual(['projection-inference']);
    expect(JSON.parse((await spanda('dlq', 'purge', '--yes', '--json')).out)).toEqual({ purged: 1 });
    expect(await readDlq(nats.handle)).toEqual([]);
    // A sequence that names no entry (gone already, or mistyped) is said, exit 1, for purge, redrive and show alike.
    for (const action of ['purge', 'redrive', 'show']) {
      const missing = await spanda('dlq', action, '99999');
      expect(missing.code, action).toBe(1);
      expect(missing.err).toMatch(/no DLQ entry 99999 matches/);
    }
  });

  it('a re-drive repeated after a crash (entry not yet removed) publishes nothing new', async () => {
    await sendToDlq(nats.handle, 'projection-inference', { subject: 'queries.acme', data: new TextEncoder().encode('{}'), seq: 5, info: { stream: 'QUERIES' } }, 'test', 1);
    const [entry] = await readDlq(nats.handle);
    if (!entry) throw new Error('no entry');
    const first = await redriveDlqEntry(nats.handle, entry);
    const again = await redriveDlqEntry(nats.handle, entry);
    expect(first).toMatchObject({ status: 'redriven', duplicate: false });
    expect(again).toMatchObject({ status: 'redriven', duplicate: true });
    expect(again.status === 'redriven' && first.status === 'redriven' && again.seq === first.seq).toBe(true);
  });

  it('refuses entries naming a subject outside the stream they say they came from (forged: the JetStream API, a KV key), and re-drives the rest', async () => {
    const forge = (subject: string, stream: string, seq: number) =>
      sendToDlq(nats.handle, 'chunker', { subject, data: new TextEncoder().encode('{"name":"PWNED","subjects":["pwned.>"]}'), seq, info: { stream } }, 'forged', 1);
    await forge('$JS.API.STREAM.CREATE.PWNED', STREAMS.DOCUMENTS, 9001);
    await forge('$KV.spanda.hacked', STREAMS.DOCUMENTS, 9002);
    await forge('chunks.acme.notes.z', STREAMS.DOCUMENTS, 9003); // another stream's subject
    await forge('docs.acme.notes.w', 'NO_SUCH_STREAM', 9004);
    await forge('dlq.chunker', STREAMS.DLQ, 9005);
    await forge('docs.acme.*.w', STREAMS.DOCUMENTS, 9006);
    await sendToDlq(nats.handle, 'chunker', { subject: 'queries.acme.legit', data: new TextEncoder().encode('{}'), seq: 9007, info: { stream: 'QUERIES' } }, 'forged', 1);
    const before = (await nats.handle.jsm.streams.info(STREAMS.DOCUMENTS)).state.last_seq;

    const redrive = await spanda('dlq', 'redrive', '--reason', 'forged', '--json');
    expect(redrive.code).toBe(1);
    expect(redrive.err).toMatch(/6 entries name subjects outside the stream they say they came from.*spanda dlq purge SEQ/);
    const rows = JSON.parse(redrive.out) as Array<{ subject: string; result: string }>;
    expect(rows.filter((r) => r.result.startsWith('refused')).map((r) => r.subject).sort()).toEqual(
      ['$JS.API.STREAM.CREATE.PWNED', '$KV.spanda.hacked', 'chunks.acme.notes.z', 'docs.acme.notes.w', 'dlq.chunker', 'docs.acme.*.w'].sort(),
    );
    expect(rows.find((r) => r.subject === 'chunks.acme.notes.z')?.result).toMatch(/stream DOCUMENTS does not hold its subject/);
    expect(rows.find((r) => r.subject === 'queries.acme.legit')?.result).toBe('redriven');
    // Nothing reached the JetStream API, the KV bucket or DOCUMENTS; the refused entries stay for a look and a purge.
    expect((await nats.handle.jsm.streams.names().next()).includes('PWNED')).toBe(false);
    const kvKeys = await nats.handle.jsm.streams.getMessage('KV_spanda', { last_by_subj: '$KV.spanda.hacked' }).catch(() => null);
    expect(kvKeys).toBeNull();
    expect((await nats.handle.jsm.streams.info(STREAMS.DOCUMENTS)).state.last_seq).toBe(before);
    expect((await readDlq(nats.handle, { filter: { reason: 'forged' } })).map((e) => e.seq).sort()).toEqual([9001, 9002, 9003, 9004, 9005, 9006]);
    await spanda('dlq', 'purge', '--reason', 'forged');
  });

  it('dead-letters and re-drives an event that carries JetStream publish directives (Nats-Expected-*) like any other', async () => {
    // Headers JetStream acts on at publish: stored with the event, they must not be sent again with its DLQ entry (the
    // DLQ would refuse it as the wrong stream, stalling the stage) nor with its re-drive.
    const h = headers();
    h.set('Nats-Expected-Stream', STREAMS.DOCUMENTS);
    h.set('Nats-Expected-Last-Sequence', String((await nats.handle.jsm.streams.info(STREAMS.DOCUMENTS)).state.last_seq));
    await nats.handle.js.publish('docs.acme.junk.directives', 'not an event', { headers: h });
    const [entry] = await until(async () => {
      const found = await readDlq(nats.handle, { filter: { reason: 'no ce-type' } });
      return found.length > 0 ? found : undefined;
    }, 'the event with publish directives to be dead-lettered');
    expect(entry).toMatchObject({ stage: 'chunker', stream: STREAMS.DOCUMENTS, subject: 'docs.acme.junk.directives' });
    const redrive = await spanda('dlq', 'redrive', String(entry?.dlqSeq), '--json');
    expect(redrive.code).toBe(0);
    expect(JSON.parse(redrive.out)).toEqual([expect.objectContaining({ result: 'redriven' })]);
    await until(async () => ((await readDlq(nats.handle, { filter: { reason: 'no ce-type' } })).some((e) => e.dlqSeq !== entry?.dlqSeq) ? true : undefined), 'the re-driven event to be dead-lettered again');
    await spanda('dlq', 'purge', '--reason', 'no ce-type');
  });

  it('does not re-drive a DOCUMENTS entry that a newer version superseded, unless forced', async () => {
    const old = await publishDocument(nats.handle, 'acme', { id: 'versions', source: 'notes', text: 'first text', metadata: {} });
    await publishDocument(nats.handle, 'acme', { id: 'versions', source: 'notes', text: 'second text', metadata: {} });
    const stored = await nats.handle.jsm.streams.getMessage(STREAMS.DOCUMENTS, { seq: old.seq });
    if (!stored) throw new Error('no message');
    await sendToDlq(nats.handle, 'chunker', { subject: stored.subject, data: stored.data, headers: stored.header, seq: old.seq, info: { stream: STREAMS.DOCUMENTS } }, 'test', 1);
    const rows = JSON.parse((await spanda('dlq', 'redrive', '--processor', 'chunker', '--json')).out) as Array<{ result: string }>;
    expect(rows).toEqual([expect.objectContaining({ result: expect.stringMatching(/superseded/) })]);
    expect(await readDlq(nats.handle, { filter: { processor: 'chunker' } })).toHaveLength(1);
    await spanda('dlq', 'purge', '--processor', 'chunker');
  });

  it('at scale: list counts every match by reason, redrive goes in order with progress and does not revisit what it dead-letters again', async () => {
    const count = 250;
    const before = (await nats.handle.jsm.streams.info(STREAMS.DOCUMENTS)).state.last_seq;
    // Bytes with no Spanda headers, straight onto the stream, as a misconfigured producer would send them.
    await Promise.all(Array.from({ length: count }, (_, i) => nats.handle.js.publish(`docs.acme.junk.bad-${i}`, `not an event ${i}`)));
    await until(async () => ((await readDlq(nats.handle, { filter: { reason: 'no headers' } })).length === count ? true : undefined), 'the chunker to dead-letter the junk');

    const list = await spanda('dlq', 'list', '--limit', '10', '--reason', 'no headers');
    expect(list.code).toBe(0);
    expect(list.out).toContain(`showing the oldest 10 of ${count} matching entries`);
    expect(list.out).toMatch(new RegExp(`\\n${count} +chunker +message has no headers`));
    expect(list.out.match(/docs|DOCUMENTS/g)?.length).toBe(10);

    const redrive = await spanda('dlq', 'redrive', '--reason', 'no headers');
    expect(redrive.code).toBe(0);
    expect(redrive.out).toMatch(new RegExp(`\\n${count} +chunker +redriven\\n`));
    expect(redrive.out).toContain(`${count} re-driven`);
    expect(redrive.err).toContain(`redrive: ${count}/${count} (100%)`);
    // Each entry was published once, in the order the DLQ held them (the chunker rejected them in log order).
    const after = (await nats.handle.jsm.streams.info(STREAMS.DOCUMENTS)).state.last_seq;
    expect(after - before).toBe(2 * count);
    const subjectsRedriven: string[] = [];
    for (let seq = before + count + 1; seq <= after; seq++) subjectsRedriven.push((await nats.handle.jsm.streams.getMessage(STREAMS.DOCUMENTS, { seq }))?.subject ?? '');
    expect(subjectsRedriven).toEqual(Array.from({ length: count }, (_, i) => `docs.acme.junk.bad-${i}`));
    // Still bad, so dead-lettered again: new entries the redrive did not visit; purge by reason removes them all.
    await until(async () => ((await readDlq(nats.handle, { filter: { processor: 'chunker' } })).length === count ? true : undefined), 'the junk to be dead-lettered again');
    expect(await readDlq(nats.handle, { filter: { reason: 'no headers' } })).toEqual([]);
    expect(JSON.parse((await spanda('dlq', 'purge', '--processor', 'chunker', '--since', '1h', '--json')).out)).toEqual({ purged: count });
    expect(await readDlq(nats.handle)).toEqual([]);
  });
});
