// Threaded processors: the chunker and the hash embedder in a worker thread publish exactly what they publish on the main thread.
import { afterAll, describe, expect, it } from 'vitest';
import { PermanentEventError } from '../../lib/errors.ts';
import { createMetrics } from '../../lib/metrics.ts';
import { encodeEvent, HEADER } from '../../streams/codec.ts';
import type { Chunk, DocumentChunked, SpandaEvent, StoredEvent } from '../../streams/events/index.ts';
import { subjects } from '../../streams/subjects.ts';
import { createChunker } from '../chunker/handler.ts';
import { htmlDocument, markdownDocument, plainDocument } from '../chunker/test-documents.ts';
import { createEmbedder } from '../embedder/handler.ts';
import { createHashEmbedder } from '../embedder/hash.ts';
import type { EncodedOutput, Outcome, Output, Processor } from '../processor.ts';
import { threadedEmbedderSpec, threadedProcessor } from './threaded.ts';

const MiB = 1024 * 1024;
const HASH = `sha256:${'9f2c'.repeat(16)}`;
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const opened: Processor<EncodedOutput>[] = [];
afterAll(() => Promise.all(opened.map((p) => p.close?.())));

function threaded(...args: Parameters<typeof threadedProcessor>): Processor<EncodedOutput> {
  const p = threadedProcessor(...args);
  opened.push(p);
  return p;
}

function upserted(seq: number, text: string, contentType: 'text/plain' | 'text/markdown' | 'text/html'): StoredEvent<SpandaEvent> {
  const address = { tenant: 'acme', source: 'web', id: `doc-${seq}` };
  return {
    type: 'document.upserted',
    data: { ...address, title: `Doc ${seq}`, contentType, text, metadata: { n: seq }, contentHash: HASH },
    metadata: { id: `01JD${String(seq).padStart(22, '0')}`, source: '/api', time: '2026-11-26T08:00:00.000Z', schemaVersion: 1, traceparent: TRACEPARENT },
    position: { stream: 'DOCUMENTS', seq, subject: subjects.document(address) },
  };
}

/** What each outcome publishes: subject, msgId, headers but ce-time (the moment of encoding), and the payload bytes. */
function published(outcomes: readonly Outcome<Output | EncodedOutput>[]) {
  return outcomes.map((outcome) => {
    if (outcome instanceof Error) return { error: outcome.constructor.name, message: outcome.message };
    return outcome.map((o) => {
      const { headers, data } = 'event' in o ? encodeEvent(o.event, o.msgId) : o.encoded;
      const kept = headers.keys().filter((k) => k !== HEADER.time);
      return { subject: o.subject, msgId: o.msgId, headers: kept.map((k) => [k, headers.get(k)]), data: Buffer.from(data).toString('base64') };
    });
  });
}

const documents = [
  upserted(1, markdownDocument(1), 'text/markdown'),
  upserted(2, htmlDocument(2), 'text/html'),
  upserted(3, plainDocument(3), 'text/plain'),
  upserted(4, markdownDocument(4, 200), 'text/markdown'),
  upserted(5, '', 'text/plain'),
];

describe('threadedProcessor', () => {
  it('chunks in a worker thread: the same consumer, the same outputs byte for byte', async () => {
    const local = createChunker({ size: 600, overlap: 80 });
    const remote = threaded({ kind: 'chunker', size: 600, overlap: 80 });
    expect({ ...remote, handle: undefined, close: undefined }).toEqual({ ...local, handle: undefined });
    const context = { maxPayloadBytes: MiB };
    expect(published(await remote.handle(documents, context))).toEqual(published(await local.handle(documents, context)));
    // Split into parts under a small max_payload, as on the main thread.
    const small = { maxPayloadBytes: 40 * 1024 };
    const parts = await remote.handle([documents[3] as StoredEvent<SpandaEvent>], small);
    expect((parts[0] as readonly EncodedOutput[]).length).toBeGreaterThan(1);
    expect(published(parts)).toEqual(published(await local.handle([documents[3] as StoredEvent<SpandaEvent>], small)));
  });

  it('embeds with the hash provider in a worker thread: the same vectors bit for bit, and records its batches', async () => {
    const chunker = createChunker();
    const chunked = (await chunker.handle(documents, { maxPayloadBytes: MiB })).flatMap((outcome, i) =>
      outcome instanceof Error ? [] : outcome.map((o): StoredEvent<SpandaEvent> => ({ ...o.event, position: { stream: 'CHUNKS', seq: 100 + i, subject: o.subject } }) as StoredEvent<SpandaEvent>),
    );
    const provider = createHashEmbedder({ dims: 64 });
    const spec = threadedEmbedderSpec(provider);
    if (!spec) throw new Error('the hash provider should be threadable');
    const metrics = createMetrics();
    const remote = threaded(spec, { metrics });
    const local = createEmbedder(provider);
    expect(remote.name).toBe(local.name);
    const context = { maxPayloadBytes: MiB };
    expect(published(await remote.handle(chunked, context))).toEqual(published(await local.handle(chunked, context)));
    const size = (await metrics.registry.getSingleMetric('spanda_embedder_batch_size')?.get())?.values ?? [];
    expect(size.find((v) => (v as { metricName?: string }).metricName === 'spanda_embedder_batch_size_count')?.value).toBe(1);
  });

  it('gives back each input’s error as the class the runner tells apart (a permanent one goes to the DLQ)', async () => {
    const remote = threaded({ kind: 'chunker', size: 800, overlap: 120 });
    const chunk: Chunk = { chunkId: '1:0', ordinal: 0, text: 'x', start: 0, end: 1, tokens: 1 };
    const wrong = { ...documents[0], type: 'document.chunked', data: { chunks: [chunk] } } as unknown as StoredEvent<DocumentChunked>;
    const outcomes = await remote.handle([documents[0] as StoredEvent<SpandaEvent>, wrong], { maxPayloadBytes: MiB });
    expect(Array.isArray(outcomes[0])).toBe(true);
    expect(outcomes[1]).toBeInstanceOf(PermanentEventError);
    expect((outcomes[1] as Error).message).toContain('the chunker handles document.upserted and document.deleted');
  });
});
