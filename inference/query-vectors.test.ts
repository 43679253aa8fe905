// The query vector cache: one model call per remembered text, shared by equal questions in flight, failures forgotten.
import { describe, expect, it } from 'vitest';
import type { QueryEmbedder } from '../projections/serving.ts';
import { QueryVectors } from './query-vectors.ts';

function countingEmbedder(id = 'm', fail?: (text: string) => boolean): QueryEmbedder & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    info: { id, dims: 3, normalized: true, maxTokens: 128 },
    async embed(texts) {
      await new Promise((r) => setTimeout(r, 5));
      calls.push(...texts);
      if (texts.some((t) => fail?.(t))) throw new Error('model down');
      return texts.map((t) => new Float32Array([t.length, 1, id.length]));
    },
  };
}

describe('QueryVectors', () => {
  it('embeds a text once and answers it again from memory, per model', async () => {
    const cache = new QueryVectors();
    const a = countingEmbedder('a');
    const b = countingEmbedder('bb');
    expect(await cache.vector(a, 'what is hybrid search')).toEqual(new Float32Array([21, 1, 1]));
    expect(await cache.vector(a, 'what is hybrid search')).toEqual(new Float32Array([21, 1, 1]));
    expect(await cache.vector(b, 'what is hybrid search')).toEqual(new Float32Array([21, 1, 2]));
    expect(await cache.vector(a, 'what is replay')).toEqual(new Float32Array([14, 1, 1]));
    expect(a.calls).toEqual(['what is hybrid search', 'what is replay']);
    expect(b.calls).toEqual(['what is hybrid search']);
  });

  it('makes one model call for equal questions asked together', async () => {
    const cache = new QueryVectors();
    const m = countingEmbedder();
    const vectors = await Promise.all(Array.from({ length: 5 }, () => cache.vector(m, 'same question')));
    expect(m.calls).toEqual(['same question']);
    expect(new Set(vectors).size).toBe(5); // each asker gets its own copy
  });

  it('hands out copies: changing one does not change the next answer', async () => {
    const cache = new QueryVectors();
    const m = countingEmbedder();
    const first = await cache.vector(m, 'q');
    first.fill(0);
    expect(await cache.vector(m, 'q')).toEqual(new Float32Array([1, 1, 1]));
  });

  it('does not remember a failed call: the next ask tries the model again', async () => {
    const cache = new QueryVectors();
    let down = true;
    const m = countingEmbedder('m', () => down);
    await expect(cache.vector(m, 'q')).rejects.toThrow(/model down/);
    down = false;
    expect(await cache.vector(m, 'q')).toEqual(new Float32Array([1, 1, 1]));
    expect(m.calls).toEqual(['q', 'q']);
  });

  it('forgets the least recently asked text beyond its size', async () => {
    const cache = new QueryVectors(2);
    const m = countingEmbedder();
    await cache.vector(m, 'one');
    await cache.vector(m, 'two');
    await cache.vector(m, 'one'); // now 'two' is the oldest
    await cache.vector(m, 'three'); // evicts 'two'
    await cache.vector(m, 'one');
    await cache.vector(m, 'three');
    expect(m.calls).toEqual(['one', 'two', 'three']);
    await cache.vector(m, 'two');
    expect(m.calls).toEqual(['one', 'two', 'three', 'two']);
  });

  it('does not remember texts longer than its limit (a chat message may be megabytes)', async () => {
    const cache = new QueryVectors(10, 8);
    const m = countingEmbedder();
    await cache.vector(m, '12345678');
    await cache.vector(m, '12345678');
    await cache.vector(m, '123456789');
    await cache.vector(m, '123456789');
    expect(m.calls).toEqual(['12345678', '123456789', '123456789']);
  });

  it('size 0 remembers nothing; a negative or fractional size is refused', async () => {
    const cache = new QueryVectors(0);
    const m = countingEmbedder();
    await cache.vector(m, 'q');
    await cache.vector(m, 'q');
    expect(m.calls).toEqual(['q', 'q']);
    expect(() => new QueryVectors(-1)).toThrow(RangeError);
    expect(() => new QueryVectors(1.5)).toThrow(RangeError);
  });
});
