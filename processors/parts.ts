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
  // Nearly every document fits in one message: when even a generous bound on the items' JSON fits, the exact size
  // (a JSON.stringify of every item, all thrown away) is not needed.
  let bound = 0;
  for (const item of items) {
    bound += jsonBytesBound(item, 0) + 1;
    if (bound > budget) break;
  }
  if (bound <= budget) return [items.slice()];
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

/**
 * An upper bound on the UTF-8 bytes of JSON.stringify(value): a string costs at most 6 bytes per UTF-16 unit (a
 * \\u escape) plus quotes, a number at most 24 characters. Infinity for what it does not know (and deep nesting),
 * so callers fall back to measuring.
 */
function jsonBytesBound(value: unknown, depth: number): number {
  switch (typeof value) {
    case 'string':
      return value.length * 6 + 2;
    case 'number':
      return 24;
    case 'boolean':
      return 5;
    case 'undefined':
      return 0;
    case 'object': {
      if (value === null) return 4;
      if (depth > 8) return Number.POSITIVE_INFINITY;
      let bytes = 2;
      if (Array.isArray(value)) {
        for (const v of value) bytes += jsonBytesBound(v, depth + 1) + 1;
        return bytes;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype) return Number.POSITIVE_INFINITY;
      for (const key in value) bytes += key.length * 6 + 3 + jsonBytesBound((value as Record<string, unknown>)[key], depth + 1) + 1;
      return bytes;
    }
    default:
      return Number.POSITIVE_INFINITY;
  }
}
