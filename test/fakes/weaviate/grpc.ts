// The fake's gRPC side: weaviate.v1.Weaviate (Search, BatchObjects, BatchDelete, TenantsGet) and grpc.health.v1.Health.
import { randomUUID } from 'node:crypto';
import { ServerError, Status } from 'nice-grpc';
import {
  HEALTH_SERVING,
  TENANT_ACTIVITY_STATUS_HOT,
  VECTOR_TYPE_MULTI_FP32,
  VECTOR_TYPE_SINGLE_FP32,
  type BatchDeleteRequest,
  type BatchObject,
  type SearchRequest,
  type SearchResult,
  type Value,
  type VectorsMessage,
} from './proto.ts';
import { bm25, compileFilter, nearVector, nearVectorQuery, type Scored } from './search.ts';
import { FakeError, type ClassState, type FakeWeaviateState, type PropertyValue, type StoredObject } from './state.ts';

/** Weaviate's defaults: QUERY_DEFAULTS_LIMIT and QUERY_MAXIMUM_RESULTS. */
const DEFAULT_LIMIT = 10;
const MAXIMUM_RESULTS = 10_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function grpcError(err: unknown): never {
  if (err instanceof FakeError) throw new ServerError(err.status === 404 ? Status.NOT_FOUND : Status.INVALID_ARGUMENT, err.message);
  throw err;
}

function encodeValue(value: PropertyValue, dataType: string): Value {
  if (Array.isArray(value)) {
    if (dataType === 'text[]') return { listValue: { textValues: { values: value as string[] } } };
    if (dataType === 'boolean[]') return { listValue: { boolValues: { values: value as boolean[] } } };
    const bytes = new Uint8Array(value.length * 8);
    const view = new DataView(bytes.buffer);
    (value as number[]).forEach((v, i) => (dataType === 'int[]' ? view.setBigInt64(i * 8, BigInt(v), true) : view.setFloat64(i * 8, v, true)));
    return { listValue: dataType === 'int[]' ? { intValues: { values: bytes } } : { numberValues: { values: bytes } } };
  }
  if (dataType === 'int') return { intValue: value as number };
  if (dataType === 'number') return { numberValue: value as number };
  if (dataType === 'boolean') return { boolValue: value as boolean };
  return { textValue: String(value) };
}

const vectorBytes = (v: Float32Array): Uint8Array => new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));

function result(c: ClassState, hit: Scored, request: SearchRequest): SearchResult {
  const o = hit.object;
  const wanted = request.properties && !request.properties.returnAllNonrefProperties ? request.properties.nonRefProperties : [...c.properties.keys()];
  const fields: Record<string, Value> = {};
  for (const name of wanted) {
    const def = c.properties.get(name);
    const value = o.properties[name];
    if (def && value !== undefined) fields[name] = encodeValue(value, def.dataType);
  }
  const m = request.metadata;
  const vectorNames = m?.vector ? c.vectorNames : (m?.vectors ?? []);
  const vectors: VectorsMessage[] = vectorNames.flatMap((name) => {
    const v = o.vectors.get(name);
    return v ? [{ name, index: 0, vectorBytes: vectorBytes(v), type: VECTOR_TYPE_SINGLE_FP32 }] : [];
  });
  return {
    properties: { nonRefProps: { fields }, refProps: [], targetCollection: c.name, refPropsRequested: false },
    metadata: {
      id: o.uuid,
      ...(m?.distance && hit.distance !== undefined ? { distance: hit.distance, distancePresent: true } : {}),
      ...(m?.certainty && hit.distance !== undefined ? { certainty: 1 - hit.distance / 2, certaintyPresent: true } : {}),
      ...(m?.score && hit.score !== undefined ? { score: hit.score, scorePresent: true } : {}),
      ...(m?.score && hit.score === undefined ? { score: 0, scorePresent: true } : {}),
      creationTimeUnix: Math.floor(o.created / 1000),
      vectors,
    },
  };
}

