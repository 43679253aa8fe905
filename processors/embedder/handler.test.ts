// The embedder processor, given CHUNKS events: what it publishes to EMBEDDINGS, and how it fails.
import { describe, expect, it } from 'vitest';
import { PermanentEventError, TransientError } from '../../lib/errors.ts';
import { encodeEvent } from '../../streams/codec.ts';
import {
  decodeVector,
  type Chunk,
  type DocumentChunked,
  type DocumentEmbedded,
  type SpandaEvent,
  type StoredEvent,
} from '../../streams/events/index.ts';
import { derivedMsgId } from '../../streams/ids.ts';
import type { Output } from '../processor.ts';
import { createEmbedder } from './handler.ts';
import { createHashEmbedder, hashVector } from './hash.ts';
import type { EmbeddingProvider } from './provider.ts';

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const context = { maxPayloadBytes: 1024 * 1024 };

function chunk(docSeq: number, ordinal: number, text: string, extra: Partial<Chunk> = {}): Chunk {
  return { chunkId: `${docSeq}:${ordinal}`, ordinal, text, start: 0, end: text.length, tokens: text.split(' ').length, ...extra };
}

function chunked(seq: number, id: string, chunks: Chunk[], overrides: Partial<DocumentChunked['data']> = {}): StoredEvent<SpandaEvent> {
  const docSeq = overrides.docSeq ?? seq + 1000;
  return {
    type: 'document.chunked',
    data: {
      tenant: 'acme',
      source: 'web',
      id,
      docSeq,
      document: { metadata: {}, contentHash: `sha256:${'0'.repeat(64)}` },
      chunker: { name: 'markdown', version: 1, size: 800, overlap: 120 },
      part: { index: 0, count: 1 },
      totalChunks: chunks.length,
      chunks,
      ...overrides,
    },
    metadata: { id: `c${seq}`, source: '/processors/chunker', time: '2026-01-01T00:00:00.000Z', schemaVersion: 1, traceparent: TRACEPARENT },
    position: { stream: 'CHUNKS', seq, subject: `chunks.acme.web.${id}` },
  };
}

function removed(seq: number, id: string, docSeq: number): StoredEvent<SpandaEvent> {
  return {
    type: 'document.removed',
    data: { tenant: 'acme', source: 'web', id, docSeq },
    metadata: { id: `r${seq}`, source: '/processors/chunker', time: '2026-01-01T00:00:00.000Z', schemaVersion: 1 },
    position: { stream: 'CHUNKS', seq, subject: `chunks.acme.web.${id}` },
  };
}

function outputsOf(outcome: readonly Output[] | Error | undefined): readonly Output[] {
  if (outcome === undefined || outcome instanceof Error) throw new Error(`expected outputs, got ${String(outcome)}`);
  return outcome;
}

function embeddedData(output: Output | undefined): DocumentEmbedded['data'] {
  if (output?.event.type !== 'document.embedded') throw new Error(`expected document.embedded, got ${output?.event.type}`);
  return output.event.data;
}

/** The hash provider, recording each embed call's texts. */
function recording(provider: EmbeddingProvider = createHashEmbedder()): EmbeddingProvider & { calls: string[][] } {
  const calls: string[][] = [];
  return { ...provider, calls, embed: (texts) => (calls.push([...texts]), provider.embed(texts)) };
}

