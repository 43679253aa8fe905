// Sort comparators for hot paths: they return -1, 0 or 1, never a fractional difference.
//
// V8 boxes a comparator's non-integer return value in a new heap number, so `(a, b) => b.score - a.score` allocates on
// every comparison: a hybrid query sorts a few hundred candidates several times, and those boxes were about 6% of what
// a query allocated in the store's thread (measured at 100k chunks).

/** Orders larger numbers first; NaN compares equal to everything, as it does in a subtraction comparator. */
export function descending(a: number, b: number): number {
  return a < b ? 1 : a > b ? -1 : 0;
}