function search(state: FakeWeaviateState, request: SearchRequest): { took: number; results: SearchResult[]; groupByResults: never[] } {
  if (request.hybridSearch || request.nearText || request.nearObject || request.groupBy || request.sortBy.length > 0) {
    throw new FakeError(422, 'the fake implements fetch, bm25 and nearVector searches only');
  }
  const c = state.resolve(request.collection);
  const shard = state.shard(c, request.tenant || undefined);
  let objects = [...shard.values()];
  if (request.after) {
    if (request.filters || request.bm25Search || request.nearVector) throw new FakeError(422, 'cursor api: invalid \'after\' parameter: other params cannot be set together with \'after\'');
  }
  if (request.filters) {
    const keep = compileFilter(c, request.filters);
    objects = objects.filter(keep);
  }
  let hits: Scored[];
  if (request.bm25Search) hits = bm25(c, objects, request.bm25Search);
  else if (request.nearVector) {
    const { target, vector } = nearVectorQuery(c, request.nearVector);
    hits = nearVector(objects, target, vector, request.nearVector.distance);
  } else {
    // Plain listing (and the cursor) goes in uuid order.
    hits = objects.sort((a, b) => (a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0)).map((object) => ({ object }));
    if (request.after) hits = hits.filter((h) => h.object.uuid > request.after);
  }
  const limit = request.limit > 0 ? request.limit : DEFAULT_LIMIT;
  if (request.offset + limit > MAXIMUM_RESULTS) {
    throw new FakeError(422, `query maximum results exceeded: offset (${request.offset}) + limit (${limit}) > QUERY_MAXIMUM_RESULTS (${MAXIMUM_RESULTS})`);
  }
  const page = hits.slice(request.offset, request.offset + limit);
  return { took: 0, results: page.map((h) => result(c, h, request)), groupByResults: [] };
}

function decodeObject(c: ClassState, o: BatchObject): StoredObject {
  const uuid = (o.uuid || randomUUID()).toLowerCase();
  if (!UUID.test(uuid)) throw new FakeError(422, `id '${o.uuid}' is not a valid uuid`);
  const properties: Record<string, PropertyValue> = {};
  const set = (name: string, value: PropertyValue) => {
    const def = c.properties.get(name);
    if (!def) throw new FakeError(422, `no such prop with name '${name}' found in class '${c.name}' in the schema (the fake has no auto-schema)`);
    const scalar = def.dataType.replace('[]', '');
    const list = def.dataType.endsWith('[]');
    const values = Array.isArray(value) ? value : [value];
    if (Array.isArray(value) !== list) throw new FakeError(422, `invalid ${def.dataType} property '${name}' on class '${c.name}'`);
    for (const v of values) {
      const ok =
        scalar === 'text' ? typeof v === 'string' : scalar === 'boolean' ? typeof v === 'boolean' : scalar === 'int' ? Number.isInteger(v) : typeof v === 'number';
      if (!ok) throw new FakeError(422, `invalid ${def.dataType} property '${name}' on class '${c.name}': requires ${scalar}, got ${JSON.stringify(v)}`);
    }
    properties[name] = value;
  };
  const p = o.properties;
  for (const [name, value] of Object.entries(p?.nonRefProperties ?? {})) {
    if (value === null || value === undefined) continue;
    set(name, value as PropertyValue);
  }
  for (const a of p?.textArrayProperties ?? []) set(a.propName, a.values);
  for (const a of p?.intArrayProperties ?? []) set(a.propName, a.values);
  for (const a of p?.booleanArrayProperties ?? []) set(a.propName, a.values);
  for (const a of p?.numberArrayProperties ?? []) {
    const bytes = new Uint8Array(a.valuesBytes);
    set(a.propName, a.values.length > 0 ? a.values : Array.from(new Float64Array(bytes.buffer, 0, bytes.byteLength / 8)));
  }
  for (const name of p?.emptyListProps ?? []) set(name, []);
  if ((p?.objectProperties.length ?? 0) > 0 || (p?.objectArrayProperties.length ?? 0) > 0 || (p?.singleTargetRefProps.length ?? 0) > 0 || (p?.multiTargetRefProps.length ?? 0) > 0) {
    throw new FakeError(422, 'object and reference properties are not supported by the fake');
  }

  const vectors = new Map<string, Float32Array>();
  for (const v of o.vectors) {
    if (v.type === VECTOR_TYPE_MULTI_FP32) throw new FakeError(422, 'multi-vectors are not supported by the fake');
    const name = v.name || 'default';
    if (!c.vectorNames.includes(name)) throw new FakeError(422, `class ${c.name} has no vector named ${name}`);
    const bytes = new Uint8Array(v.vectorBytes);
    vectors.set(name, new Float32Array(bytes.buffer, 0, bytes.byteLength / 4));
  }
  if (o.vectorBytes.length > 0) {
    const bytes = new Uint8Array(o.vectorBytes);
    vectors.set(c.vectorNames[0] ?? 'default', new Float32Array(bytes.buffer, 0, bytes.byteLength / 4));
  } else if (o.vector.length > 0) vectors.set(c.vectorNames[0] ?? 'default', Float32Array.from(o.vector));
  return { uuid, properties, vectors, created: 0 };
}

