// Qdrant's filter semantics for the fake server: JSON paths, must/should/must_not, typed match, range, is_empty/is_null, has_id, nested.
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Payload = Record<string, Json>;

/** A request Qdrant would refuse: the HTTP status and the `status.error` text. */
export class QdrantHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (message: string): QdrantHttpError => new QdrantHttpError(400, `Bad request: ${message}`);

const isObject = (v: unknown): v is Record<string, Json> => v !== null && typeof v === 'object' && !Array.isArray(v);

type PathItem = { key: string } | { index: number } | { wildcard: true };

/** Qdrant's JSON path: `a.b`, `a."b.c"`, `a[0]`, `a[]` (keys of [A-Za-z0-9_-] unquoted, anything but `"` and `\` quoted). */
export function parsePath(path: string): PathItem[] {
  const items: PathItem[] = [];
  let i = 0;
  const key = (): string => {
    if (path[i] === '"') {
      const end = path.indexOf('"', i + 1);
      if (end < 0) throw badRequest(`invalid json path ${path}`);
      const k = path.slice(i + 1, end);
      if (k.includes('\\')) throw badRequest(`invalid json path ${path}`);
      i = end + 1;
      return k;
    }
    const m = /^[\p{L}\p{N}_-]+/u.exec(path.slice(i));
    if (!m) throw badRequest(`invalid json path ${path}`);
    i += m[0].length;
    return m[0];
  };
  items.push({ key: key() });
  while (i < path.length) {
    if (path[i] === '.') {
      i++;
      items.push({ key: key() });
    } else if (path.startsWith('[]', i)) {
      i += 2;
      items.push({ wildcard: true });
    } else if (path[i] === '[') {
      const m = /^\[(\d+)\]/.exec(path.slice(i));
      if (!m) throw badRequest(`invalid json path ${path}`);
      i += m[0].length;
      items.push({ index: Number(m[1]) });
    } else {
      throw badRequest(`invalid json path ${path}`);
    }
  }
  return items;
}

/** The values at `path`: a key step applies to an object, or to each object of an array (Qdrant flattens arrays on the way). */
export function valuesAt(payload: Payload, path: string): Json[] {
  let current: Json[] = [payload];
  for (const item of parsePath(path)) {
    const next: Json[] = [];
    for (const v of current) {
      if ('key' in item) {
        if (isObject(v)) {
          if (Object.hasOwn(v, item.key)) next.push(v[item.key] as Json);
        } else if (Array.isArray(v)) {
          for (const e of v) if (isObject(e) && Object.hasOwn(e, item.key)) next.push(e[item.key] as Json);
        }
      } else if ('index' in item) {
        if (Array.isArray(v) && item.index < v.length) next.push(v[item.index] as Json);
      } else if (Array.isArray(v)) {
        next.push(...v);
      }
    }
    current = next;
  }
  return current;
}

type ValueVariant = { kind: 'keyword'; value: string } | { kind: 'integer'; value: number } | { kind: 'bool'; value: boolean };

/** Qdrant's ValueVariants: string, integer or bool; a float does not deserialize. */
function valueVariant(v: unknown): ValueVariant {
  if (typeof v === 'string') return { kind: 'keyword', value: v };
  if (typeof v === 'boolean') return { kind: 'bool', value: v };
  if (typeof v === 'number' && Number.isInteger(v)) return { kind: 'integer', value: v };
  throw badRequest(`match value must be a string, an integer or a boolean, got ${JSON.stringify(v)}`);
}

/** Qdrant's AnyVariants: a list of strings or a list of integers. */
function anyVariants(list: unknown): { kind: 'keyword'; values: string[] } | { kind: 'integer'; values: number[] } {
  if (!Array.isArray(list)) throw badRequest('match.any must be a list');
  if (list.every((v) => typeof v === 'string')) return { kind: 'keyword', values: list as string[] };
  if (list.every((v) => typeof v === 'number' && Number.isInteger(v))) return { kind: 'integer', values: list as number[] };
  throw badRequest('match.any must be a list of strings or a list of integers');
}

/** A JSON integer (serde's as_i64); after JSON.parse an integral number is all the fake can tell. */
const asInteger = (v: Json): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);

type Checker = (value: Json) => boolean;

