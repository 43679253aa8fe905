// Unit tests of the words keyword search takes from free query text: words only, stopwords dropped, capped.
import { describe, expect, it } from 'vitest';
import { MAX_QUERY_TERMS, queryTerms } from './query-terms.ts';

describe('queryTerms', () => {
  it('keeps distinct lower-cased words and drops stopwords', () => {
    expect(queryTerms('How do I install the Rust toolchain on Linux? Rust!')).toEqual(['install', 'rust', 'toolchain', 'linux']);
  });

  it('keeps letters and digits of any script', () => {
    expect(queryTerms('Café crème 2024 — Straße, 東京')).toEqual(['café', 'crème', '2024', 'straße', '東京']);
  });

  it('takes query syntax as plain words', () => {
    expect(queryTerms('salmon NEAR dill* title:x')).toEqual(['salmon', 'near', 'dill', 'title', 'x']);
  });

  it('has no terms for punctuation only', () => {
    expect(queryTerms('')).toEqual([]);
    expect(queryTerms('?! *** "')).toEqual([]);
  });

  it('searches the stopwords themselves when a query has nothing else', () => {
    expect(queryTerms('to be or not to be')).toEqual(['to', 'be', 'or', 'not']);
  });

  it('caps very long queries', () => {
    const text = Array.from({ length: 200 }, (_, i) => `word${i}`).join(' ');
    expect(queryTerms(text)).toHaveLength(MAX_QUERY_TERMS);
  });
});
