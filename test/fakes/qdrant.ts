// A fake Qdrant REST server on 127.0.0.1 (node:http) with Qdrant's documented request/response shapes, for tests without a real Qdrant.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { compareIds, normaliseId, notFound, QdrantEngine, type Collection, type Json, type StoredPoint } from './qdrant-engine.ts';
import { badRequest, QdrantHttpError } from './qdrant-filter.ts';

export interface FakeQdrant {
  /** Base URL, e.g. http://127.0.0.1:40123 */
  readonly url: string;
  readonly engine: QdrantEngine;
  /** Every request served: method, path (without query) and parsed body. */
  readonly requests: Array<{ method: string; path: string; body: unknown }>;
  close(): Promise<void>;
}

const isObject = (v: unknown): v is Record<string, Json> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `with_payload`: true/false, a list of keys, or {include}/{exclude}. */
function selectPayload(payload: Record<string, Json>, selector: unknown): Record<string, Json> | undefined {
  if (selector === undefined || selector === null || selector === false) return undefined;
  if (selector === true) return structuredClone(payload);
  const pick = (keys: unknown[]) => Object.fromEntries(Object.entries(payload).filter(([k]) => keys.includes(k)).map(([k, v]) => [k, structuredClone(v)]));
  if (Array.isArray(selector)) return pick(selector);
  if (isObject(selector) && Array.isArray(selector.include)) return pick(selector.include);
  if (isObject(selector) && Array.isArray(selector.exclude)) {
    const exclude = selector.exclude;
    return Object.fromEntries(Object.entries(payload).filter(([k]) => !exclude.includes(k)).map(([k, v]) => [k, structuredClone(v)]));
  }
  throw badRequest('with_payload must be a boolean, a list of keys or {include|exclude}');
}

/** `with_vector`: true/false or a list of vector names; the unnamed vector comes back as a plain list. */
function selectVectors(point: StoredPoint, selector: unknown): Json | undefined {
  if (selector === undefined || selector === null || selector === false) return undefined;
  const names = selector === true ? undefined : Array.isArray(selector) ? selector : undefined;
  if (selector !== true && !names) throw badRequest('with_vector must be a boolean or a list of vector names');
  const out: Record<string, Json> = {};
  for (const [name, v] of point.dense) if (!names || names.includes(name)) out[name] = [...v];
  for (const [name, v] of point.sparse) if (!names || names.includes(name)) out[name] = { indices: [...v.indices], values: [...v.values] };
  if (point.dense.size === 1 && point.dense.has('') && point.sparse.size === 0) return out[''] ?? null;
  return out;
}

function record(point: StoredPoint, withPayload: unknown, withVector: unknown): Record<string, Json> {
  const payload = selectPayload(point.payload, withPayload);
  const vector = selectVectors(point, withVector);
  return { id: point.id, ...(payload !== undefined ? { payload } : {}), ...(vector !== undefined ? { vector } : {}) };
}

function limitOf(value: unknown, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw badRequest('limit must be a non-negative integer');
  return value;
}

function updateResult(c: Collection, wait: boolean): Json {
  return { operation_id: c.version, status: wait ? 'completed' : 'acknowledged' };
}

/** One point operation of a batch (or of its own endpoint). */
function applyOperation(engine: QdrantEngine, c: Collection, op: unknown): void {
  if (!isObject(op)) throw badRequest('an operation must be an object');
  if ('upsert' in op) engine.upsert(c, op.upsert);
  else if ('delete' in op) engine.delete(c, op.delete);
  else if ('set_payload' in op) engine.setPayload(c, op.set_payload, false);
  else if ('overwrite_payload' in op) engine.setPayload(c, op.overwrite_payload, true);
  else throw badRequest(`the fake does not support the operation ${Object.keys(op).join(', ')}`);
}

function queryPoints(engine: QdrantEngine, c: Collection, body: Record<string, Json>): Json {
  if (body.prefetch !== undefined && body.prefetch !== null) throw badRequest('the fake does not support prefetch');
  const limit = limitOf(body.limit, 10);
  const offset = limitOf(body.offset, 0);
  let query: unknown = body.query;
  if (isObject(query) && 'nearest' in query) query = query.nearest;
  if (query === undefined || query === null) {
    // No query: points by id.
    const points = engine.select(c, body.filter).slice(offset, offset + limit);
    return { points: points.map((p) => ({ ...record(p, body.with_payload, body.with_vector), version: p.version, score: 0 })) };
  }
  const using = typeof body.using === 'string' ? body.using : '';
  let hits = engine.nearest(c, using, query, body.filter);
  if (typeof body.score_threshold === 'number') {
    const threshold = body.score_threshold;
    hits = hits.filter((h) => h.score >= threshold);
  }
  return {
    points: hits.slice(offset, offset + limit).map((h) => ({ ...record(h.point, body.with_payload, body.with_vector), version: h.point.version, score: h.score })),
  };
}

