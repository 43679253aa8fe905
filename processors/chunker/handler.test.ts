// The chunker processor: the events it emits for upserts and deletes, part splitting under max_payload, and bad inputs.
import { describe, expect, it } from 'vitest';
import { PermanentEventError, ValidationError } from '../../lib/errors.ts';
import { decodeEvent, encodeEvent } from '../../streams/codec.ts';
import {
  chunkerFingerprint,
  documentChunkedV1,
  documentRemovedV1,
  type DocumentChunkedData,
  type DocumentDeleted,
  type DocumentUpserted,
  type QueryReceived,
  type SpandaEvent,
  type StoredEvent,
} from '../../streams/events/index.ts';
import { derivedMsgId } from '../../streams/ids.ts';
import { subjects } from '../../streams/subjects.ts';
import type { Output } from '../processor.ts';
import { createChunker } from './handler.ts';
import { normalizeText } from './normalize.ts';

/** Chunk ids carry the fingerprint of the default settings (structure v1, 800/120). */
const FP = chunkerFingerprint({ name: 'structure', version: 1, size: 800, overlap: 120 });

const MiB = 1024 * 1024;
const address = { tenant: 'acme', source: 'medium', id: 'https://medium.com/p/4f1e2d' };
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const HASH = `sha256:${'9f2c'.repeat(16)}`;

const MARKDOWN = `# Streaming RAG

Every document change is an event. Chunks, embeddings and queries are events too.

## Replay

Delete every store and replay the log: the answers come back the same.
`;

function upserted(seq: number, overrides: Partial<DocumentUpserted['data']> = {}): StoredEvent<DocumentUpserted> {
  return {
    type: 'document.upserted',
    data: {
      ...address,
      title: 'Streaming RAG',
      url: 'https://medium.com/p/4f1e2d',
      contentType: 'text/markdown',
      text: MARKDOWN,
      metadata: { author: 'Ada', tags: ['nats', 'rag'] },
      contentHash: HASH,
      ...overrides,
    },
    metadata: { id: '01JD0000000000000000000000', source: '/api', time: '2026-11-26T08:00:00.000Z', schemaVersion: 1, traceparent: TRACEPARENT },
    position: { stream: 'DOCUMENTS', seq, subject: subjects.document(overrides.id ? { ...address, id: overrides.id } : address) },
  };
}

function deleted(seq: number): StoredEvent<DocumentDeleted> {
  return {
    type: 'document.deleted',
    data: { ...address },
    metadata: { id: '01JD0000000000000000000001', source: '/api', time: '2026-11-26T09:00:00.000Z', schemaVersion: 1 },
    position: { stream: 'DOCUMENTS', seq, subject: subjects.document(address) },
  };
}

function queryReceived(seq: number): StoredEvent<QueryReceived> {
  return {
    type: 'query.received',
    data: { queryId: 'q1', tenant: 'acme', query: 'what is replay?', mode: 'hybrid', k: 5 },
    metadata: { id: '01JD0000000000000000000002', source: '/api', time: '2026-11-26T09:00:00.000Z', schemaVersion: 1 },
    position: { stream: 'DOCUMENTS', seq, subject: 'docs.acme.medium.odd' },
  };
}

async function handleOne(input: StoredEvent<SpandaEvent>, maxPayloadBytes = MiB, options = {}): Promise<Output[]> {
  const [outcome] = await createChunker(options).handle([input], { maxPayloadBytes });
  if (!Array.isArray(outcome)) throw outcome instanceof Error ? outcome : new Error('no outcome');
  return [...(outcome as readonly Output[])];
}

function chunkedData(output: Output): DocumentChunkedData {
  if (output.event.type !== 'document.chunked') throw new Error(`expected document.chunked, got ${output.event.type}`);
  return output.event.data;
}

