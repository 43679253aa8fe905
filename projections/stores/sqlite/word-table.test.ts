// WordTable: the words of simple text and their ids, as a global RegExp and a Map give them, through growth and restarts.
import { describe, expect, it } from 'vitest';
import { prng } from '../../../lib/prng.ts';
import { SIMPLE_TOKEN_SOURCE } from './tokenizer.ts';
import { WordTable } from './word-table.ts';

/** The reference: RegExp tokens, ids assigned in first-seen order by a Map. */
function referenceIds(texts: readonly string[]): number[][] {
  const ids = new Map<string, number>();
  return texts.map((text) => [...text.matchAll(new RegExp(SIMPLE_TOKEN_SOURCE, 'g'))].map((m) => {
    let id = ids.get(m[0]);
    if (id === undefined) ids.set(m[0], (id = ids.size));
    return id;
  }));
}

/** Ids from a WordTable whose `miss` numbers words as the reference does (by word, whatever the table forgot). */
function tableIds(texts: readonly string[], maxEntries: number): { ids: number[][]; misses: number } {
  const assigned = new Map<string, number>();
  let misses = 0;
  const table = new WordTable(maxEntries, (word) => {
    misses++;
    let id = assigned.get(word);
    if (id === undefined) assigned.set(word, (id = assigned.size));
    return id;
  });
  return { ids: texts.map((text) => { const out: number[] = []; table.idsOf(text, out); return out; }), misses };
}

describe('WordTable', () => {
  const random = prng(11);
  const alphabet = 'abcXYZ019 -.,\n\té—“”€😀_';
  const texts = Array.from({ length: 3000 }, () =>
    Array.from({ length: Math.floor(random() * 120) }, () => alphabet[Math.floor(random() * alphabet.length)]).join(''),
  );

  it('gives the words of a RegExp over [A-Za-z0-9]+ (non-ASCII and punctuation separate) and one id per word', () => {
    const { ids, misses } = tableIds(texts, 1_000_000);
    expect(ids).toEqual(referenceIds(texts));
    // Each distinct word missed once: the table found every repeat by its characters.
    expect(misses).toBe(new Set(texts.flatMap((t) => t.match(new RegExp(SIMPLE_TOKEN_SOURCE, 'g')) ?? [])).size);
  });

  it('keeps the same ids when it starts over at its size limit', () => {
    const { ids, misses } = tableIds(texts, 50);
    expect(ids).toEqual(referenceIds(texts));
    expect(misses).toBeGreaterThan(new Set(texts.flatMap((t) => t.match(new RegExp(SIMPLE_TOKEN_SOURCE, 'g')) ?? [])).size);
  });

  it('handles edges: empty text, a word at either end, long words', () => {
    const long = 'x'.repeat(5000);
    const edge = ['', 'word', ' word', 'word ', 'a', 'A a', '9', long, `${long}y`, 'Ab aB AB ab'];
    expect(tableIds(edge, 1_000_000).ids).toEqual(referenceIds(edge));
  });
});
