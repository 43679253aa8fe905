// The OpenAPI document: every registered route is in it, described and mapped to a scope, in valid 3.1 shape; /docs renders it offline.
import { describe, expect, it } from 'vitest';
import { createLogger } from '../lib/log.ts';
import type { Serving } from '../projections/serving.ts';
import type { NatsHandle } from '../streams/nats.ts';
import { createApp } from './app.ts';
import { routeListed } from './auth.ts';
import { OPERATIONS, openApiPath } from './openapi.ts';

const lines: string[] = [];
const app = createApp({
  nats: {} as NatsHandle,
  serving: {} as Serving,
  maxBodyBytes: 1024,
  logger: createLogger('test', 'debug', (line) => lines.push(line), { format: 'json' }),
  recordQueries: false,
});

type Json = Record<string, unknown>;
const routes = app.routes.filter((r) => r.method !== 'ALL' && !r.path.includes('*'));

async function spec(): Promise<Json> {
  const response = await app.request('/openapi.json');
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  return (await response.json()) as Json;
}

function refsIn(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => refsIn(v, found));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') found.push(v);
      else refsIn(v, found);
    }
  }
  return found;
}

describe('/openapi.json', () => {
  it('lists every registered route, each described in OPERATIONS and listed in the auth route table', async () => {
    const doc = await spec();
    const paths = doc.paths as Record<string, Record<string, Json>>;
    expect(routes.length).toBeGreaterThan(8);
    for (const route of routes) {
      const op = paths[openApiPath(route.path)]?.[route.method.toLowerCase()];
      expect(op, `${route.method} ${route.path} is in the document`).toBeDefined();
      expect(OPERATIONS.some((o) => o.method === route.method && o.path === route.path), `${route.method} ${route.path} is described in api/openapi.ts OPERATIONS`).toBe(true);
      expect(routeListed(route.method, route.path), `${route.method} ${route.path} has a scope in api/auth.ts ROUTE_ACCESS`).toBe(true);
      expect(['public', 'publish', 'query', 'admin']).toContain(op?.['x-spanda-scope']);
    }
    // Nothing in the document that the app does not serve.
    const served = new Set(routes.map((r) => `${r.method.toLowerCase()} ${openApiPath(r.path)}`));
    for (const [p, methods] of Object.entries(paths)) for (const m of Object.keys(methods)) expect(served.has(`${m} ${p}`), `${m} ${p}`).toBe(true);
  });

  it('has the shape of an OpenAPI 3.1 document', async () => {
    const doc = await spec();
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    const info = doc.info as Json;
    expect(typeof info.title).toBe('string');
    expect(typeof info.version).toBe('string');
    const components = doc.components as { schemas: Record<string, Json>; securitySchemes: Record<string, Json> };
    expect(components.securitySchemes.apiKey).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer' }));
    const ids = new Set<string>();
    for (const [p, methods] of Object.entries(doc.paths as Record<string, Record<string, Json>>)) {
      expect(p).toMatch(/^\//);
      expect(p).not.toMatch(/:/);
      const templated = [...p.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries(methods)) {
        expect(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']).toContain(method);
        expect(typeof op.operationId).toBe('string');
        expect(ids.has(op.operationId as string), `operationId ${String(op.operationId)} is unique`).toBe(false);
        ids.add(op.operationId as string);
        expect(Object.keys(op.responses as Json).length).toBeGreaterThan(0);
        for (const [status, r] of Object.entries(op.responses as Record<string, Json>)) {
          expect(status).toMatch(/^([1-5]\d\d|[1-5]XX|default)$/);
          expect(typeof r.description).toBe('string');
        }
        const params = (op.parameters ?? []) as Json[];
        expect(params.filter((x) => x.in === 'path').map((x) => x.name).sort()).toEqual([...templated].sort());
        for (const param of params.filter((x) => x.in === 'path')) expect(param).toMatchObject({ required: true });
        // Query parameters are optional and say what they take.
        for (const param of params.filter((x) => x.in !== 'path')) expect(param).toMatchObject({ in: 'query', required: false, description: expect.any(String), schema: expect.any(Object) });
        for (const requirement of op.security as Array<Record<string, string[]>>) {
          for (const scheme of Object.keys(requirement)) expect(components.securitySchemes[scheme]).toBeDefined();
        }
      }
    }
    // Every $ref points into the document, and every schema is JSON Schema 2020-12 without a stray $schema or $defs.
    for (const ref of refsIn(doc)) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(components.schemas[ref.slice('#/components/schemas/'.length)], ref).toBeDefined();
    }
    for (const [name, schema] of Object.entries(components.schemas)) {
      expect(schema.$schema, name).toBeUndefined();
      expect(schema.$defs, name).toBeUndefined();
    }
    // The request bodies are the routes' own validators: their constraints show.
    const query = components.schemas.QueryRequest as { properties: Record<string, Json>; required: string[] };
    expect(query.required).toEqual(['query']);
    expect(query.properties.k).toMatchObject({ minimum: 1, maximum: 100, default: 5 });
    expect((components.schemas.DocumentInput as { required: string[] }).required).toEqual(expect.arrayContaining(['id', 'text']));
  });

  it('is served without a key and carries a traceparent, logged with the request', async () => {
    lines.length = 0;
    const response = await app.request('/openapi.json', { headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } });
    expect(response.headers.get('traceparent')).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    const logged = lines.map((l) => JSON.parse(l) as Json).find((l) => l.message === 'request' && l.path === '/openapi.json');
    expect(logged).toMatchObject({ trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', status: 200, method: 'GET' });
  });
});

describe('/docs', () => {
  it('renders every path as a self-contained HTML page (no script, nothing fetched)', async () => {
    const response = await app.request('/docs');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    const html = await response.text();
    for (const route of routes) expect(html).toContain(openApiPath(route.path));
    expect(html).not.toMatch(/<script|<link|src=|href="https?:/i);
  });
});