describe('createChunker', () => {
  it('describes a chunker consuming DOCUMENTS', () => {
    const chunker = createChunker();
    expect({ ...chunker, handle: undefined }).toEqual({
      name: 'chunker',
      version: 2,
      stream: 'DOCUMENTS',
      filterSubjects: ['docs.>'],
      batchSize: 64,
      handle: undefined,
    });
  });

  it('rejects invalid options when it is created', () => {
    expect(() => createChunker({ size: 50 })).toThrow(ValidationError);
    expect(() => createChunker({ size: 400, overlap: 200 })).toThrow(ValidationError);
  });
});

describe('document.upserted', () => {
  it('becomes one document.chunked on the chunks subject, derived from the input position', async () => {
    const outputs = await handleOne(upserted(42));
    expect(outputs).toHaveLength(1);
    const [output] = outputs as [Output];
    expect(output.subject).toBe(subjects.chunks(address));
    expect(output.subject).toBe('chunks.acme.medium.https://medium%2Ecom/p/4f1e2d');
    expect(output.msgId).toBe('chunker@2.1.800.120:DOCUMENTS:42:0');
    expect(output.msgId).toBe(derivedMsgId('chunker', '2.1.800.120', { stream: 'DOCUMENTS', seq: 42 }, 0));
    // Other settings give other output, so another id: a re-chunk with new settings is never deduplicated away.
    const [resized] = (await handleOne(upserted(42), undefined, { size: 400, overlap: 40 })) as [Output];
    expect(resized.msgId).toBe('chunker@2.1.400.40:DOCUMENTS:42:0');
    expect(output.event.type).toBe('document.chunked');
    expect(output.event.metadata).toMatchObject({
      id: output.msgId,
      source: '/processors/chunker',
      subject: address.id,
      schemaVersion: 1,
      traceparent: TRACEPARENT,
      causation: { stream: 'DOCUMENTS', seq: 42 },
    });

    const data = chunkedData(output);
    expect(documentChunkedV1.safeParse(data).success).toBe(true);
    expect(data).toMatchObject({
      ...address,
      docSeq: 42,
      document: { title: 'Streaming RAG', url: 'https://medium.com/p/4f1e2d', metadata: { author: 'Ada', tags: ['nats', 'rag'] }, contentHash: HASH },
      chunker: { name: 'structure', version: 1, size: 800, overlap: 120 },
      part: { index: 0, count: 1 },
      totalChunks: 2,
    });
    expect(data.chunks.map((c) => [c.chunkId, c.ordinal, c.heading])).toEqual([
      [`42:${FP}:0`, 0, 'Streaming RAG'],
      [`42:${FP}:1`, 1, 'Streaming RAG > Replay'],
    ]);
    // Citable: each chunk is exactly its slice of the normalised document.
    const normalized = normalizeText(MARKDOWN, 'text/markdown').text;
    for (const chunk of data.chunks) expect(normalized.slice(chunk.start, chunk.end)).toBe(chunk.text);
  });

  it('emits events that survive the codec round trip unchanged', async () => {
    const [output] = (await handleOne(upserted(42))) as [Output];
    const { headers, data } = encodeEvent(output.event, output.msgId);
    const decoded = decodeEvent({ subject: output.subject, data, headers }, { stream: 'CHUNKS', seq: 7 });
    expect(decoded.type).toBe('document.chunked');
    expect(decoded.data).toEqual(output.event.data);
    expect(decoded.metadata.causation).toEqual({ stream: 'DOCUMENTS', seq: 42 });
    expect(headers.get('Nats-Msg-Id')).toBe('chunker@2.1.800.120:DOCUMENTS:42:0');
  });

  it('omits title and url when the document has none, and records the configured chunker', async () => {
    const input = upserted(5);
    const { title: _title, url: _url, ...rest } = input.data;
    const [output] = (await handleOne({ ...input, data: rest }, MiB, { size: 400, overlap: 40 })) as [Output];
    const data = chunkedData(output);
    expect(data.document).toEqual({ metadata: { author: 'Ada', tags: ['nats', 'rag'] }, contentHash: HASH });
    expect(data.chunker).toEqual({ name: 'structure', version: 1, size: 400, overlap: 40 });
  });

  it('still publishes an empty version for a document with no text, so old chunks are dropped', async () => {
    const [output] = (await handleOne(upserted(9, { text: '  \n ' }))) as [Output];
    expect(chunkedData(output)).toMatchObject({ docSeq: 9, totalChunks: 0, chunks: [], part: { index: 0, count: 1 } });
  });

  it('splits a 3 MB document into parts under max_payload with contiguous ordinals', async () => {
    const paragraphs: string[] = [];
    for (let i = 0, length = 0; length < 3_000_000; i++) {
      const paragraph = `Paragraph ${i} explains how event ${i} flows from the log into a projection. It is replayed, never edited; “quoted” text & symbols survive.`;
      paragraphs.push(paragraph);
      length += paragraph.length + 2;
    }
    const outputs = await handleOne(upserted(42, { contentType: 'text/plain', text: paragraphs.join('\n\n') }), MiB);
    expect(outputs.length).toBeGreaterThanOrEqual(3);

    const first = chunkedData(outputs[0] as Output);
    let nextOrdinal = 0;
    outputs.forEach((output, index) => {
      const data = chunkedData(output);
      expect(output.msgId).toBe(`chunker@2.1.800.120:DOCUMENTS:42:${index}`);
      expect(output.subject).toBe(subjects.chunks(address));
      expect(data.part).toEqual({ index, count: outputs.length });
      expect(data.totalChunks).toBe(first.totalChunks);
      expect(data.document).toEqual(first.document);
      expect(data.docSeq).toBe(42);
      expect(data.chunks.length).toBeGreaterThan(0);
      for (const chunk of data.chunks) {
        expect(chunk.ordinal).toBe(nextOrdinal);
        expect(chunk.chunkId).toBe(`42:${FP}:${nextOrdinal}`);
        nextOrdinal++;
      }
      // Headers get the 16 KiB the part splitter keeps free; the JSON body must fit in the rest.
      expect(encodeEvent(output.event, output.msgId).data.byteLength).toBeLessThanOrEqual(MiB - 16 * 1024);
    });
    expect(nextOrdinal).toBe(first.totalChunks);
    expect(new Set(outputs.map((o) => o.msgId)).size).toBe(outputs.length);
  });
});

