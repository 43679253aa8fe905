// Search filters checked once, above every store: the same filter is accepted or refused the same way by sqlite, weaviate and qdrant.
import { ValidationError } from '../lib/errors.ts';
import type { FilterValue, SearchFilter } from './store.ts';

/** Metadata filter keys: same rule as the query API (streams/events/queries.ts). */
export const METADATA_KEY = /^[A-Za-z0-9_.-]{1,64}$/;

const isScalar = (value: unknown): value is FilterValue =>
  typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));

function stringList(field: 'source' | 'docId', values: unknown): readonly string[] | undefined {
  if (values === undefined) return undefined;
  if (!Array.isArray(values) || values.some((v) => typeof v !== 'string')) {
    throw new ValidationError(`filter.${field} must be an array of strings`, [`filter.${field}: not an array of strings`]);
  }
  return values as string[];
}

/**
 * Returns the filter as every retriever may assume it: source/docId lists of strings (an empty list matches nothing),
 * metadata keys that match METADATA_KEY with lists of scalar values (an empty list matches nothing).
 */
export function validateFilter(filter: SearchFilter): SearchFilter {
  const source = stringList('source', filter.source);
  const docId = stringList('docId', filter.docId);
  let metadata: Record<string, readonly FilterValue[]> | undefined;
  if (filter.metadata !== undefined) {
    if (filter.metadata === null || typeof filter.metadata !== 'object' || Array.isArray(filter.metadata)) {
      throw new ValidationError('filter.metadata must be an object of key → value(s)', ['filter.metadata: not an object']);
    }
    metadata = {};
    for (const [key, raw] of Object.entries(filter.metadata)) {
      if (!METADATA_KEY.test(key)) {
        throw new ValidationError(`metadata filter key ${JSON.stringify(key)} is not allowed: use 1–64 letters, digits, "_", "." or "-"`, [
          `filter.metadata: invalid key ${JSON.stringify(key)}`,
        ]);
      }
      const values: readonly unknown[] = Array.isArray(raw) ? raw : [raw];
      for (const value of values) {
        if (!isScalar(value)) {
          throw new ValidationError(`filter value for metadata key ${JSON.stringify(key)} must be a string, a finite number or a boolean`, [
            `filter.metadata.${key}: unsupported value`,
          ]);
        }
      }
      metadata[key] = values as FilterValue[];
    }
  }
  return { ...(source ? { source } : {}), ...(docId ? { docId } : {}), ...(metadata ? { metadata } : {}) };
}

/** True when the filter can match nothing (an empty list anywhere): retrievers need not be asked. */
export function matchesNothing(filter: SearchFilter | undefined): boolean {
  if (!filter) return false;
  if (filter.source?.length === 0 || filter.docId?.length === 0) return true;
  return Object.values(filter.metadata ?? {}).some((v) => Array.isArray(v) && v.length === 0);
}

/**
 * Whether a document's metadata passes the metadata part of a filter (for stores that filter in memory, and the
 * reference the conformance suite holds stores to): a key matches a stored scalar equal to a value, or a stored array
 * containing one; JSON types must agree (true never equals 1); an object never matches.
 */
export function metadataMatches(metadata: Readonly<Record<string, unknown>>, filter: SearchFilter['metadata']): boolean {
  for (const [key, raw] of Object.entries(filter ?? {})) {
    const wanted: readonly FilterValue[] = Array.isArray(raw) ? raw : [raw as FilterValue];
    const held = Object.hasOwn(metadata, key) ? metadata[key] : undefined;
    const heldValues: readonly unknown[] = Array.isArray(held) ? held : [held];
    if (!wanted.some((w) => heldValues.some((h) => h === w))) return false;
  }
  return true;
}
