// Pure parts of the Weaviate store (analysis, metadata tokens, names, the docSeq guard plan) and its connection error.
import { describe, expect, it } from 'vitest';
import { UnavailableError } from '../../../lib/errors.ts';
import { freePort } from '../../../streams/server.ts';
import { connectWeaviate } from './connect.ts';
import type { StoreOp } from '../../store.ts';
import { indexTerms, porterStem, queryStems } from './analyze.ts';
import { metaTokens } from './meta.ts';
import { chunkObjectId, generationCollections, pendingObjectId, uuidV5, weaviateTenant, windowObjectId } from './names.ts';
import { planBatch, type HeldDocument } from './plan.ts';

describe('analysis', () => {
  it('stems like Porter (1980) and folds diacritics', () => {
    const pairs = { tomatoes: 'tomato', relational: 'relat', hopping: 'hop', generalizations: 'gener', ponies: 'poni', sky: 'sky' };
    for (const [word, stem] of Object.entries(pairs)) expect(porterStem(word)).toBe(stem);
    expect(indexTerms('Cafés, Tomatoes & 42 ÉCLAIRS')).toBe('cafe tomato 42 eclair');
    expect(queryStems('the tomatoes and THE tomato?')).toEqual(['tomato']);
    expect(queryStems('!!! ???')).toEqual([]);
  });
});

describe('metadata tokens', () => {
  it('spell the JSON type, one token per array element, nothing for objects', () => {
    expect(metaTokens({ year: 2024, y: '2024', draft: true, d: 'true', tags: ['a', 1, false, { x: 1 }], nested: { tags: 'fish' }, n: null })).toEqual(
      ['d="true"', 'draft=true', 'tags="a"', 'tags=1', 'tags=false', 'y="2024"', 'year=2024'],
    );
  });
});

describe('names', () => {
  it('makes class names valid and keeps sanitised ids apart', () => {
    const a = generationCollections('inference', 'v1-model.a');
    const b = generationCollections('inference', 'v1_model_a');
    expect(a.chunks).toMatch(/^Spanda_inference_v1_model_a_[0-9a-f]{8}$/);
    expect(b.chunks).toBe('Spanda_inference_v1_model_a');
    expect(a.docs).toBe(`${a.chunks}_Docs`);
    expect(generationCollections('inference', 'x'.repeat(400)).chunks.length).toBeLessThan(256);
  });

  it('uses Spanda tenant names as they are and hashes the rest', () => {
    expect(weaviateTenant('acme-1')).toBe('acme-1');
    expect(weaviateTenant('acme corp')).toMatch(/^x--[0-9a-f]{32}$/);
    expect(weaviateTenant('x--abc')).not.toBe('x--abc');
  });

  it('derives v5 UUIDs from the address', () => {
    const id = uuidV5(['chunk', 'acme', 'blog', 'a', '1:0']);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(uuidV5(['chunk', 'acme', 'blog', 'a', '1:0'])).toBe(id);
    expect(chunkObjectId('acme', 'blog', 'a', '1:0')).not.toBe(windowObjectId('acme', 'blog', 'a', '1:0', 0));
  });
});

describe('plan', () => {
  const ref = { tenant: 'acme', source: 'blog', docId: 'a' };
  const address = JSON.stringify(['acme', 'blog', 'a']);
  const v = Float32Array.of(1, 0);
  const chunks = (docSeq: number, ids: string[]): StoreOp => ({
    kind: 'chunks', ...ref, docSeq, metadata: {}, part: { index: 0, count: 1 }, totalChunks: ids.length,
    chunks: ids.map((chunkId, ordinal) => ({ chunkId, ordinal, text: chunkId, start: 0, end: 1, tokens: 1 })),
  });
  const vectors = (docSeq: number, ids: string[]): StoreOp => ({ kind: 'vectors', ...ref, docSeq, model: 'm', vectors: ids.map((chunkId) => ({ chunkId, window: 0, vector: v })) });
  const held = (h: Partial<HeldDocument>): Map<string, HeldDocument> => new Map([[address, { ref, chunks: new Map(), windows: [], pending: [], ...h }]]);
  const b64 = Buffer.from(v.buffer).toString('base64');

  it('keeps vectors of a version not held as pending, and attaches them when the chunks come', () => {
    const [first] = planBatch([vectors(2, ['c'])], held({}));
    expect(first?.pendingUpserts.map((w) => w.id)).toEqual([pendingObjectId('acme', 'blog', 'a', 2, 'c', 0)]);
    expect(first?.recordUpserts).toEqual([]);
    const [second] = planBatch([chunks(2, ['c'])], held({ pending: [{ docSeq: 2, chunkId: 'c', window: 0, vectorB64: b64 }] }));
    expect(second?.chunkUpserts.map((w) => w.id).sort()).toEqual([chunkObjectId('acme', 'blog', 'a', 'c'), windowObjectId('acme', 'blog', 'a', 'c', 0)].sort());
    expect(second?.pendingDeletes).toEqual([pendingObjectId('acme', 'blog', 'a', 2, 'c', 0)]);
  });

  it('writes nothing when a batch already applied is replayed', () => {
    const record = { docSeq: 2, deleted: false, metadata: {}, totalChunks: 1 };
    const [plan] = planBatch([chunks(2, ['c']), vectors(2, ['c']), chunks(1, ['old'])], held({
      record,
      chunks: new Map([['c', 2]]),
      windows: [{ chunkId: 'c', window: 0, docSeq: 2, vectorB64: b64 }],
    }));
    expect(plan).toEqual({ tenant: 'acme', chunkUpserts: [], chunkDeletes: [], pendingUpserts: [], recordUpserts: [], pendingDeletes: [] });
    // With a removal of that version in it, what the batch left is the tombstone: replayed, it writes nothing either.
    const tombstone = { docSeq: 2, deleted: true, metadata: {}, totalChunks: null };
    const [again] = planBatch([chunks(2, ['c']), vectors(2, ['c']), chunks(1, ['old']), { kind: 'remove', ...ref, docSeq: 2 }], held({ record: tombstone }));
    expect(again).toEqual({ tenant: 'acme', chunkUpserts: [], chunkDeletes: [], pendingUpserts: [], recordUpserts: [], pendingDeletes: [] });
  });

  it('deletes objects of any version but the recorded one (leftovers of an interrupted batch)', () => {
    const record = { docSeq: 2, deleted: false, metadata: {}, totalChunks: 1 };
    const [plan] = planBatch([vectors(2, ['c'])], held({ record, chunks: new Map([['c', 2], ['x', 3]]), windows: [{ chunkId: 'x', window: 0, docSeq: 3, vectorB64: b64 }] }));
    expect(plan?.chunkDeletes.sort()).toEqual([chunkObjectId('acme', 'blog', 'a', 'x'), windowObjectId('acme', 'blog', 'a', 'x', 0)].sort());
    expect(plan?.chunkUpserts.map((w) => w.id)).toEqual([windowObjectId('acme', 'blog', 'a', 'c', 0)]);
  });
});

describe('connecting', () => {
  it('names the address it tried and the settings to check when nothing answers', async () => {
    const closed = await freePort();
    const failure = connectWeaviate({ url: `http://127.0.0.1:${closed}` });
    await expect(failure).rejects.toBeInstanceOf(UnavailableError);
    await expect(failure).rejects.toThrow(new RegExp(`^cannot reach Weaviate at http://127\\.0\\.0\\.1:${closed} \\(gRPC 127\\.0\\.0\\.1:50051\\): fetch failed; check .*WEAVIATE_URL`));
  });
});
