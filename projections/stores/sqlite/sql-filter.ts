// SearchFilter → a parameterised SQL condition over the documents row `d` (validated; values are always bound).
import { ValidationError } from '../../../lib/errors.ts';
import { METADATA_KEY } from '../../filter.ts';
import type { FilterValue, SearchFilter } from '../../store.ts';

export interface SqlCondition {
  /** A boolean SQL expression (`1` when the filter is empty). */
  readonly sql: string;
  readonly params: readonly (string | number)[];
}

function checkValue(key: string, value: unknown): asserts value is FilterValue {
  const ok = typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
  if (!ok) {
    throw new ValidationError(`filter value for metadata key ${JSON.stringify(key)} must be a string, a finite number or a boolean`, [
      `filter.metadata.${key}: unsupported value`,
    ]);
  }
}

// JSON booleans and numbers must not match each other (json_each reports true as the integer 1), so every value is
// compared together with its JSON type.
function valueMatch(value: FilterValue, params: (string | number)[]): string {
  if (typeof value === 'boolean') return value ? `je.type = 'true'` : `je.type = 'false'`;
  params.push(value);
  return typeof value === 'number' ? `(je.type IN ('integer', 'real') AND je.value = ?)` : `(je.type = 'text' AND je.value = ?)`;
}

function listOf(field: 'source' | 'docId', values: readonly string[] | undefined): readonly string[] | undefined {
  if (values === undefined) return undefined;
  if (!Array.isArray(values) || values.some((v) => typeof v !== 'string')) {
    throw new ValidationError(`filter.${field} must be an array of strings`, [`filter.${field}: not an array of strings`]);
  }
  return values;
}

/**
 * Conditions are ANDed. source/docId lists match any of their values (an empty list matches nothing). A metadata key
 * names a top-level key literally (dots included); it matches a stored scalar equal to a value, or a stored array that
 * contains one; an object never matches.
 */
export function filterCondition(filter: SearchFilter | undefined): SqlCondition {
  if (!filter) return { sql: '1', params: [] };
  const parts: string[] = [];
  const params: (string | number)[] = [];
  const source = listOf('source', filter.source);
  if (source) {
    parts.push(`d.source IN (SELECT value FROM json_each(?))`);
    params.push(JSON.stringify(source));
  }
  const docId = listOf('docId', filter.docId);
  if (docId) {
    parts.push(`d.doc_id IN (SELECT value FROM json_each(?))`);
    params.push(JSON.stringify(docId));
  }
  for (const [key, raw] of Object.entries(filter.metadata ?? {})) {
    if (!METADATA_KEY.test(key)) {
      throw new ValidationError(
        `metadata filter key ${JSON.stringify(key)} is not allowed: use 1–64 letters, digits, "_", "." or "-"`,
        [`filter.metadata: invalid key ${JSON.stringify(key)}`],
      );
    }
    const values: readonly unknown[] = Array.isArray(raw) ? raw : [raw];
    for (const value of values) checkValue(key, value);
    if (values.length === 0) {
      parts.push('0');
      continue;
    }
    const path = `$."${key}"`;
    const valueParams: (string | number)[] = [];
    const matches = (values as readonly FilterValue[]).map((v) => valueMatch(v, valueParams));
    parts.push(
      `(json_type(d.metadata, ?) <> 'object' AND EXISTS (SELECT 1 FROM json_each(d.metadata, ?) je WHERE ${matches.join(' OR ')}))`,
    );
    params.push(path, path, ...valueParams);
  }
  return { sql: parts.length > 0 ? parts.join(' AND ') : '1', params };
}