export function weaviateService(state: FakeWeaviateState) {
  return {
    async search(request: SearchRequest) {
      try {
        return search(state, request);
      } catch (err) {
        return grpcError(err);
      }
    },
    async batchObjects(request: { objects: BatchObject[] }) {
      const first = request.objects[0];
      if (first && state.failBatchObjects?.(state.aliases.get(first.collection) ?? first.collection)) {
        throw new ServerError(Status.INTERNAL, 'injected fault: batch import failed');
      }
      const errors: Array<{ index: number; error: string }> = [];
      request.objects.forEach((o, index) => {
        try {
          const c = state.resolve(o.collection);
          const shard = state.shard(c, o.tenant || undefined);
          const decoded = decodeObject(c, o);
          for (const other of shard.values()) {
            for (const [name, v] of other.vectors) {
              const mine = decoded.vectors.get(name);
              if (mine && mine.length !== v.length) throw new FakeError(422, `new node has a vector with length ${mine.length}. Existing nodes have vectors with length ${v.length}`);
            }
            break;
          }
          // Same uuid: the object is replaced (Weaviate's batch import is an upsert).
          shard.delete(decoded.uuid);
          shard.set(decoded.uuid, { ...decoded, created: state.now() });
        } catch (err) {
          if (!(err instanceof FakeError)) throw err;
          errors.push({ index, error: err.message });
        }
      });
      return { took: 0, errors };
    },
    async batchDelete(request: BatchDeleteRequest) {
      try {
        const c = state.resolve(request.collection);
        const shard = state.shard(c, request.tenant || undefined);
        if (!request.filters) throw new FakeError(422, 'batch delete needs a filter');
        const keep = compileFilter(c, request.filters);
        const matches = [...shard.values()].filter(keep).slice(0, MAXIMUM_RESULTS);
        if (!request.dryRun) for (const o of matches) shard.delete(o.uuid);
        const uuidBytes = (u: string) => Uint8Array.from(Buffer.from(u.replaceAll('-', ''), 'hex'));
        return {
          took: 0,
          failed: 0,
          matches: matches.length,
          successful: matches.length,
          objects: request.verbose ? matches.map((o) => ({ uuid: uuidBytes(o.uuid), successful: true })) : [],
        };
      } catch (err) {
        return grpcError(err);
      }
    },
    async tenantsGet(request: { collection: string; names?: { values: string[] } | undefined }) {
      try {
        const c = state.resolve(request.collection);
        if (!c.multiTenant) throw new FakeError(422, `class ${c.name} has multi-tenancy disabled`);
        const names = request.names ? request.names.values.filter((n) => c.shards.has(n)) : [...c.shards.keys()];
        return { took: 0, tenants: names.map((name) => ({ name, activityStatus: TENANT_ACTIVITY_STATUS_HOT })) };
      } catch (err) {
        return grpcError(err);
      }
    },
  };
}

export const healthService = {
  async check() {
    return { status: HEALTH_SERVING };
  },
  async *watch() {
    yield { status: HEALTH_SERVING };
  },
};
