// Batch planning: every text once, longest first, within the count and token budgets.
import { describe, expect, it } from 'vitest';
import { planBatches } from './batches.ts';

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