describe('document.deleted', () => {
  it('becomes document.removed with the delete as the tombstone version', async () => {
    const [output, ...more] = await handleOne(deleted(43));
    expect(more).toEqual([]);
    expect(output?.subject).toBe(subjects.chunks(address));
    expect(output?.msgId).toBe('chunker@2.1.800.120:DOCUMENTS:43:0');
    expect(output?.event.type).toBe('document.removed');
    expect(output?.event.data).toEqual({ ...address, docSeq: 43 });
    expect(documentRemovedV1.safeParse(output?.event.data).success).toBe(true);
    expect(output?.event.metadata.causation).toEqual({ stream: 'DOCUMENTS', seq: 43 });
    expect(output?.event.metadata).not.toHaveProperty('traceparent');
  });
});

describe('bad inputs in a batch', () => {
  it('fail alone, as permanent errors, while the rest of the batch succeeds', async () => {
    const hugeMetadata = upserted(45, { id: 'big-meta', metadata: { blob: 'x'.repeat(80 * 1024) } });
    const outcomes = await createChunker().handle([upserted(42), queryReceived(44), hugeMetadata, deleted(46)], { maxPayloadBytes: 64 * 1024 });
    expect(outcomes).toHaveLength(4);

    const [ok, unknown, tooBig, removed] = outcomes;
    expect(Array.isArray(ok) && ok.length).toBe(1);
    expect(unknown).toBeInstanceOf(PermanentEventError);
    expect((unknown as Error).message).toContain('query.received');
    expect(tooBig).toBeInstanceOf(PermanentEventError);
    expect((tooBig as Error).message).toContain('max_payload');
    expect(Array.isArray(removed) && (removed as readonly Output[])[0]?.event.type).toBe('document.removed');
  });
});
