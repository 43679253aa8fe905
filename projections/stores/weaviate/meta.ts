// Metadata as filterable tokens: every top-level scalar (or scalar array element) becomes one `key=<JSON value>` token.
import type { Metadata } from '../../../streams/events/index.ts';
import type { FilterValue } from '../../store.ts';

/*
 * Why one `meta_kv` text[] property (tokenization "field") and not one Weaviate property per metadata key:
 * - metadata keys are open-ended and one key may hold different JSON types in different documents (year: 2024 in one,
 *   "2024" in another); a typed schema property per key would fail or coerce on the first conflict, and an open set of
 *   keys would grow the class schema without bound;
 * - a token `key=<JSON.stringify(value)>` carries the type in its spelling (`year=2024`, `year="2024"`, `draft=true`),
 *   so equality honours type agreement (true ≠ 1, "2024" ≠ 2024) exactly as metadataMatches does;
 * - an array value contributes one token per scalar element, so "stored array contains the value" and "stored scalar
 *   equals the value" are the same test: `meta_kv containsAny [tokens of the wanted values]`;
 * - objects (and values nested in them) produce no token, so they never match; METADATA_KEY has no "=", so the key
 *   part cannot be confused with the value, and JSON strings end in a quote, so "field" tokenization's whitespace
 *   trimming never changes a value.
 */

const isScalar = (value: unknown): value is FilterValue =>
  typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));

/** The token a (key, value) pair is stored and searched as. */
export const metaToken = (key: string, value: FilterValue): string => `${key}=${JSON.stringify(value)}`;

/** Tokens of a document's metadata (sorted and distinct, so equal metadata gives equal properties). */
export function metaTokens(metadata: Metadata): string[] {
  const out = new Set<string>();
  for (const [key, value] of Object.entries(metadata)) {
    const values: readonly unknown[] = Array.isArray(value) ? value : [value];
    for (const v of values) if (isScalar(v)) out.add(metaToken(key, v));
  }
  return [...out].sort();
}
