// The token estimate: zero for nothing, about 1.3 per ordinary word, more for symbols, long tokens and other scripts.
import { describe, expect, it } from 'vitest';
import { estimateTokens } from './tokens.ts';

describe('estimateTokens', () => {
  it('is zero for empty and whitespace-only text', () => {
    expect(estimateTokens('')).toBe(0);
    expect(estimateTokens(' \n\t\u00a0')).toBe(0);
  });

  it('counts about 1.3 tokens per ordinary word and one per punctuation mark', () => {
    expect(estimateTokens('the quick brown fox jumps over the lazy dog')).toBe(12); // 9 words × 1.3 = 11.7
    expect(estimateTokens('Hello, world!')).toBe(5); // 2 × 1.3 + 2 marks
    const words = Array.from({ length: 1000 }, () => 'stream').join(' ');
    expect(estimateTokens(words)).toBe(1300);
  });

  it('charges long unbroken tokens by length, not as one word', () => {
    const base64 = 'QUJD'.repeat(150);
    expect(estimateTokens(base64)).toBe(Math.round((600 / 6) * 1.3));
    expect(estimateTokens(base64)).toBeGreaterThan(estimateTokens('QUJD') * 50);
  });

  it('counts ideographs one each and weighs non-Latin scripts heavier than Latin', () => {
    expect(estimateTokens('流式处理')).toBe(Math.round(4 * 1.3));
    expect(estimateTokens('приветствие')).toBeGreaterThan(estimateTokens('greetings'));
    expect(estimateTokens('🙂')).toBe(1);
  });

  it('is additive over space-separated parts, up to rounding', () => {
    const a = 'Event sourcing keeps every change.';
    const b = 'Projections are caches of the log.';
    expect(Math.abs(estimateTokens(`${a} ${b}`) - (estimateTokens(a) + estimateTokens(b)))).toBeLessThanOrEqual(1);
  });
});
