// Word windowing: every word covered in order, budgets respected, a small overlap, a well-filled tail.
import { describe, expect, it } from 'vitest';
import { splitWords, windowWords, type WindowBudget } from './windows.ts';

const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`);
const oneEach = (maxTokens: number, overlapTokens: number): WindowBudget => ({ maxTokens, overlapTokens, tokens: () => 1 });

/** Where each window sits in the word list (words are unique, so a window's first word gives its place). */
function spans(all: readonly string[], windows: readonly string[]): Array<[number, number]> {
  return windows.map((window) => {
    const ws = window.split(' ');
    const start = all.indexOf(ws[0] as string);
    expect(all.slice(start, start + ws.length)).toEqual(ws);
    return [start, start + ws.length];
  });
}

describe('windowWords', () => {
  it('gives one empty window for no words and one window for text that fits', () => {
    expect(windowWords([], oneEach(10, 2))).toEqual(['']);
    expect(windowWords(['a', 'b'], oneEach(10, 2))).toEqual(['a b']);
  });

  it('covers every word in order, each window within budget, overlapping by at most the overlap', () => {
    const all = words(1000);
    const windows = windowWords(all, oneEach(50, 7));
    const at = spans(all, windows);
    expect(at[0]?.[0]).toBe(0);
    expect(at.at(-1)?.[1]).toBe(all.length);
    for (const [start, end] of at) expect(end - start).toBeLessThanOrEqual(50);
    for (let i = 1; i < at.length; i++) {
      const [prevStart, prevEnd] = at[i - 1] as [number, number];
      const [start] = at[i] as [number, number];
      expect(start).toBeGreaterThan(prevStart);
      expect(start).toBeLessThanOrEqual(prevEnd);
      if (i < at.length - 1) expect(prevEnd - start).toBe(7);
    }
  });

  it('fills a short tail window with earlier words instead of leaving a few alone', () => {
    const all = words(105);
    const windows = windowWords(all, oneEach(50, 5));
    const at = spans(all, windows);
    expect(at.at(-1)).toEqual([55, 105]);
  });

  it('weighs words by their token cost', () => {
    const all = ['long', 'a', 'b', 'c', 'd'];
    const budget: WindowBudget = { maxTokens: 4, overlapTokens: 1, tokens: (w) => (w === 'long' ? 3 : 1) };
    expect(windowWords(all, budget)).toEqual(['long a', 'a b c d']);
  });

  it('puts a word over the budget in a window of its own', () => {
    const budget: WindowBudget = { maxTokens: 4, overlapTokens: 1, tokens: (w) => (w === 'huge' ? 9 : 1) };
    expect(windowWords(['a', 'huge', 'b'], budget)).toEqual(['a', 'huge', 'b']);
  });
});

describe('splitWords', () => {
  it('splits on any unicode whitespace and drops empties', () => {
    expect(splitWords('  a\tb\n\nc\u00a0d  ')).toEqual(['a', 'b', 'c', 'd']);
    expect(splitWords('   ')).toEqual([]);
  });
});
