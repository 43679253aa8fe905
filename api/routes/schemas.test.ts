// The event contracts served over HTTP: the index, each JSON Schema as committed, AsyncAPI with refs that resolve on this server.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { SCHEMA_DIR } from '../../streams/schemas/generate.ts';
import { problemFromError, sendProblem } from '../problems.ts';
import { SCHEMA_CONTENT_TYPE, YAML_CONTENT_TYPE, schemaRoutes } from './schemas.ts';

function appWith(dir?: string): Hono {
  const app = new Hono();
  app.route('/', schemaRoutes(dir === undefined ? {} : { dir }));
  app.onError((err) => {
    const { problem, headers } = problemFromError(err);
    return sendProblem(problem, headers);
  });
  return app;
}

describe('schema routes', () => {
  it('lists every event schema with its type, version and link', async () => {
    const response = await appWith().request('/v1/schemas');
    expect(response.status).toBe(200);
    const body = (await response.json()) as { schemas: Array<{ name: string; type: string; version: number; href: string; id: string }>; asyncapi: string };
    expect(body.asyncapi).toBe('/asyncapi.yaml');
    expect(body.schemas).toContainEqual({
      name: 'document.upserted.v1',
      type: 'document.upserted',
      version: 1,
      id: 'urn:spanda:event:document.upserted.v1',
      href: '/v1/schemas/document.upserted.v1',
    });
    expect(body.schemas.map((s) => s.name)).toEqual(expect.arrayContaining(['document.deleted.v1', 'document.chunked.v1', 'query.answered.v1']));
  });

  it('serves one schema as committed, with or without .json, and a 404 naming the known ones', async () => {
    const app = appWith();
    const response = await app.request('/v1/schemas/document.upserted.v1');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(SCHEMA_CONTENT_TYPE);
    expect(await response.text()).toBe(await readFile(path.join(SCHEMA_DIR, 'document.upserted.v1.json'), 'utf8'));
    expect((await app.request('/v1/schemas/document.deleted.v1.json')).status).toBe(200);
    const missing = await app.request('/v1/schemas/document.exploded.v9');
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { detail: string }).detail).toMatch(/document\.upserted\.v1/);
  });

  it('serves asyncapi.yaml with schema refs pointing at this server', async () => {
    const response = await appWith().request('/asyncapi.yaml');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(YAML_CONTENT_TYPE);
    const text = await response.text();
    expect(text).toMatch(/^asyncapi: 3\.0\.0$/m);
    expect(text).toContain("$ref: './v1/schemas/document.upserted.v1.json'");
    expect(text).not.toContain("'./schemas/");
  });

  it('answers a clear 500 when the schema files are missing, and reads nothing before the first request', async () => {
    const app = appWith(path.join(SCHEMA_DIR, 'no-such-dir'));
    const response = await app.request('/v1/schemas');
    expect(response.status).toBe(500);
    expect(((await response.json()) as { detail: string }).detail).toMatch(/cannot read the event schemas/);
  });
});
