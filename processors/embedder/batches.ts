// Cutting one embed call's texts into model calls: similar lengths together, within a count and a token budget.

export interface BatchLimits {
  /** Most texts per batch. */
  readonly batchSize: number;
  /** Most tokens per batch; a single text over it still gets a batch of its own. */
  readonly batchTokens: number;
  /** Sort by cost, longest first, before cutting (off only to measure what it brings). */
  readonly groupByLength: boolean;
}

/**
 * Groups the indices of texts with the given token costs into batches. Longest first: a batch of similar lengths
 * pads little, and the slowest batches start first while other workers pick up the short ones.
 */
export function planBatches(costs: readonly number[], limits: BatchLimits): number[][] {
  const order = costs.map((_, i) => i);
  if (limits.groupByLength) order.sort((a, b) => (costs[b] as number) - (costs[a] as number) || a - b);
  const batches: number[][] = [];
  let batch: number[] = [];
  let tokens = 0;
  for (const index of order) {
    const cost = costs[index] as number;
    if (batch.length > 0 && (batch.length >= limits.batchSize || tokens + cost > limits.batchTokens)) {
      batches.push(batch);
      batch = [];
      tokens = 0;
    }
    batch.push(index);
    tokens += cost;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}
