// Word windowing: cuts text into whole-word windows that each stay within a model's token budget, with a small overlap.

export interface WindowBudget {
  /** Most tokens one window may hold. */
  readonly maxTokens: number;
  /** Tokens of trailing words repeated at the start of the next window, so a sentence cut at a border is still seen whole once. */
  readonly overlapTokens: number;
  /** Tokens one word costs inside a window (words are joined by single spaces). */
  readonly tokens: (word: string) => number;
}

/** Whitespace-separated words of the text, in order. */
export function splitWords(text: string): string[] {
  return text.split(/\s+/u).filter((word) => word.length > 0);
}

/**
 * Groups words into windows (words joined by one space) of at most `maxTokens`, in order, covering every word.
 * A word that alone exceeds the budget becomes a window of its own (callers that must stay strictly within it
 * split such words first). No words gives one empty window.
 */
export function windowWords(words: readonly string[], budget: WindowBudget): string[] {
  const n = words.length;
  if (n === 0) return [''];
  const costs = words.map(budget.tokens);
  const cost = (i: number) => costs[i] as number;
  const windows: string[] = [];
  let previousStart = -1;
  let start = 0;
  for (;;) {
    let end = start;
    let total = 0;
    while (end < n && (end === start || total + cost(end) <= budget.maxTokens)) {
      total += cost(end);
      end += 1;
    }
    if (end >= n) {
      // A short tail window makes a noisy vector: reach back for context, but always start after the previous window.
      while (start - 1 > previousStart && total + cost(start - 1) <= budget.maxTokens) {
        start -= 1;
        total += cost(start);
      }
      windows.push(words.slice(start, end).join(' '));
      return windows;
    }
    windows.push(words.slice(start, end).join(' '));
    let next = end;
    let back = 0;
    while (next - 1 > start && back + cost(next - 1) <= budget.overlapTokens) {
      next -= 1;
      back += cost(next);
    }
    previousStart = start;
    start = next;
  }
}