/** The legacy search endpoint: `vector` is a list (default vector) or {name, vector}. */
function searchPoints(engine: QdrantEngine, c: Collection, body: Record<string, Json>): Json {
  const v = body.vector;
  const [using, query] = isObject(v) && typeof v.name === 'string' ? [v.name, v.vector] : ['', v];
  const limit = limitOf(body.limit, 10);
  const offset = limitOf(body.offset, 0);
  return engine
    .nearest(c, using, query, body.filter)
    .slice(offset, offset + limit)
    .map((h) => ({ ...record(h.point, body.with_payload, body.with_vector), version: h.point.version, score: h.score }));
}

function collectionInfo(c: Collection): Json {
  return {
    status: 'green',
    optimizer_status: 'ok',
    indexed_vectors_count: 0,
    points_count: c.points.size,
    segments_count: 1,
    config: {
      params: { vectors: c.raw.vectors, sparse_vectors: c.raw.sparse_vectors, shard_number: 1, replication_factor: 1, write_consistency_factor: 1, on_disk_payload: true },
      hnsw_config: { m: 16, ef_construct: 100, full_scan_threshold: 10000, max_indexing_threads: 0, on_disk: false },
      optimizer_config: {
        deleted_threshold: 0.2,
        vacuum_min_vector_number: 1000,
        default_segment_number: 0,
        max_segment_size: null,
        memmap_threshold: null,
        indexing_threshold: 10000,
        flush_interval_sec: 5,
        max_optimization_threads: null,
      },
      wal_config: { wal_capacity_mb: 32, wal_segments_ahead: 0 },
      quantization_config: null,
    },
    payload_schema: Object.fromEntries(
      [...c.indexes].map(([field, index]) => [
        field,
        {
          data_type: index.type,
          ...(isObject(index.params) ? { params: index.params } : {}),
          points: [...c.points.values()].filter((p) => p.payload[field] !== undefined).length,
        },
      ]),
    ),
  };
}

type Route = (engine: QdrantEngine, args: { params: string[]; body: unknown; query: URLSearchParams }) => Json;

const body = (b: unknown): Record<string, Json> => (isObject(b) ? b : {});
const wait = (q: URLSearchParams) => q.get('wait') === 'true';

