// The fake's query engine: filters as weaviate.v1.Filters defines them, BM25 over tokenized properties, exact cosine kNN.
import { Op, SEARCH_OPERATOR_AND, VECTOR_TYPE_MULTI_FP32, type Filters, type NearVector } from './proto.ts';
import { FakeError, tokenize, type ClassState, type PropertyValue, type StoredObject } from './state.ts';

function filterValues(f: Filters): Array<string | number | boolean> {
  if (f.valueText !== undefined) return [f.valueText];
  if (f.valueInt !== undefined) return [f.valueInt];
  if (f.valueNumber !== undefined) return [f.valueNumber];
  if (f.valueBoolean !== undefined) return [f.valueBoolean];
  if (f.valueTextArray) return f.valueTextArray.values;
  if (f.valueIntArray) return f.valueIntArray.values;
  if (f.valueNumberArray) return f.valueNumberArray.values;
  if (f.valueBooleanArray) return f.valueBooleanArray.values;
  return [];
}

const compare = (a: number | string, b: number | string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Compiles a filter into a predicate, refusing what Weaviate refuses (unknown properties, properties without a filterable index). */
export function compileFilter(c: ClassState, f: Filters): (o: StoredObject) => boolean {
  if (f.operator === Op.AND || f.operator === Op.OR) {
    const parts = f.filters.map((sub) => compileFilter(c, sub));
    return f.operator === Op.AND ? (o) => parts.every((p) => p(o)) : (o) => parts.some((p) => p(o));
  }
  if (f.operator === Op.NOT) {
    const [inner] = f.filters.map((sub) => compileFilter(c, sub));
    if (!inner) throw new FakeError(422, 'Not filter needs one operand');
    return (o) => !inner(o);
  }
  const property = f.target?.property ?? f.on[0];
  if (!property) throw new FakeError(422, 'filter has no target property');
  const values = filterValues(f);

  if (property === '_id') {
    const ids = new Set(values.map((v) => String(v).toLowerCase()));
    if (f.operator === Op.EQUAL || f.operator === Op.CONTAINS_ANY) return (o) => ids.has(o.uuid);
    if (f.operator === Op.NOT_EQUAL || f.operator === Op.CONTAINS_NONE) return (o) => !ids.has(o.uuid);
    throw new FakeError(422, `operator ${f.operator} on _id is not supported by the fake`);
  }

  const def = c.properties.get(property);
  if (!def) throw new FakeError(422, `no such prop with name '${property}' found in class '${c.name}' in the schema`);
  if (f.operator === Op.IS_NULL) return (o) => (o.properties[property] === undefined) === (f.valueBoolean ?? true);
  if (!def.indexFilterable) {
    throw new FakeError(422, `Filtering by property '${property}' requires inverted index. Is \`indexFilterable\` option of property '${property}' enabled? Set it to \`true\` or leave empty`);
  }
  const isText = def.dataType.startsWith('text');
  const held = (o: StoredObject): Array<string | number | boolean> => {
    const v: PropertyValue | undefined = o.properties[property];
    if (v === undefined) return [];
    return Array.isArray(v) ? v : [v];
  };

  if (isText) {
    const heldTokens = (o: StoredObject): Set<string> => new Set(held(o).flatMap((v) => tokenize(String(v), def.tokenization)));
    // A value matches when all its tokens are in the property (for "field" tokenization: the whole value equals it).
    const matches = (tokens: Set<string>, value: string | number | boolean): boolean => {
      const wanted = tokenize(String(value), def.tokenization);
      return wanted.length > 0 && wanted.every((t) => tokens.has(t));
    };
    switch (f.operator) {
      case Op.EQUAL:
        return (o) => values.length > 0 && matches(heldTokens(o), values[0] as string);
      case Op.NOT_EQUAL:
        return (o) => !(values.length > 0 && matches(heldTokens(o), values[0] as string));
      case Op.CONTAINS_ANY:
        return (o) => {
          const tokens = heldTokens(o);
          return values.some((v) => matches(tokens, v));
        };
      case Op.CONTAINS_ALL:
        return (o) => {
          const tokens = heldTokens(o);
          return values.every((v) => matches(tokens, v));
        };
      case Op.CONTAINS_NONE:
        return (o) => {
          const tokens = heldTokens(o);
          return !values.some((v) => matches(tokens, v));
        };
      case Op.LIKE: {
        const pattern = String(values[0] ?? '');
        const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
        return (o) => held(o).some((v) => re.test(String(v)));
      }
      default:
        throw new FakeError(422, `operator ${f.operator} on text property ${property} is not supported by the fake`);
    }
  }

  const wanted = values;
  switch (f.operator) {
    case Op.EQUAL:
      return (o) => held(o).some((h) => h === wanted[0]);
    case Op.NOT_EQUAL:
      return (o) => !held(o).some((h) => h === wanted[0]);
    case Op.CONTAINS_ANY:
      return (o) => held(o).some((h) => wanted.includes(h));
    case Op.CONTAINS_ALL:
      return (o) => wanted.every((w) => held(o).includes(w));
    case Op.CONTAINS_NONE:
      return (o) => !held(o).some((h) => wanted.includes(h));
    case Op.GREATER_THAN:
    case Op.GREATER_THAN_EQUAL:
    case Op.LESS_THAN:
    case Op.LESS_THAN_EQUAL: {
      const ok = {
        [Op.GREATER_THAN]: (d: number) => d > 0,
        [Op.GREATER_THAN_EQUAL]: (d: number) => d >= 0,
        [Op.LESS_THAN]: (d: number) => d < 0,
        [Op.LESS_THAN_EQUAL]: (d: number) => d <= 0,
      }[f.operator];
      return (o) => held(o).some((h) => ok(compare(h as number, wanted[0] as number)));
    }
    default:
      throw new FakeError(422, `operator ${f.operator} on ${def.dataType} property ${property} is not supported by the fake`);
  }
}

export interface Scored {
  readonly object: StoredObject;
  readonly score?: number;
  readonly distance?: number;
}

/**
 * BM25 as Weaviate scores it per property (k1, b from the class's invertedIndexConfig), summed over the query
 * properties (with `name^weight` boosts). The query is tokenized with each property's own tokenization, stopwords of
 * the class's preset dropped. Only objects that contain a query term are returned.
 */
export function bm25(
  c: ClassState,
  objects: readonly StoredObject[],
  request: { query: string; properties: string[]; searchOperator?: { operator: number; minimumOrTokensMatch?: number | undefined } | undefined },
): Scored[] {
  const requested = request.properties.length > 0 ? request.properties : [...c.properties.values()].filter((p) => p.indexSearchable).map((p) => p.name);
  const props = requested.map((raw) => {
    const [name = '', weight] = raw.split('^');
    const def = c.properties.get(name);
    if (!def) throw new FakeError(422, `bm25: no such property ${name} in class ${c.name}`);
    if (!def.indexSearchable) throw new FakeError(422, `bm25: property ${name} is not searchable (indexSearchable is false)`);
    return { def, weight: weight === undefined ? 1 : Number(weight) };
  });
  const { k1, b } = c.bm25;
  const stats = props.map(({ def, weight }) => {
    const docs = new Map<StoredObject, Map<string, number>>();
    let totalLength = 0;
    for (const o of objects) {
      const v = o.properties[def.name];
      if (v === undefined) continue;
      const tokens = (Array.isArray(v) ? v : [v]).flatMap((x) => tokenize(String(x), def.tokenization));
      if (tokens.length === 0) continue;
      const tf = new Map<string, number>();
      for (const t of tokens) tf.set(t, (tf.get(t) ?? 0) + 1);
      tf.set('\u0000length', tokens.length);
      docs.set(o, tf);
      totalLength += tokens.length;
    }
    const queryTokens = [...new Set(tokenize(request.query, def.tokenization))].filter((t) => !c.stopwords.has(t));
    return { def, weight, docs, avg: docs.size > 0 ? totalLength / docs.size : 0, queryTokens };
  });
  const allQueryTokens = new Set(stats.flatMap((s) => s.queryTokens));
  const and = request.searchOperator?.operator === SEARCH_OPERATOR_AND;
  const minimum = and ? allQueryTokens.size : Math.max(1, request.searchOperator?.minimumOrTokensMatch ?? 1);
  const out: Scored[] = [];
  for (const o of objects) {
    let score = 0;
    const matched = new Set<string>();
    for (const s of stats) {
      const tf = s.docs.get(o);
      if (!tf) continue;
      const length = tf.get('\u0000length') ?? 0;
      for (const t of s.queryTokens) {
        const f = tf.get(t);
        if (!f) continue;
        matched.add(t);
        let n = 0;
        for (const other of s.docs.values()) if (other.has(t)) n++;
        const idf = Math.log(1 + (s.docs.size - n + 0.5) / (n + 0.5));
        score += s.weight * idf * ((f * (k1 + 1)) / (f + k1 * (1 - b + (b * length) / s.avg)));
      }
    }
    if (matched.size >= minimum && matched.size > 0) out.push({ object: o, score: Math.fround(score) });
  }
  // Best first; equal scores keep shard order (insertion), as Weaviate keeps its internal doc id order.
  return out.sort((x, y) => (y.score as number) - (x.score as number));
}

function floats(bytes: Uint8Array): Float32Array {
  const copy = new Uint8Array(bytes);
  return new Float32Array(copy.buffer, 0, Math.floor(copy.byteLength / 4));
}

/** The query vector and target of a nearVector request (vectors[], vectorForTargets, vectorBytes or the legacy float list). */
export function nearVectorQuery(c: ClassState, near: NearVector): { target: string; vector: Float32Array } {
  const targets = near.targets?.targetVectors.length ? near.targets.targetVectors : near.targetVectors;
  if (targets.length > 1) throw new FakeError(422, 'multi-target vector search is not supported by the fake');
  let target = targets[0];
  if (target === undefined) {
    if (c.vectorNames.length !== 1) throw new FakeError(422, `class ${c.name} has several named vectors: the query must name a target vector`);
    target = c.vectorNames[0] as string;
  }
  if (!c.vectorNames.includes(target)) throw new FakeError(422, `class ${c.name} has no vector named ${target}`);
  let vector: Float32Array | undefined;
  const single = near.vectors.find((v) => v.type !== VECTOR_TYPE_MULTI_FP32) ?? near.vectorForTargets.find((v) => v.name === target)?.vectors[0];
  if (single) vector = floats(single.vectorBytes);
  else if (near.vectorForTargets.length > 0) vector = floats((near.vectorForTargets.find((v) => v.name === target) ?? near.vectorForTargets[0])?.vectorBytes ?? new Uint8Array());
  else if (near.vectorBytes.length > 0) vector = floats(near.vectorBytes);
  else if (near.vector.length > 0) vector = Float32Array.from(near.vector);
  if (!vector || vector.length === 0) throw new FakeError(422, 'nearVector: no vector given');
  return { target, vector };
}

/** Exact cosine distance (1 − cosine similarity), nearest first; objects without the target vector are not in the index. */
export function nearVector(objects: readonly StoredObject[], target: string, query: Float32Array, maxDistance?: number): Scored[] {
  const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  const qn = norm(query);
  const out: Scored[] = [];
  for (const o of objects) {
    const v = o.vectors.get(target);
    if (!v) continue;
    if (v.length !== query.length) throw new FakeError(422, `vector search: query has ${query.length} dimensions, the index ${v.length}`);
    let dot = 0;
    for (let i = 0; i < v.length; i++) dot += (v[i] as number) * (query[i] as number);
    const vn = norm(v);
    const cosine = qn === 0 || vn === 0 ? 0 : dot / (qn * vn);
    const distance = Math.fround(1 - cosine);
    if (maxDistance !== undefined && distance > maxDistance) continue;
    out.push({ object: o, distance });
  }
  return out.sort((x, y) => (x.distance as number) - (y.distance as number));
}
