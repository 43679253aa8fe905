// Unit tests of the free-text → FTS5 MATCH translation: words only, stopwords dropped, operators neutralised.
import { describe, expect, it } from 'vitest';
import { ftsMatchExpression, MAX_QUERY_TERMS, queryTerms } from './fts-query.ts';

describe('queryTerms', () => {
  it('keeps distinct lower-cased words and drops stopwords', () => {
    expect(queryTerms('How do I install the Rust toolchain on Linux? Rust!')).toEqual(['install', 'rust', 'toolchain', 'linux']);
  });

  it('keeps letters and digits of any script', () => {
    expect(queryTerms('Café crème 2024 — Straße, 東京')).toEqual(['café', 'crème', '2024', 'straße', '東京']);
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

describe('ftsMatchExpression', () => {
  it('quotes every term and ORs them', () => {
    expect(ftsMatchExpression('salmon NEAR dill* title:x')).toBe('"salmon" OR "near" OR "dill" OR "title" OR "x"');
  });

  it('is undefined when there is nothing to search for', () => {
    expect(ftsMatchExpression('(((')).toBeUndefined();
  });

  it('keeps FTS5 operators as plain quoted words', () => {
    expect(ftsMatchExpression('AND OR NOT')).toBe('"and" OR "or" OR "not"');
  });
});
