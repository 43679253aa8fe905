// Search filters as Qdrant filters: tenant always, source/docId lists, metadata keys with the same type-strict semantics as metadataMatches.
import type { Schemas } from '@qdrant/js-client-rest';
import type { FilterValue, SearchFilter } from '../../store.ts';
import type { PointKind } from './layout.ts';

type Filter = Schemas['Filter'];
type Condition = Schemas['Condition'];

/**
 * The payload path of a metadata key. Keys are quoted because a filter key is one top-level metadata key even when it
 * contains a "." (Qdrant reads an unquoted dot as nesting); METADATA_KEY admits no '"' or '\', so quoting is exact.
 */
export const metadataPath = (key: string): string => `meta."${key}"`;

const keywordIn = (key: string, values: readonly string[]): Condition =>
  values.length === 1 ? { key, match: { value: values[0] as string } } : { key, match: { any: [...values] } };

/**
 * One condition per metadata key, true when any wanted value matches. Qdrant's match is type-strict like
 * metadataMatches (a keyword matches only strings, an integer only numbers, a bool only booleans) and matches an array
 * payload when any element matches; a number that is not a safe integer is matched by an exact range, since
 * `match.value` takes integers only.
 */
export function metadataCondition(key: string, wanted: readonly FilterValue[]): Condition {
  const path = metadataPath(key);
  const strings = wanted.filter((v): v is string => typeof v === 'string');
  const integers = wanted.filter((v): v is number => typeof v === 'number' && Number.isSafeInteger(v));
  const others = wanted.filter((v) => typeof v === 'boolean' || (typeof v === 'number' && !Number.isSafeInteger(v)));
  const options: Condition[] = [];
  if (strings.length > 0) options.push(keywordIn(path, strings));
  if (integers.length > 0) options.push(integers.length === 1 ? { key: path, match: { value: integers[0] as number } } : { key: path, match: { any: integers } });
  for (const v of others) {
    options.push(typeof v === 'boolean' ? { key: path, match: { value: v } } : { key: path, range: { gte: v as number, lte: v as number } });
  }
  // An empty list matches nothing (validated filters never get here with one, see matchesNothing, but stay exact anyway).
  if (options.length === 0) return { has_id: [] };
  return options.length === 1 ? (options[0] as Condition) : { should: options };
}

/** The Qdrant filter for one tenant's points of `kind` that pass `filter` (already validated by projections/filter.ts). */
export function searchFilter(tenant: string, kind: PointKind, filter?: SearchFilter): Filter {
  const must: Condition[] = [
    { key: 'tenant', match: { value: tenant } },
    { key: 'kind', match: { value: kind } },
  ];
  if (filter?.source) must.push(keywordIn('source', filter.source));
  if (filter?.docId) must.push(keywordIn('docId', filter.docId));
  for (const [key, raw] of Object.entries(filter?.metadata ?? {})) {
    const wanted: readonly FilterValue[] = Array.isArray(raw) ? raw : [raw as FilterValue];
    must.push(metadataCondition(key, wanted));
  }
  return { must };
}

/** The points of one document address, of the given kinds. */
export function documentFilter(ref: { tenant: string; source: string; docId: string }, kinds: readonly PointKind[]): Filter {
  return {
    must: [
      { key: 'tenant', match: { value: ref.tenant } },
      { key: 'source', match: { value: ref.source } },
      { key: 'docId', match: { value: ref.docId } },
      keywordIn('kind', kinds),
    ],
  };
}

/** Every point of `kind` (optionally of one tenant). */
export function kindFilter(kind: PointKind, extra: Condition[] = []): Filter {
  return { must: [{ key: 'kind', match: { value: kind } }, ...extra] };
}
