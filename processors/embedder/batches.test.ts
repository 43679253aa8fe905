// Batch planning: every text once, longest first, within the count and token budgets.
import { describe, expect, it } from 'vitest';
import { balanceBatches, planBatches } from './batches.ts';

describe('planBatches', () => {
  it('puts every text in exactly one batch, longest first, within both budgets', () => {
    const costs = [10, 128, 5, 128, 64, 128, 128, 3, 70, 128];
    const batches = planBatches(costs, { batchSize: 3, batchTokens: 256, groupByLength: true });
    expect(batches.flat().sort((a, b) => a - b)).toEqual(costs.map((_, i) => i));
    expect(batches.flat().map((i) => costs[i])).toEqual([...costs].sort((a, b) => b - a));
    for (const batch of batches) {
      expect(batch.length).toBeLessThanOrEqual(3);
      expect(batch.reduce((sum, i) => sum + (costs[i] as number), 0)).toBeLessThanOrEqual(256);
    }
  });

  it('keeps input order when not grouping, and gives an oversized text a batch of its own', () => {
    expect(planBatches([1, 900, 1, 1], { batchSize: 32, batchTokens: 512, groupByLength: false })).toEqual([[0], [1], [2, 3]]);
    expect(planBatches([], { batchSize: 32, batchTokens: 512, groupByLength: true })).toEqual([]);
  });
});

describe('balanceBatches', () => {
  const limits = { batchSize: 32, batchTokens: 512, groupByLength: true };
  // A one-page document's windows: six full, five partial.
  const page = [128, 128, 128, 128, 128, 128, 90, 90, 90, 90, 90];

  it('deals a small call into whole rounds of equal work for the workers', () => {
    const planned = planBatches(page, limits);
    expect(planned).toHaveLength(3);
    const balanced = balanceBatches(page, planned, { workers: 2, batchSize: 32, maxRounds: 4 });
    expect(balanced).toHaveLength(4);
    expect(balanced.flat().sort((a, b) => a - b)).toEqual(page.map((_, i) => i));
    const sums = balanced.map((batch) => batch.reduce((sum, i) => sum + (page[i] as number), 0));
    // The busier thread runs two batches: at most one window more than half of the whole.
    const perThread = [(sums[0] as number) + (sums[3] as number), (sums[1] as number) + (sums[2] as number)];
    const total = page.reduce((a, b) => a + b, 0);
    expect(Math.max(...perThread)).toBeLessThanOrEqual(total / 2 + 128);
    expect(Math.max(...sums)).toBeLessThan(Math.max(...planned.map((b) => b.reduce((sum, i) => sum + (page[i] as number), 0))));
  });

  it('leaves whole rounds, one worker, bulk calls and batches full by count as planned', () => {
    const two = planBatches(page.slice(0, 8), limits);
    expect(balanceBatches(page, two, { workers: 2, batchSize: 32, maxRounds: 4 })).toEqual(two);
    const three = planBatches(page, limits);
    expect(balanceBatches(page, three, { workers: 1, batchSize: 32, maxRounds: 4 })).toEqual(three);
    expect(balanceBatches(page, three, { workers: 2, batchSize: 32, maxRounds: 1 })).toEqual(three);
    const byCount = planBatches([5, 5, 5, 5, 5], { batchSize: 2, batchTokens: 512, groupByLength: true });
    expect(byCount).toHaveLength(3);
    // Four batches of at most two texts each can hold the five: dealt, and every batch stays within the count.
    const dealt = balanceBatches([5, 5, 5, 5, 5], byCount, { workers: 2, batchSize: 2, maxRounds: 4 });
    expect(dealt).toHaveLength(4);
    for (const batch of dealt) expect(batch.length).toBeLessThanOrEqual(2);
  });
});
