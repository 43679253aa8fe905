// The offline embedder's windowing (no model, no threads): windows within 128 model tokens, all words in order.
import { describe, expect, it } from 'vitest';
import { createOfflineEmbedder } from './offline.ts';
import { loadUseVocabulary, UseTokenCounter } from './use-tokens.ts';

const provider = createOfflineEmbedder();
const counter = new UseTokenCounter(loadUseVocabulary());

const abstract =
  'Alterations of the architecture of cerebral white matter in the developing human brain can affect cortical development ' +
  'and result in functional disabilities. A line scan diffusion-weighted magnetic resonance imaging (MRI) sequence with ' +
  'diffusion tensor analysis was applied to measure the apparent diffusion coefficient, to calculate relative anisotropy, ' +
  'and to delineate three-dimensional fiber architecture in cerebral white matter in preterm (n = 17) and full-term infants (n = 7).';

/** Removes each window's overlap with the one before, giving back the words of the text in order. */
function stitch(windows: readonly string[]): string[] {
  const out: string[] = [];
  for (const window of windows) {
    const words = window.split(' ');
    let overlap = Math.min(out.length, words.length);
    while (overlap > 0 && out.slice(out.length - overlap).join(' ') !== words.slice(0, overlap).join(' ')) overlap -= 1;
    out.push(...words.slice(overlap));
  }
  return out;
}

describe('createOfflineEmbedder windows', () => {
  it('describes USE-lite and its fusion profile', () => {
    expect(provider.info).toEqual({ id: 'use-lite-512', dims: 512, normalized: true, maxTokens: 128 });
    expect(provider.fusion.vectorWeight).toBe(0.25);
  });

  it('keeps text that fits as one window, with whitespace made single spaces', () => {
    expect(provider.windows('Heart  disease\nand blood pressure.')).toEqual(['Heart disease and blood pressure.']);
    expect(provider.windows('')).toEqual(['']);
    expect(provider.windows(' \n ')).toEqual(['']);
  });

  it('cuts long text into windows of at most 128 tokens that cover every word in order', () => {
    const text = Array.from({ length: 6 }, () => abstract).join('\n\n');
    const windows = provider.windows(text);
    expect(windows.length).toBeGreaterThan(4);
    for (const window of windows) expect(counter.countText(window)).toBeLessThanOrEqual(128);
    // Windows are nearly full: the budget is used, not wasted on a conservative word count.
    const mean = windows.reduce((sum, w) => sum + counter.countText(w), 0) / windows.length;
    expect(mean).toBeGreaterThan(110);
    expect(stitch(windows)).toEqual(text.split(/\s+/));
  });

  it('cuts a word longer than a window into pieces that fit', () => {
    const sequence = 'ACGT'.repeat(200);
    const windows = provider.windows(`the sequence ${sequence} ends here`);
    for (const window of windows) expect(counter.countText(window)).toBeLessThanOrEqual(128);
    expect(windows.join(' ').replaceAll(' ', '')).toContain(sequence);
  });

  it('starts no worker and loads no model just to window text', async () => {
    await expect(provider.close()).resolves.toBeUndefined();
  });
});
