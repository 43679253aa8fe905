// Splits a list of items into parts whose encoded size stays under a byte budget (below the server's max_payload).
import { PermanentEventError } from '../lib/errors.ts';

/** Room left for headers and the fixed fields of an event around the items. */
export const ENVELOPE_ALLOWANCE_BYTES = 16 * 1024;

/**
 * Groups items in order so that each group's JSON is at most `maxBytes - ENVELOPE_ALLOWANCE_BYTES`.
 * Always returns at least one (possibly empty) group. Throws PermanentEventError when a single item cannot fit.
 */
export function splitIntoParts<T>(items: readonly T[], maxBytes: number): T[][] {
  const budget = maxBytes - ENVELOPE_ALLOWANCE_BYTES;
  const parts: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const item of items) {
    const itemBytes = Buffer.byteLength(JSON.stringify(item), 'utf8') + 1;
    if (itemBytes > budget) {
      throw new PermanentEventError(`one item is ${itemBytes} bytes, over the ${budget}-byte budget of a message; lower the chunk size or raise max_payload`);
    }
    if (size + itemBytes > budget && current.length > 0) {
      parts.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += itemBytes;
  }
  parts.push(current);
  return parts;
}
