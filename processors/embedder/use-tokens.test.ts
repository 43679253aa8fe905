// USE-lite token counts from the ported tokenizer, against counts the package's own tokenizer gave for the same strings.
import { describe, expect, it } from 'vitest';
import { loadUseVocabulary, UseTokenCounter } from './use-tokens.ts';

const counter = new UseTokenCounter(loadUseVocabulary());

describe('UseTokenCounter', () => {
  it.each([
    ['cell growth', 2],
    ['Diffusion-weighted MRI of preterm infants (n = 17) showed reduced anisotropy.', 27],
    // Unknown characters collapse into one unknown token per run.
    ['naïve café ☕ 日本語', 10],
    // NFKC folds full-width letters and ligatures, as the package does.
    ['ＡＢＣ ﬁne', 3],
  ])('counts %j as %i tokens', (text, expected) => {
    expect(counter.countText(text)).toBe(expected);
  });

  it('counts a zero-score piece at the start of a text as the package does', () => {
    // The package treats a path score of 0 as unset, so "▁:" loses to "▁" + ":" only at the very start.
    expect(counter.countText(': ratio')).toBe(3);
    expect(counter.countText('ratio :')).toBe(2);
    expect(counter.wordBound(':')).toBe(2);
  });
});
