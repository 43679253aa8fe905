// The Qdrant filter translation agrees with metadataMatches (the reference semantics), judged by the fake's Qdrant filter evaluator.
import { describe, expect, it } from 'vitest';
import { normaliseId } from '../../../test/fakes/qdrant-engine.ts';
import { compileFilter } from '../../../test/fakes/qdrant-filter.ts';
import { metadataMatches } from '../../filter.ts';
import type { FilterValue } from '../../store.ts';
import { searchFilter } from './filter.ts';

const stored: Array<Record<string, unknown>> = [
  { year: 2024, tags: ['fish', 'cooking'], draft: false, stars: 1, score: 0.5 },
  { year: '2024', tags: 'gardening', nested: { tags: 'fish' }, 'nested.tags': 'dotted', draft: true, score: 2 },
  { year: 2023, tags: [['fish']], stars: true, mixed: [1, '1', true, null, { a: 1 }] },
  { tags: [], empty: null },
];

const wanted: Array<Record<string, FilterValue | FilterValue[]>> = [
  { year: 2024 },
  { year: '2024' },
  { year: [2023, '2024'] },
  { tags: 'fish' },
  { tags: ['gardening', 'cooking'] },
  { draft: false },
  { draft: true },
  { stars: 1 },
  { stars: true },
  { score: 0.5 },
  { score: 2 },
  { score: [0.5, 2] },
  { 'nested.tags': 'fish' },
  { 'nested.tags': 'dotted' },
  { nested: 'fish' },
  { mixed: 1 },
  { mixed: '1' },
  { mixed: true },
  { mixed: [false, 2] },
  { missing: 'x' },
  { year: 2024, tags: 'fish' },
  { year: [] },
];

describe('searchFilter metadata conditions', () => {
  it('match exactly the documents metadataMatches accepts, types and arrays included', () => {
    for (const metadata of wanted) {
      const test = compileFilter(searchFilter('acme', 'chunk', { metadata }), normaliseId);
      const got = stored.map((meta, i) => test({ id: i, payload: { tenant: 'acme', kind: 'chunk', meta } as never, vectorNames: new Set() }));
      expect({ metadata, got }).toEqual({ metadata, got: stored.map((meta) => metadataMatches(meta, metadata)) });
    }
  });

  it('always scopes to the tenant and point kind, and ANDs source and docId lists', () => {
    const test = compileFilter(searchFilter('acme', 'vector', { source: ['blog', 'docs'], docId: ['a'] }), normaliseId);
    const point = (payload: Record<string, unknown>) => ({ id: 1, payload: payload as never, vectorNames: new Set<string>() });
    expect(test(point({ tenant: 'acme', kind: 'vector', source: 'blog', docId: 'a' }))).toBe(true);
    expect(test(point({ tenant: 'globex', kind: 'vector', source: 'blog', docId: 'a' }))).toBe(false);
    expect(test(point({ tenant: 'acme', kind: 'chunk', source: 'blog', docId: 'a' }))).toBe(false);
    expect(test(point({ tenant: 'acme', kind: 'vector', source: 'wiki', docId: 'a' }))).toBe(false);
    expect(test(point({ tenant: 'acme', kind: 'vector', source: 'docs', docId: 'b' }))).toBe(false);
  });
});
