// The hashing embedder: deterministic unit vectors where shared words mean higher similarity.
import { describe, expect, it } from 'vitest';
import { createHashEmbedder, hashTokens } from './hash.ts';

const cosine = (a: Float32Array, b: Float32Array) => a.reduce((sum, v, i) => sum + v * (b[i] as number), 0);
const norm = (a: Float32Array) => Math.sqrt(cosine(a, a));

describe('createHashEmbedder', () => {
  const provider = createHashEmbedder();

  it('describes itself as hash-<dims>, normalised, with a fusion profile', () => {
    expect(provider.info).toEqual({ id: 'hash-256', dims: 256, normalized: true, maxTokens: 512 });
    expect(createHashEmbedder({ dims: 64 }).info.id).toBe('hash-64');
    expect(provider.fusion.vectorWeight).toBe(0.3);
  });

  it('gives the same unit vector for the same text, across instances', async () => {
    const text = 'Retrieval augmented generation over an event log';
    const [a] = await provider.embed([text]);
    const [b] = await createHashEmbedder().embed([text]);
    expect(a).toEqual(b);
    expect(a).toHaveLength(256);
    expect(norm(a as Float32Array)).toBeCloseTo(1, 5);
  });

  it('scores texts that share words above unrelated texts', async () => {
    const [query, related, paraphrase, unrelated] = await provider.embed([
      'heart disease and blood pressure',
      'high blood pressure raises the risk of heart disease',
      'Heart Disease: blood-pressure studies',
      'volcanic eruptions spread ash over the island',
    ]);
    const q = query as Float32Array;
    expect(cosine(q, related as Float32Array)).toBeGreaterThan(cosine(q, unrelated as Float32Array) + 0.2);
    expect(cosine(q, paraphrase as Float32Array)).toBeGreaterThan(cosine(q, unrelated as Float32Array) + 0.2);
  });

  it('is case-insensitive and counts word pairs, so word order matters a little', async () => {
    const [a, b, c] = await provider.embed(['The patient has Heart Disease', 'the patient has heart disease', 'disease heart has patient the']);
    expect(cosine(a as Float32Array, b as Float32Array)).toBeCloseTo(1, 6);
    // Five shared words, four different pairs: about 5/9.
    const swapped = cosine(a as Float32Array, c as Float32Array);
    expect(swapped).toBeLessThan(0.8);
    expect(swapped).toBeGreaterThan(0.3);
  });

  it('gives the zero vector for text without words', async () => {
    const [empty] = await provider.embed(['  ... ']);
    expect(norm(empty as Float32Array)).toBe(0);
  });

  it('windows long text by about 400 words', () => {
    const text = Array.from({ length: 1000 }, (_, i) => `w${i}`).join(' ');
    const windows = provider.windows(text);
    expect(windows.length).toBe(3);
    for (const window of windows) expect(window.split(' ').length).toBeLessThanOrEqual(400);
    expect(windows[0]?.startsWith('w0 ')).toBe(true);
    expect(windows.at(-1)?.endsWith(' w999')).toBe(true);
    expect(provider.windows('')).toEqual(['']);
  });
});

describe('hashTokens', () => {
  it('lowercases unicode words and drops punctuation', () => {
    expect(hashTokens('Café-Crème, naïve 42!')).toEqual(['café', 'crème', 'naïve', '42']);
  });
});
