// RM3 query expansion (pure): which terms join a query, with what weight, and when the query stays as it is.
import { describe, expect, it } from 'vitest';
import { expandQuery, RM3_SETTINGS } from './expansion.ts';

const idf = (t: string) => ({ walrus: 3, tusk: 2.5, ivory: 2, arctic: 1.5, seal: 1.2, common: 1e-6 })[t] ?? 1;

describe('expandQuery', () => {
  it('keeps the query at weight 1 and adds the hits\' topical terms, whose weights sum to (1 − λ)/λ of the query', () => {
    const out = expandQuery(['walrus'], [{ score: 5, tokens: ['walrus', 'tusk', 'ivory', 'the', 'wa', '1984', 'common'] }], idf, { ...RM3_SETTINGS, terms: 3 });
    expect(out.tokens[0]).toBe('walrus');
    expect(out.tokens.slice(1)).toEqual(['tusk', 'ivory']); // the best 3 by relevance × IDF are walrus, tusk, ivory; stopwords (also stemmed: "wa"), numbers left out
    const added = out.weights.slice(1).reduce((a, b) => a + b, 0);
    const walrusShare = (out.weights[0] as number) - 1; // walrus is also a feedback term: 1 + its share
    expect(walrusShare).toBeGreaterThan(0);
    expect(added + walrusShare).toBeCloseTo((1 - RM3_SETTINGS.originalWeight) / RM3_SETTINGS.originalWeight, 10);
  });

  it('weighs a hit by its score: the best hit\'s terms lead', () => {
    const out = expandQuery(['walrus'], [{ score: 10, tokens: ['arctic'] }, { score: 2, tokens: ['seal'] }], () => 1, { ...RM3_SETTINGS, terms: 2 });
    expect(out.tokens).toEqual(['walrus', 'arctic', 'seal']);
    expect(out.weights[1] as number).toBeGreaterThan((out.weights[2] as number) * 100);
  });

  it('returns the query unchanged without feedback, without expandable terms, or with originalWeight 1', () => {
    const plain = { tokens: ['walrus', 'tusk'], weights: [1, 1] };
    expect(expandQuery(['walrus', 'tusk', 'walrus'], [], idf)).toEqual(plain);
    expect(expandQuery(['walrus', 'tusk'], [{ score: 3, tokens: ['the', '42', 'x'] }], idf)).toEqual(plain);
    expect(expandQuery(['walrus', 'tusk'], [{ score: 3, tokens: ['ivory'] }], idf, { ...RM3_SETTINGS, originalWeight: 1 })).toEqual(plain);
    expect(expandQuery(['walrus'], [{ score: Number.NaN, tokens: ['ivory'] }], idf).tokens).toEqual(['walrus']);
  });

  it('is deterministic: equal weights are ordered by token', () => {
    const a = expandQuery(['q'], [{ score: 1, tokens: ['bb', 'aa', 'cc'] }], () => 1);
    const b = expandQuery(['q'], [{ score: 1, tokens: ['cc', 'bb', 'aa'] }], () => 1);
    expect(a).toEqual(b);
    expect(a.tokens).toEqual(['q', 'aa', 'bb', 'cc']);
  });
});
