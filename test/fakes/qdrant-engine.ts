// The fake Qdrant's storage and search: collections, aliases, points with named dense/sparse vectors, exact cosine/dot and sparse IDF scoring.
import { badRequest, compileFilter, QdrantHttpError, type FilterTarget } from './qdrant-filter.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Payload = Record<string, Json>;
type PointId = string | number;

const isObject = (v: unknown): v is Record<string, Json> => v !== null && typeof v === 'object' && !Array.isArray(v);

export const notFound = (what: string): QdrantHttpError => new QdrantHttpError(404, `Not found: ${what}`);

interface DenseParams {
  readonly size: number;
  readonly distance: 'Cosine' | 'Dot';
}
interface SparseParams {
  readonly idf: boolean;
}
interface SparseVector {
  readonly indices: number[];
  readonly values: number[];
}

interface StoredPoint {
  readonly id: PointId;
  /** Internal offset: Qdrant's order among equal scores, which is not the id order. */
  readonly offset: number;
  readonly version: number;
  readonly dense: Map<string, number[]>;
  readonly sparse: Map<string, SparseVector>;
  payload: Payload;
}

interface PayloadIndex {
  readonly type: string;
  readonly params: Json;
}

export interface Collection {
  readonly name: string;
  readonly dense: Map<string, DenseParams>;
  readonly sparse: Map<string, SparseParams>;
  readonly points: Map<PointId, StoredPoint>;
  readonly indexes: Map<string, PayloadIndex>;
  nextOffset: number;
  version: number;
  raw: { vectors: Json; sparse_vectors: Json };
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** Point ids are unsigned integers or UUIDs (any UUID spelling, answered hyphenated lower-case). */
export function normaliseId(id: unknown): PointId {
  if (typeof id === 'number' && Number.isSafeInteger(id) && id >= 0) return id;
  if (typeof id === 'string' && UUID.test(id)) {
    const hex = id.replaceAll('-', '').toLowerCase();
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  throw badRequest(`Unable to parse point id ${JSON.stringify(id)}: expected an unsigned integer or a UUID`);
}

/** Qdrant orders ids: integers first (numerically), then UUIDs. */
export function compareIds(a: PointId, b: PointId): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

const f32 = (x: number): number => Math.fround(x);

function normalise(v: number[]): number[] {
  let s = 0;
  for (const x of v) s += x * x;
  if (s < 1e-30) return v.map(f32);
  const n = Math.sqrt(s);
  return v.map((x) => f32(x / n));
}

export class QdrantEngine {
  readonly collections = new Map<string, Collection>();
  readonly aliases = new Map<string, string>();

  /** A collection by name or alias (Qdrant resolves aliases for every collection operation). */
  collection(name: string): Collection {
    const c = this.collections.get(this.aliases.get(name) ?? name);
    if (!c) throw notFound(`Collection \`${name}\` doesn't exist!`);
    return c;
  }

  createCollection(name: string, body: unknown): void {
    if (!/^[^/\\\0]{1,255}$/.test(name)) throw new QdrantHttpError(422, `Validation error in path parameters: [name: collection name is not valid]`);
    if (this.collections.has(name)) throw new QdrantHttpError(409, `Wrong input: Collection \`${name}\` already exists!`);
    if (this.aliases.has(name)) throw new QdrantHttpError(409, `Wrong input: Alias with name \`${name}\` already exists!`);
    const b = isObject(body) ? body : {};
    const dense = new Map<string, DenseParams>();
    const readDense = (params: unknown, vectorName: string) => {
      if (!isObject(params) || typeof params.size !== 'number' || !Number.isInteger(params.size) || params.size < 1) {
        throw badRequest(`vector ${vectorName || '(default)'} needs an integer size ≥ 1`);
      }
      if (params.distance !== 'Cosine' && params.distance !== 'Dot') throw badRequest(`the fake supports Cosine and Dot distances, not ${String(params.distance)}`);
      dense.set(vectorName, { size: params.size, distance: params.distance });
    };
    if (isObject(b.vectors) && 'size' in b.vectors) readDense(b.vectors, '');
    else if (isObject(b.vectors)) for (const [n, p] of Object.entries(b.vectors)) readDense(p, n);
    const sparse = new Map<string, SparseParams>();
    if (isObject(b.sparse_vectors)) {
      for (const [n, p] of Object.entries(b.sparse_vectors)) {
        const modifier = isObject(p) ? p.modifier : undefined;
        if (modifier !== undefined && modifier !== null && modifier !== 'none' && modifier !== 'idf') throw badRequest(`unknown sparse modifier ${String(modifier)}`);
        sparse.set(n, { idf: modifier === 'idf' });
      }
    }
    this.collections.set(name, {
      name,
      dense,
      sparse,
      points: new Map(),
      indexes: new Map(),
      nextOffset: 0,
      version: 0,
      raw: { vectors: b.vectors ?? {}, sparse_vectors: b.sparse_vectors ?? null },
    });
  }

  /** Deleting a collection removes the aliases that point at it; a missing collection answers false. */
  deleteCollection(name: string): boolean {
    const real = this.aliases.get(name) ?? name;
    if (!this.collections.delete(real)) return false;
    for (const [alias, target] of this.aliases) if (target === real) this.aliases.delete(alias);
    return true;
  }

  /** Alias actions apply in order under one lock, as Qdrant's update_aliases does. */
  updateAliases(body: unknown): void {
    const actions = isObject(body) && Array.isArray(body.actions) ? body.actions : undefined;
    if (!actions) throw badRequest('actions must be a list');
    for (const action of actions) {
      if (!isObject(action)) throw badRequest('an alias action must be an object');
      if (isObject(action.create_alias)) {
        const { collection_name: collection, alias_name: alias } = action.create_alias;
        if (typeof collection !== 'string' || typeof alias !== 'string') throw badRequest('create_alias needs collection_name and alias_name');
        if (!this.collections.has(collection)) throw notFound(`Collection \`${collection}\` doesn't exist!`);
        if (this.collections.has(alias)) throw new QdrantHttpError(409, `Wrong input: Collection \`${alias}\` already exists!`);
        this.aliases.set(alias, collection);
      } else if (isObject(action.delete_alias)) {
        const alias = action.delete_alias.alias_name;
        if (typeof alias !== 'string' || !this.aliases.delete(alias)) throw notFound(`Alias ${String(alias)} does not exists!`);
      } else if (isObject(action.rename_alias)) {
        const { old_alias_name: from, new_alias_name: to } = action.rename_alias;
        const target = typeof from === 'string' ? this.aliases.get(from) : undefined;
        if (target === undefined || typeof to !== 'string') throw notFound(`Alias ${String(from)} does not exists!`);
        this.aliases.delete(from as string);
        this.aliases.set(to, target);
      } else {
        throw badRequest(`unknown alias action ${JSON.stringify(action)}`);
      }
    }
  }

  createPayloadIndex(c: Collection, body: unknown): void {
    if (!isObject(body) || typeof body.field_name !== 'string') throw badRequest('field_name is required');
    const schema = body.field_schema;
    const type = typeof schema === 'string' ? schema : isObject(schema) && typeof schema.type === 'string' ? schema.type : undefined;
    if (!type || !['keyword', 'integer', 'float', 'geo', 'text', 'bool', 'datetime', 'uuid'].includes(type)) throw badRequest('field_schema has an unknown type');
    c.indexes.set(body.field_name, { type, params: isObject(schema) ? schema : null });
  }

  private parseVectors(c: Collection, raw: unknown): { dense: Map<string, number[]>; sparse: Map<string, SparseVector> } {
    const dense = new Map<string, number[]>();
    const sparse = new Map<string, SparseVector>();
    const denseVector = (name: string, v: unknown) => {
      const params = c.dense.get(name);
      if (!params) throw badRequest(`Wrong input: Not existing vector name error: ${name}`);
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) throw badRequest(`vector ${name} must be a list of numbers`);
      if (v.length !== params.size) throw badRequest(`Wrong input: Vector dimension error: expected dim: ${params.size}, got ${v.length}`);
      dense.set(name, params.distance === 'Cosine' ? normalise(v as number[]) : (v as number[]).map(f32));
    };
    if (Array.isArray(raw)) {
      denseVector('', raw);
    } else if (isObject(raw)) {
      for (const [name, v] of Object.entries(raw)) {
        if (isObject(v) && 'indices' in v) {
          if (!c.sparse.has(name)) throw badRequest(`Wrong input: Not existing vector name error: ${name}`);
          const { indices, values } = v;
          if (!Array.isArray(indices) || !Array.isArray(values) || indices.length !== values.length) {
            throw badRequest(`sparse vector ${name}: indices and values must be lists of the same length`);
          }
          if (indices.some((i) => typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i > 0xffffffff)) throw badRequest(`sparse vector ${name}: indices must be u32`);
          if (new Set(indices).size !== indices.length) throw new QdrantHttpError(422, `Validation error in JSON body: [${name}: indices must be unique]`);
          if (values.some((x) => typeof x !== 'number' || !Number.isFinite(x))) throw badRequest(`sparse vector ${name}: values must be numbers`);
          sparse.set(name, { indices: indices as number[], values: (values as number[]).map(f32) });
        } else {
          denseVector(name, v);
        }
      }
    } else if (raw !== undefined && raw !== null) {
      throw badRequest('vector must be a list of numbers or an object of named vectors');
    }
    return { dense, sparse };
  }

  /** Upserts replace the whole point (vectors and payload), keeping its internal offset. */
  upsert(c: Collection, body: unknown): void {
    let points: Array<{ id: unknown; vector: unknown; payload: unknown }>;
    if (isObject(body) && Array.isArray(body.points)) {
      points = body.points.map((p) => (isObject(p) ? { id: p.id, vector: p.vector, payload: p.payload } : { id: undefined, vector: undefined, payload: undefined }));
    } else if (isObject(body) && isObject(body.batch) && Array.isArray(body.batch.ids)) {
      const { ids, vectors, payloads } = body.batch;
      points = (ids as unknown[]).map((id, i) => ({
        id,
        vector: Array.isArray(vectors) ? vectors[i] : isObject(vectors) ? Object.fromEntries(Object.entries(vectors).map(([n, vs]) => [n, Array.isArray(vs) ? vs[i] : undefined])) : undefined,
        payload: Array.isArray(payloads) ? payloads[i] : undefined,
      }));
    } else {
      throw badRequest('upsert needs points or batch');
    }
    // Validate every point before changing any (Qdrant refuses the whole request).
    const parsed = points.map((p) => ({ id: normaliseId(p.id), ...this.parseVectors(c, p.vector), payload: isObject(p.payload) ? p.payload : {} }));
    c.version++;
    for (const p of parsed) {
      const held = c.points.get(p.id);
      c.points.set(p.id, {
        id: p.id,
        offset: held?.offset ?? c.nextOffset++,
        version: c.version,
        dense: p.dense,
        sparse: p.sparse,
        payload: structuredClone(p.payload),
      });
    }
  }

  private target(p: StoredPoint): FilterTarget {
    return { id: p.id, payload: p.payload, vectorNames: new Set([...p.dense.keys(), ...p.sparse.keys()]) };
  }

  /** Points passing `filter`, in id order. */
  select(c: Collection, filter: unknown): StoredPoint[] {
    const test = compileFilter(filter, normaliseId);
    return [...c.points.values()].filter((p) => test(this.target(p))).sort((a, b) => compareIds(a.id, b.id));
  }

  /** Delete by ids or by filter. */
  delete(c: Collection, body: unknown): void {
    if (isObject(body) && Array.isArray(body.points)) {
      const ids = body.points.map(normaliseId);
      for (const id of ids) c.points.delete(id);
    } else if (isObject(body) && 'filter' in body) {
      for (const p of this.select(c, body.filter)) c.points.delete(p.id);
    } else {
      throw badRequest('delete needs points or filter');
    }
    c.version++;
  }

  setPayload(c: Collection, body: unknown, overwrite: boolean): void {
    if (!isObject(body) || !isObject(body.payload)) throw badRequest('payload must be an object');
    if (body.key !== undefined && body.key !== null) throw badRequest('set_payload with key is not supported by the fake');
    const targets = Array.isArray(body.points)
      ? body.points.map(normaliseId).flatMap((id) => (c.points.has(id) ? [c.points.get(id) as StoredPoint] : []))
      : this.select(c, body.filter);
    for (const p of targets) p.payload = overwrite ? structuredClone(body.payload) : { ...p.payload, ...structuredClone(body.payload) };
    c.version++;
  }

  /** Qdrant's IDF: ln((N − n + 0.5) / (n + 0.5) + 1), N the points with this sparse vector, n those with a value at the index. */
  private idf(c: Collection, vectorName: string, indices: readonly number[]): Map<number, number> {
    const wanted = new Set(indices);
    const df = new Map<number, number>();
    let total = 0;
    for (const p of c.points.values()) {
      const v = p.sparse.get(vectorName);
      if (!v) continue;
      total++;
      v.indices.forEach((i, k) => {
        if (wanted.has(i) && v.values[k] !== 0) df.set(i, (df.get(i) ?? 0) + 1);
      });
    }
    const out = new Map<number, number>();
    for (const i of wanted) {
      const n = df.get(i) ?? 0;
      out.set(i, Math.log((total - n + 0.5) / (n + 0.5) + 1));
    }
    return out;
  }

  /** Nearest points by one named vector: exact scores, best first; equal scores in internal (insertion) order. */
  nearest(c: Collection, using: string, query: unknown, filter: unknown): Array<{ point: StoredPoint; score: number }> {
    const candidates = this.select(c, filter);
    let scored: Array<{ point: StoredPoint; score: number }>;
    if (isObject(query) && 'indices' in query) {
      const params = c.sparse.get(using);
      if (!params) throw badRequest(`Wrong input: Not existing vector name error: ${using}`);
      const { indices, values } = query;
      if (!Array.isArray(indices) || !Array.isArray(values) || indices.length !== values.length) throw badRequest('sparse query: indices and values of the same length');
      const weights = new Map<number, number>();
      (indices as number[]).forEach((i, k) => weights.set(i, values[k] as number));
      const idf = params.idf ? this.idf(c, using, indices as number[]) : undefined;
      scored = [];
      for (const point of candidates) {
        const v = point.sparse.get(using);
        if (!v) continue;
        let score = 0;
        let overlap = false;
        v.indices.forEach((i, k) => {
          const q = weights.get(i);
          if (q === undefined) return;
          overlap = true;
          score += q * (v.values[k] as number) * (idf?.get(i) ?? 1);
        });
        // A sparse search only reaches points sharing an index with the query.
        if (overlap) scored.push({ point, score: f32(score) });
      }
    } else if (Array.isArray(query)) {
      const params = c.dense.get(using);
      if (!params) throw badRequest(`Wrong input: Not existing vector name error: ${using}`);
      if (query.length !== params.size) throw badRequest(`Wrong input: Vector dimension error: expected dim: ${params.size}, got ${query.length}`);
      const q = params.distance === 'Cosine' ? normalise(query as number[]) : (query as number[]).map(f32);
      scored = [];
      for (const point of candidates) {
        const v = point.dense.get(using);
        if (!v) continue;
        let dot = 0;
        for (let i = 0; i < q.length; i++) dot += (q[i] as number) * (v[i] as number);
        scored.push({ point, score: f32(dot) });
      }
    } else {
      throw badRequest('the fake answers nearest queries with a dense or sparse vector only');
    }
    return scored.sort((a, b) => b.score - a.score || a.point.offset - b.point.offset);
  }

  facet(c: Collection, key: string, filter: unknown, limit: number): Array<{ value: Json; count: number }> {
    const index = c.indexes.get(key);
    if (!index || !['keyword', 'integer', 'bool', 'uuid'].includes(index.type)) {
      throw badRequest(`Index required but not found for "${key}" of one of the following types: [keyword, integer, bool, uuid]`);
    }
    const counts = new Map<string, { value: Json; count: number }>();
    for (const p of this.select(c, filter)) {
      const raw = p.payload[key];
      const values = new Set((Array.isArray(raw) ? raw : [raw]).filter((v) => v !== undefined && v !== null && typeof v !== 'object'));
      for (const v of values) {
        const k = JSON.stringify(v);
        const held = counts.get(k);
        if (held) held.count++;
        else counts.set(k, { value: v, count: 1 });
      }
    }
    const order = (a: Json, b: Json) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0);
    return [...counts.values()].sort((a, b) => b.count - a.count || order(a.value, b.value)).slice(0, limit);
  }
}

export type { Json, Payload, PointId, StoredPoint };