describe('createEmbedder', () => {
  it('names itself after the model and reads every CHUNKS subject', () => {
    const embedder = createEmbedder(createHashEmbedder());
    expect(embedder).toMatchObject({ name: 'embedder-hash-256', version: 1, stream: 'CHUNKS', filterSubjects: ['chunks.>'], batchSize: 32 });
  });

  it('publishes the vectors of a version on the model’s subject, traced to its input', async () => {
    const embedder = createEmbedder(createHashEmbedder());
    const input = chunked(42, 'https://example.com/a.b', [
      chunk(1042, 0, 'Heart disease and blood pressure.', { heading: 'Cardiology' }),
      chunk(1042, 1, ''),
      chunk(1042, 2, 'Volcanoes erupt.'),
    ]);
    const [outcome] = await embedder.handle([input], context);
    const [output, ...rest] = outputsOf(outcome);
    expect(rest).toEqual([]);
    const msgId = derivedMsgId('embedder-hash-256', 1, { stream: 'CHUNKS', seq: 42 }, 0);
    expect(output?.subject).toBe('embeddings.hash-256.acme.web.https://example%2Ecom/a%2Eb');
    expect(output?.msgId).toBe(msgId);
    expect(output?.event.metadata).toMatchObject({
      id: msgId,
      source: '/processors/embedder/hash-256',
      subject: 'https://example.com/a.b',
      causation: { stream: 'CHUNKS', seq: 42 },
      traceparent: TRACEPARENT,
    });
    const data = embeddedData(output);
    expect(data).toMatchObject({ tenant: 'acme', source: 'web', id: 'https://example.com/a.b', docSeq: 1042, part: { index: 0, count: 1 } });
    expect(data.model).toEqual({ id: 'hash-256', dims: 256, normalized: true, maxTokens: 512 });
    // The empty chunk has no vector; the heading is not prepended to the text.
    expect(data.vectors.map((v) => [v.chunkId, v.window])).toEqual([
      ['1042:0', 0],
      ['1042:2', 0],
    ]);
    expect(decodeVector(data.vectors[0]?.vector ?? '', 256)).toEqual(hashVector('Heart disease and blood pressure.', 256));
  });

  it('embeds every window of every input of a batch in one call, and gives each input its own vectors', async () => {
    const provider = recording();
    const embedder = createEmbedder(provider);
    const long = Array.from({ length: 900 }, (_, i) => `w${i}`).join(' ');
    const inputs = [
      chunked(1, 'a', [chunk(1001, 0, 'first document'), chunk(1001, 1, long)]),
      // One part of a version split over several CHUNKS messages: handled on its own.
      chunked(2, 'b', [chunk(1002, 5, 'second document')], { part: { index: 1, count: 2 }, totalChunks: 6 }),
    ];
    const outcomes = await embedder.handle(inputs, context);
    expect(provider.calls).toHaveLength(1);
    expect(provider.calls[0]).toHaveLength(1 + 3 + 1);
    const a = embeddedData(outputsOf(outcomes[0])[0]);
    expect(a.vectors.map((v) => [v.chunkId, v.window])).toEqual([
      ['1001:0', 0],
      ['1001:1', 0],
      ['1001:1', 1],
      ['1001:1', 2],
    ]);
    const b = embeddedData(outputsOf(outcomes[1])[0]);
    expect(b).toMatchObject({ id: 'b', docSeq: 1002, part: { index: 0, count: 1 } });
    expect(b.vectors.map((v) => v.chunkId)).toEqual(['1002:5']);
  });

  it('splits a document with many chunks into parts that fit a 64 KiB max payload', async () => {
    const maxPayloadBytes = 64 * 1024;
    const embedder = createEmbedder(createHashEmbedder({ dims: 512 }));
    const chunks = Array.from({ length: 300 }, (_, i) => chunk(1007, i, `chunk number ${i} about topic ${i % 17}`));
    const [outcome] = await embedder.handle([chunked(7, 'many', chunks)], { maxPayloadBytes });
    const outputs = outputsOf(outcome);
    expect(outputs.length).toBeGreaterThan(5);
    outputs.forEach((output, index) => {
      expect(embeddedData(output).part).toEqual({ index, count: outputs.length });
      expect(output.msgId).toBe(derivedMsgId('embedder-hash-512', 1, { stream: 'CHUNKS', seq: 7 }, index));
      const encoded = encodeEvent(output.event, output.msgId);
      expect(encoded.data.byteLength + Buffer.byteLength(encoded.headers.toString())).toBeLessThan(maxPayloadBytes);
    });
    expect(outputs.flatMap((o) => embeddedData(o).vectors.map((v) => v.chunkId))).toEqual(chunks.map((c) => c.chunkId));
  });

  it('passes a removal through to the model’s subject', async () => {
    const embedder = createEmbedder(createHashEmbedder());
    const [outcome] = await embedder.handle([removed(9, 'gone', 1500)], context);
    const [output] = outputsOf(outcome);
    expect(output?.subject).toBe('embeddings.hash-256.acme.web.gone');
    expect(output?.msgId).toBe(derivedMsgId('embedder-hash-256', 1, { stream: 'CHUNKS', seq: 9 }, 0));
    expect(output?.event).toMatchObject({
      type: 'document.removed',
      data: { tenant: 'acme', source: 'web', id: 'gone', docSeq: 1500 },
      metadata: { causation: { stream: 'CHUNKS', seq: 9 }, source: '/processors/embedder/hash-256', subject: 'gone' },
    });
  });

  it('sends an event it does not read to the DLQ', async () => {
    const embedder = createEmbedder(createHashEmbedder());
    const upserted: StoredEvent<SpandaEvent> = {
      type: 'document.upserted',
      data: { tenant: 'acme', source: 'web', id: 'x', text: 'hi', metadata: {}, contentHash: `sha256:${'1'.repeat(64)}` },
      metadata: { id: 'u1', source: '/api', time: '2026-01-01T00:00:00.000Z', schemaVersion: 1 },
      position: { stream: 'CHUNKS', seq: 3, subject: 'chunks.acme.web.x' },
    };
    const [outcome] = await embedder.handle([upserted], context);
    expect(outcome).toBeInstanceOf(PermanentEventError);
    expect((outcome as Error).message).toContain('document.upserted');
  });

  it('fails every chunked input of the batch with the provider’s error, and still passes removals', async () => {
    const failing: EmbeddingProvider = {
      ...createHashEmbedder(),
      embed: async () => {
        throw new TransientError('model worker crashed');
      },
    };
    const embedder = createEmbedder(failing);
    const outcomes = await embedder.handle(
      [chunked(1, 'a', [chunk(1001, 0, 'one')]), removed(2, 'b', 1002), chunked(3, 'c', [chunk(1003, 0, 'three')])],
      context,
    );
    expect(outcomes[0]).toBeInstanceOf(TransientError);
    expect(outcomes[2]).toBeInstanceOf(TransientError);
    expect(outputsOf(outcomes[1])[0]?.event.type).toBe('document.removed');
  });

  it('isolates an input the model fails on: the rest of the batch is published, only that input gets the error', async () => {
    const hash = createHashEmbedder();
    const provider = recording({
      ...hash,
      embed: async (texts) => {
        if (texts.some((t) => t.includes('poison'))) throw new Error('model failed on a text');
        return hash.embed(texts);
      },
    });
    const outcomes = await createEmbedder(provider).handle(
      [chunked(1, 'a', [chunk(1001, 0, 'one')]), chunked(2, 'b', [chunk(1002, 0, 'a poison text')]), chunked(3, 'c', [chunk(1003, 0, 'three')])],
      context,
    );
    expect(embeddedData(outputsOf(outcomes[0])[0]).vectors).toHaveLength(1);
    expect((outcomes[1] as Error).message).toBe('model failed on a text');
    expect(embeddedData(outputsOf(outcomes[2])[0]).vectors[0]?.chunkId).toBe('1003:0');
    // One batched call, then one call per input.
    expect(provider.calls.map((c) => c.length)).toEqual([3, 1, 1, 1]);
  });

  it('refuses vectors of the wrong size rather than mixing them into the index', async () => {
    const wrong: EmbeddingProvider = { ...createHashEmbedder(), embed: async (texts) => texts.map(() => new Float32Array(3)) };
    const [outcome] = await createEmbedder(wrong).handle([chunked(1, 'a', [chunk(1001, 0, 'one')])], context);
    expect(outcome).toBeInstanceOf(Error);
    expect((outcome as Error).message).toMatch(/3-d vector.*256/);
  });

  it('publishes no zero vector (a window with no words) and refuses a non-finite one, as the projection would', async () => {
    const [zero] = await createEmbedder(createHashEmbedder()).handle([chunked(1, 'a', [chunk(1001, 0, '---'), chunk(1001, 1, 'real words')])], context);
    expect(embeddedData(outputsOf(zero)[0]).vectors.map((v) => v.chunkId)).toEqual(['1001:1']);
    const nan: EmbeddingProvider = { ...createHashEmbedder(), embed: async (texts) => texts.map(() => new Float32Array(256).fill(Number.NaN)) };
    const [outcome] = await createEmbedder(nan).handle([chunked(1, 'a', [chunk(1001, 0, 'one')])], context);
    expect(outcome).toBeInstanceOf(PermanentEventError);
    expect((outcome as Error).message).toMatch(/non-finite component/);
  });

  it('publishes an empty vector list for a version whose chunks are all empty, without calling the model', async () => {
    const provider = recording();
    const [outcome] = await createEmbedder(provider).handle([chunked(1, 'a', [chunk(1001, 0, '  ')])], context);
    expect(embeddedData(outputsOf(outcome)[0]).vectors).toEqual([]);
    expect(provider.calls).toEqual([]);
  });
});
