// The fast validators agree with zod: what they accept, zod accepts with the same values; the rest is zod's to refuse.
import { describe, expect, it } from 'vitest';
import { documentChunkedV1 } from './chunks.ts';
import { documentEmbeddedV1 } from './embeddings.ts';
import { FAST_VALIDATORS } from './fast-parse.ts';
import { parseEventData } from './index.ts';

const chunked = () => ({
  tenant: 'acme',
  source: 'api',
  id: 'doc-1',
  docSeq: 7,
  document: { title: 'T', metadata: { tags: ['a', 'b'], year: 2024, nested: { ok: true, none: null } }, contentHash: `sha256:${'0'.repeat(64)}` },
  chunker: { name: 'structure', version: 1, size: 800, overlap: 120 },
  part: { index: 0, count: 1 },
  totalChunks: 2,
  chunks: [
    { chunkId: '7:abc:0', ordinal: 0, text: 'hello', start: 0, end: 5, tokens: 1 },
    { chunkId: '7:abc:1', ordinal: 1, text: 'world', start: 5, end: 10, tokens: 1, heading: 'Intro' },
  ],
});

const embedded = () => ({
  tenant: 'acme',
  source: 'api',
  id: 'doc-1',
  docSeq: 7,
  model: { id: 'hash-256', dims: 256, normalized: true, maxTokens: 512 },
  part: { index: 0, count: 1 },
  vectors: [{ chunkId: '7:abc:0', window: 0, vector: 'AAAA' }],
});

type Mutation = [string, (d: Record<string, any>) => void];

const chunkedMutations: Mutation[] = [
  ['an unknown top-level key', (d) => (d.extra = 1)],
  ['an unknown chunk key', (d) => (d.chunks[0].extra = 1)],
  ['an unknown document key', (d) => (d.document.extra = 1)],
  ['a bad tenant', (d) => (d.tenant = 'Acme!')],
  ['an empty id', (d) => (d.id = '')],
  ['a docSeq of 0', (d) => (d.docSeq = 0)],
  ['a fractional ordinal', (d) => (d.chunks[1].ordinal = 1.5)],
  ['a huge integer', (d) => (d.totalChunks = 2 ** 60)],
  ['a missing metadata (zod defaults it)', (d) => delete d.document.metadata],
  ['metadata too deep', (d) => (d.document.metadata = { a: JSON.parse('['.repeat(40) + ']'.repeat(40)) })],
  ['a numeric heading', (d) => (d.chunks[1].heading = 3)],
  ['chunks not an array', (d) => (d.chunks = {})],
  ['a part count of 0', (d) => (d.part.count = 0)],
  ['a chunker without overlap', (d) => delete d.chunker.overlap],
];

const embeddedMutations: Mutation[] = [
  ['an unknown vector key', (d) => (d.vectors[0].extra = 1)],
  ['dims over the limit', (d) => (d.model.dims = 70000)],
  ['a string window', (d) => (d.vectors[0].window = '0')],
  ['a bad model id', (d) => (d.model.id = 'Hash 256')],
  ['a missing maxTokens', (d) => delete d.model.maxTokens],
];

describe('fast validators', () => {
  it('accept the events the stages write, with the values zod returns', () => {
    const fastChunked = FAST_VALIDATORS['document.chunked@1']?.(chunked());
    expect(fastChunked).toEqual(documentChunkedV1.parse(chunked()));
    const fastEmbedded = FAST_VALIDATORS['document.embedded@1']?.(embedded());
    expect(fastEmbedded).toEqual(documentEmbeddedV1.parse(embedded()));
  });

  it.each([
    ...chunkedMutations.map(([name, mutate]) => ['document.chunked', name, chunked, mutate] as const),
    ...embeddedMutations.map(([name, mutate]) => ['document.embedded', name, embedded, mutate] as const),
  ])('%s with %s: leave it to zod, and parseEventData answers as zod does', (type, _name, make, mutate) => {
    const data = make() as Record<string, any>;
    mutate(data);
    expect(FAST_VALIDATORS[`${type}@1`]?.(structuredClone(data))).toBeUndefined();
    const schema = type === 'document.chunked' ? documentChunkedV1 : documentEmbeddedV1;
    const expected = schema.safeParse(structuredClone(data));
    if (expected.success) expect(parseEventData(type, 1, structuredClone(data))).toEqual(expected.data);
    else expect(() => parseEventData(type, 1, structuredClone(data))).toThrow(/invalid/);
  });
});