const routes: Array<[string, RegExp, Route]> = [
  ['GET', /^\/$/, () => ({ title: 'qdrant - vector search engine (spanda fake)', version: '1.18.0' })],
  ['GET', /^\/collections$/, (e) => ({ collections: [...e.collections.keys()].map((name) => ({ name })) })],
  ['GET', /^\/aliases$/, (e) => ({ aliases: [...e.aliases].map(([alias_name, collection_name]) => ({ alias_name, collection_name })) })],
  [
    'POST',
    /^\/collections\/aliases$/,
    (e, { body: b }) => {
      e.updateAliases(b);
      return true;
    },
  ],
  ['GET', /^\/collections\/([^/]+)\/exists$/, (e, { params: [name] }) => ({ exists: e.collections.has(name as string) || e.aliases.has(name as string) })],
  [
    'GET',
    /^\/collections\/([^/]+)\/aliases$/,
    (e, { params: [name] }) => {
      e.collection(name as string);
      return { aliases: [...e.aliases].filter(([, c]) => c === name).map(([alias_name, collection_name]) => ({ alias_name, collection_name })) };
    },
  ],
  [
    'PUT',
    /^\/collections\/([^/]+)$/,
    (e, { params: [name], body: b }) => {
      e.createCollection(name as string, b);
      return true;
    },
  ],
  ['GET', /^\/collections\/([^/]+)$/, (e, { params: [name] }) => collectionInfo(e.collection(name as string))],
  ['DELETE', /^\/collections\/([^/]+)$/, (e, { params: [name] }) => e.deleteCollection(name as string)],
  [
    'PUT',
    /^\/collections\/([^/]+)\/index$/,
    (e, { params: [name], body: b, query }) => {
      const c = e.collection(name as string);
      e.createPayloadIndex(c, b);
      return updateResult(c, wait(query));
    },
  ],
  [
    'PUT',
    /^\/collections\/([^/]+)\/points$/,
    (e, { params: [name], body: b, query }) => {
      const c = e.collection(name as string);
      e.upsert(c, b);
      return updateResult(c, wait(query));
    },
  ],
  [
    'POST',
    /^\/collections\/([^/]+)\/points$/,
    (e, { params: [name], body: b }) => {
      const c = e.collection(name as string);
      const req = body(b);
      if (!Array.isArray(req.ids)) throw badRequest('ids must be a list');
      const withPayload = req.with_payload ?? true;
      return req.ids.map(normaliseId).flatMap((id) => {
        const p = c.points.get(id);
        return p ? [record(p, withPayload, req.with_vector)] : [];
      });
    },
  ],
  [
    'POST',
    /^\/collections\/([^/]+)\/points\/delete$/,
    (e, { params: [name], body: b, query }) => {
      const c = e.collection(name as string);
      e.delete(c, b);
      return updateResult(c, wait(query));
    },
  ],
  [
    'POST',
    /^\/collections\/([^/]+)\/points\/payload$/,
    (e, { params: [name], body: b, query }) => {
      const c = e.collection(name as string);
      e.setPayload(c, b, false);
      return updateResult(c, wait(query));
    },
  ],
  [
    'PUT',
    /^\/collections\/([^/]+)\/points\/payload$/,
    (e, { params: [name], body: b, query }) => {
      const c = e.collection(name as string);
      e.setPayload(c, b, true);
      return updateResult(c, wait(query));
    },
  ],
  [
    'POST',
    /^\/collections\/([^/]+)\/points\/batch$/,
    (e, { params: [name], body: b, query }) => {
      const c = e.collection(name as string);
      const operations = body(b).operations;
      if (!Array.isArray(operations)) throw badRequest('operations must be a list');
      // Applied in order; a failing operation stops the batch with the earlier ones applied, as in Qdrant.
      return operations.map((op) => {
        applyOperation(e, c, op);
        return updateResult(c, wait(query));
      });
    },
  ],
  [
    'POST',
    /^\/collections\/([^/]+)\/points\/scroll$/,
    (e, { params: [name], body: b }) => {
      const c = e.collection(name as string);
      const req = body(b);
      if (req.order_by !== undefined && req.order_by !== null) throw badRequest('the fake does not support order_by');
      const limit = limitOf(req.limit, 10);
      const all = e.select(c, req.filter);
      // The offset is the id to start from (inclusive), as next_page_offset hands it back.
      const offset = req.offset === undefined || req.offset === null ? undefined : normaliseId(req.offset);
      const from = offset === undefined ? 0 : all.findIndex((p) => compareIds(p.id, offset) >= 0);
      const page = from < 0 ? [] : all.slice(from, from + limit);
      const next = from < 0 ? undefined : all[from + limit];
      return { points: page.map((p) => record(p, req.with_payload ?? true, req.with_vector)), next_page_offset: next ? next.id : null };
    },
  ],
  [
    'POST',
    /^\/collections\/([^/]+)\/points\/count$/,
    (e, { params: [name], body: b }) => ({ count: e.select(e.collection(name as string), body(b).filter).length }),
  ],
  ['POST', /^\/collections\/([^/]+)\/points\/query$/, (e, { params: [name], body: b }) => queryPoints(e, e.collection(name as string), body(b))],
  ['POST', /^\/collections\/([^/]+)\/points\/search$/, (e, { params: [name], body: b }) => searchPoints(e, e.collection(name as string), body(b))],
  [
    'POST',
    /^\/collections\/([^/]+)\/facet$/,
    (e, { params: [name], body: b }) => {
      const req = body(b);
      if (typeof req.key !== 'string') throw badRequest('key is required');
      return { hits: e.facet(e.collection(name as string), req.key, req.filter, limitOf(req.limit, 10)) };
    },
  ],
];

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new QdrantHttpError(400, `Format error in JSON body: ${(err as Error).message}`);
  }
}

function send(res: ServerResponse, status: number, payload: unknown): void {
  const text = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Starts the fake on a free port of 127.0.0.1. With `apiKey`, requests without that `api-key` header get 401, as Qdrant does. */
export async function startFakeQdrant(options: { apiKey?: string } = {}): Promise<FakeQdrant> {
  const engine = new QdrantEngine();
  const requests: FakeQdrant['requests'] = [];
  const server = createServer((req, res) => {
    const started = performance.now();
    const url = new URL(req.url ?? '/', 'http://fake');
    const elapsed = () => (performance.now() - started) / 1000;
    void (async () => {
      try {
        if (options.apiKey !== undefined && req.headers['api-key'] !== options.apiKey) {
          throw new QdrantHttpError(401, 'Must provide an API key or an Authorization bearer token');
        }
        const body = await readBody(req);
        requests.push({ method: req.method ?? 'GET', path: url.pathname, body });
        for (const [method, pattern, route] of routes) {
          const m = pattern.exec(url.pathname);
          if (!m || method !== req.method) continue;
          const params = m.slice(1).map((p) => decodeURIComponent(p));
          const result = route(engine, { params, body, query: url.searchParams });
          return send(res, 200, { result, status: 'ok', time: elapsed() });
        }
        throw notFound(`${req.method} ${url.pathname}`);
      } catch (err) {
        const status = err instanceof QdrantHttpError ? err.status : 500;
        const message = err instanceof Error ? err.message : String(err);
        send(res, status, { status: { error: status === 500 ? `Service internal error: ${message}` : message }, time: elapsed() });
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    engine,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