function matchChecker(match: Record<string, unknown>): Checker {
  if ('value' in match) {
    const want = valueVariant(match.value);
    return (v) =>
      (want.kind === 'bool' && typeof v === 'boolean' && v === want.value) ||
      (want.kind === 'keyword' && typeof v === 'string' && v === want.value) ||
      (want.kind === 'integer' && asInteger(v) === want.value);
  }
  if ('any' in match) {
    const any = anyVariants(match.any);
    return (v) =>
      any.kind === 'keyword' ? typeof v === 'string' && any.values.includes(v) : asInteger(v) !== undefined && any.values.includes(asInteger(v) as number);
  }
  if ('except' in match) {
    const except = anyVariants(match.except);
    return (v) => {
      if (v === null) return false;
      if (typeof v === 'string') return except.kind !== 'keyword' || !except.values.includes(v);
      if (typeof v === 'number') return except.kind !== 'integer' || asInteger(v) === undefined || !except.values.includes(v);
      return true;
    };
  }
  if ('text' in match && typeof match.text === 'string') {
    const text = match.text;
    return (v) => typeof v === 'string' && v.includes(text);
  }
  throw badRequest(`unsupported match ${JSON.stringify(match)}`);
}

function rangeChecker(range: Record<string, unknown>): Checker {
  const bound = (name: string): number | undefined => {
    const b = range[name];
    if (b === undefined || b === null) return undefined;
    if (typeof b !== 'number') throw badRequest(`range.${name} must be a number`);
    return b;
  };
  const [gt, gte, lt, lte] = [bound('gt'), bound('gte'), bound('lt'), bound('lte')];
  return (v) =>
    typeof v === 'number' &&
    (gt === undefined || v > gt) &&
    (gte === undefined || v >= gte) &&
    (lt === undefined || v < lt) &&
    (lte === undefined || v <= lte);
}

export interface FilterTarget {
  readonly id: string | number;
  readonly payload: Payload;
  readonly vectorNames: ReadonlySet<string>;
}

const asList = (v: unknown): unknown[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);

/** A compiled filter: Qdrant semantics, strict about shapes it does not know. */
export function compileFilter(filter: unknown, normaliseId: (id: unknown) => string | number): (target: FilterTarget) => boolean {
  if (filter === undefined || filter === null) return () => true;
  if (!isObject(filter)) throw badRequest('filter must be an object');
  const must = asList(filter.must).map((c) => compileCondition(c, normaliseId));
  const should = asList(filter.should).map((c) => compileCondition(c, normaliseId));
  const mustNot = asList(filter.must_not).map((c) => compileCondition(c, normaliseId));
  const minShould = isObject(filter.min_should) ? filter.min_should : undefined;
  const minCount = minShould ? Number(minShould.min_count) : undefined;
  const minConditions = minShould ? asList(minShould.conditions).map((c) => compileCondition(c, normaliseId)) : [];
  return (t) =>
    must.every((c) => c(t)) &&
    (should.length === 0 || should.some((c) => c(t))) &&
    !mustNot.some((c) => c(t)) &&
    (minCount === undefined || minConditions.filter((c) => c(t)).length >= minCount);
}

function compileCondition(condition: unknown, normaliseId: (id: unknown) => string | number): (target: FilterTarget) => boolean {
  if (!isObject(condition)) throw badRequest('a condition must be an object');
  if ('must' in condition || 'should' in condition || 'must_not' in condition || 'min_should' in condition) {
    return compileFilter(condition, normaliseId);
  }
  if ('has_id' in condition) {
    const ids = new Set(asList(condition.has_id).map(normaliseId));
    return (t) => ids.has(t.id);
  }
  if ('has_vector' in condition) {
    const name = String(condition.has_vector);
    return (t) => t.vectorNames.has(name);
  }
  if ('is_empty' in condition && isObject(condition.is_empty)) {
    const key = String(condition.is_empty.key);
    return (t) => valuesAt(t.payload, key).every((v) => v === null || (Array.isArray(v) && v.length === 0));
  }
  if ('is_null' in condition && isObject(condition.is_null)) {
    const key = String(condition.is_null.key);
    return (t) => valuesAt(t.payload, key).some((v) => v === null);
  }
  if ('nested' in condition && isObject(condition.nested)) {
    const key = String(condition.nested.key);
    const inner = compileFilter(condition.nested.filter, normaliseId);
    return (t) =>
      valuesAt(t.payload, key).some((v) => (Array.isArray(v) ? v : [v]).some((e) => isObject(e) && inner({ id: t.id, payload: e, vectorNames: t.vectorNames })));
  }
  if (typeof condition.key === 'string') {
    const key = condition.key;
    parsePath(key);
    const checks: Checker[] = [];
    if (isObject(condition.match)) checks.push(matchChecker(condition.match));
    if (isObject(condition.range)) checks.push(rangeChecker(condition.range));
    if (checks.length === 0) throw badRequest(`unsupported field condition ${JSON.stringify(condition)}`);
    // A field condition holds when any value at the path (or any element of an array value) passes.
    const check: Checker = (v) => checks.some((c) => c(v));
    return (t) => valuesAt(t.payload, key).some((v) => (Array.isArray(v) ? v.some((e) => !Array.isArray(e) && check(e)) : check(v)));
  }
  throw badRequest(`unsupported condition ${JSON.stringify(condition)}`);
}
