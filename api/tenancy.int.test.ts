// Tenant isolation over HTTP on a real node with API keys: no route lets one tenant see, search, delete or trace another's data.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from '../test/helpers/system.ts';
import { writeKeysFile } from '../test/helpers/keys-file.ts';
import { sha256 } from './auth.ts';

const ACME = 'acme-0123456789abcdef0123456789';
const GLOBEX = 'globex-0123456789abcdef01234567';
const ACME_READER = 'acme-reader-0123456789abcdef012';
const OPS = 'ops-admin-0123456789abcdef012345';

let node: TestSystem;
let api: string;

beforeAll(async () => {
  const file = await writeKeysFile(
    [
      { key: ACME, tenant: 'acme', scopes: ['publish', 'query'] },
      { sha256: sha256(GLOBEX).toString('hex'), tenant: 'globex', scopes: ['publish', 'query'] },
      { key: ACME_READER, tenant: 'acme', scopes: ['query'] },
      { key: OPS, tenant: 'ops', scopes: ['admin'] },
    ],
    'spanda-keys-',
  );
  node = await startTestSystem({ SPANDA_API_KEYS_FILE: file });
  api = node.system.apiUrl;
});
afterAll(async () => {
  await node?.destroy();
});

interface Reply {
  status: number;
  headers: Headers;
  // Whatever JSON each route answers, probed field by field.
  body: any;
}

async function send(method: string, route: string, key: string | undefined, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const response = await fetch(`${api}${route}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON (metrics, SSE)
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last: ${JSON.stringify(value).slice(0, 400)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const doc = (route: string) => `/v1/documents/notes/${encodeURIComponent(route)}`;
const searchable = (r: Reply) => JSON.stringify(r.body);

describe('two tenants on one node', () => {
  let acmeQueryId: string;

  beforeAll(async () => {
    // Same source and id in both tenants, plus one document only acme has. acme also tries to write as globex.
    expect((await send('POST', '/v1/documents', ACME, { documents: [
      { id: 'plan', source: 'notes', text: 'Acme zeppelin launch plan: the quokka protocol starts at dawn.' },
      { id: 'acme-only', source: 'notes', text: 'Acme payroll: the narwhal bonus is confidential.' },
    ] })).status).toBe(202);
    expect((await send('POST', '/v1/documents', ACME, { id: 'smuggled', source: 'notes', text: 'Written by acme with x-tenant globex: pangolin.' }, { 'x-tenant': 'globex' })).status).toBe(202);
    expect((await send('POST', '/v1/documents', GLOBEX, { id: 'plan', source: 'notes', text: 'Globex marmalade budget memo for the fiscal year.' })).status).toBe(202);
    for (const [key, id] of [[ACME, 'plan'], [ACME, 'acme-only'], [ACME, 'smuggled'], [GLOBEX, 'plan']] as const) {
      await eventually(() => send('GET', doc(id), key), (r) => r.status === 200 && r.body.chunks > 0);
    }
    const answered = await send('POST', '/v1/query', ACME, { query: 'zeppelin quokka', mode: 'keyword' });
    expect(answered.status).toBe(200);
    acmeQueryId = answered.body.queryId;
  });

  it('publishes into the key\'s tenant whatever x-tenant says', async () => {
    const mine = await send('GET', doc('smuggled'), ACME);
    expect(mine.body.tenant).toBe('acme');
    expect((await send('GET', doc('smuggled'), GLOBEX)).status).toBe(404);
    expect((await send('GET', doc('smuggled'), GLOBEX, undefined, { 'x-tenant': 'acme' })).status).toBe(404);
  });

  it('never shows one tenant the other\'s documents by id', async () => {
    expect((await send('GET', doc('acme-only'), GLOBEX)).status).toBe(404);
    expect((await send('GET', doc('acme-only'), GLOBEX, undefined, { 'x-tenant': 'acme' })).status).toBe(404);
    const globexPlan = await send('GET', doc('plan'), GLOBEX);
    const acmePlan = await send('GET', doc('plan'), ACME);
    expect(globexPlan.body.tenant).toBe('globex');
    expect(acmePlan.body.tenant).toBe('acme');
    expect(globexPlan.body.seq).not.toBe(acmePlan.body.seq);
  });

  it('never finds the other tenant\'s text by query, filter or chat', async () => {
    for (const mode of ['keyword', 'hybrid', 'vector']) {
      const mine = await send('POST', '/v1/query', ACME, { query: 'zeppelin quokka narwhal', mode });
      expect(mine.status).toBe(200);
      const theirs = await send('POST', '/v1/query', GLOBEX, { query: 'zeppelin quokka narwhal', mode, k: 100 }, { 'x-tenant': 'acme' });
      expect(theirs.status).toBe(200);
      expect(searchable(theirs)).not.toMatch(/zeppelin|quokka|narwhal|pangolin/i);
      if (mode === 'keyword') expect(searchable(mine)).toMatch(/zeppelin/);
    }
    const filtered = await send('POST', '/v1/query', GLOBEX, { query: 'narwhal bonus', mode: 'keyword', filter: { docId: ['acme-only'], source: 'notes' } });
    expect(filtered.body.results).toEqual([]);
    const chat = await send('POST', '/v1/chat/completions', GLOBEX, { messages: [{ role: 'user', content: 'What is the quokka protocol and the narwhal bonus?' }] });
    expect(chat.status).toBe(200);
    expect(searchable(chat)).not.toMatch(/zeppelin|narwhal bonus is|pangolin/i);
  });

  it('never lets one tenant read, trace or rate the other\'s answers', async () => {
    expect(acmeQueryId).toBeTruthy();
    const own = await eventually(() => send('GET', `/v1/answers/${acmeQueryId}`, ACME), (r) => r.status === 200, 10_000);
    expect(searchable(own)).toMatch(/zeppelin/);
    const trace = await send('GET', `/v1/answers/${acmeQueryId}`, GLOBEX, undefined, { 'x-tenant': 'acme' });
    expect(trace.status).toBe(404);
    expect(searchable(trace)).not.toMatch(/zeppelin|quokka/);
    const rated = await send('POST', '/v1/feedback', GLOBEX, { queryId: acmeQueryId, rating: -1 });
    expect(rated.status).toBe(404);
  });

  it('a delete by one tenant never removes the other\'s document', async () => {
    const deleted = await send('DELETE', doc('acme-only'), GLOBEX);
    // Accepted into globex's own namespace (deleting what it does not have is allowed and harmless).
    expect(deleted.status).toBe(202);
    const globexView = await eventually(() => send('GET', doc('acme-only'), GLOBEX), (r) => r.status === 200 && r.body.deleted === true);
    expect(globexView.body.tenant).toBe('globex');
    const acmeView = await send('GET', doc('acme-only'), ACME);
    expect(acmeView.body).toMatchObject({ tenant: 'acme', deleted: false });
    expect(acmeView.body.chunks).toBeGreaterThan(0);
    const stillFound = await send('POST', '/v1/query', ACME, { query: 'narwhal bonus', mode: 'keyword' });
    expect(searchable(stillFound)).toMatch(/narwhal/);
  });

  it('enforces scopes: a query-only key cannot publish or delete, only admin sees operations', async () => {
    expect((await send('POST', '/v1/documents', ACME_READER, { id: 'x', text: 'nope' })).status).toBe(403);
    expect((await send('DELETE', doc('plan'), ACME_READER)).status).toBe(403);
    expect((await send('POST', '/v1/query', ACME_READER, { query: 'zeppelin', mode: 'keyword' })).status).toBe(200);
    for (const key of [ACME, GLOBEX, ACME_READER]) {
      expect((await send('GET', '/v1/projections', key)).status).toBe(403);
      expect((await send('GET', '/metrics', key)).status).toBe(403);
    }
    expect((await send('GET', '/v1/projections', OPS)).status).toBe(200);
    const metrics = await send('GET', '/metrics', OPS);
    expect(metrics.status).toBe(200);
    expect(String(metrics.body)).not.toMatch(/zeppelin|quokka|narwhal/);
    // /readyz answers anyone, and shows the store counts only to an admin key.
    expect(JSON.stringify((await send('GET', '/readyz', ACME)).body)).not.toMatch(/\d+ documents/);
    expect(JSON.stringify((await send('GET', '/readyz', OPS)).body)).toMatch(/\d+ documents, \d+ chunks/);
    // The admin key is an operator's, not a tenant's: it cannot read tenant data it was not given.
    expect((await send('POST', '/v1/query', OPS, { query: 'zeppelin' })).status).toBe(403);
    expect((await send('GET', doc('plan'), OPS)).status).toBe(403);
    // Erasing needs admin; an admin key erases only in its own tenant: acme's document is untouched by the ops key.
    expect((await send('POST', `${doc('plan')}/erase`, ACME)).status).toBe(403);
    const elsewhere = await send('POST', `${doc('plan')}/erase?wait=0`, OPS);
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.body).toMatchObject({ tenant: 'ops', neverPublished: true, purged: { documents: 0 } });
    expect((await send('GET', doc('plan'), ACME)).status).toBe(200);
  });

  it('answers 401 with WWW-Authenticate on every protected route of the OpenAPI document, and serves the public ones', async () => {
    const spec = await send('GET', '/openapi.json', undefined);
    expect(spec.status).toBe(200);
    const operations = Object.entries(spec.body.paths as Record<string, Record<string, { 'x-spanda-scope': string }>>).flatMap(([p, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ method: method.toUpperCase(), path: p.replace(/\{[^}]+\}/g, 'x'), scope: op['x-spanda-scope'] })),
    );
    expect(operations.length).toBeGreaterThan(8);
    for (const op of operations) {
      const body = op.method === 'POST' ? {} : undefined;
      for (const header of [undefined, 'Bearer ', 'Bearer wrong-key-0123456789abcdef', `Basic ${Buffer.from(`acme:${ACME}`).toString('base64')}`]) {
        const response = await send(op.method, op.path, undefined, body, header !== undefined ? { authorization: header } : {});
        if (op.scope === 'public') expect(response.status, `${op.method} ${op.path}`).not.toBe(401);
        else {
          expect(response.status, `${op.method} ${op.path} with ${JSON.stringify(header)}`).toBe(401);
          expect(response.headers.get('www-authenticate')).toMatch(/^Bearer realm="spanda"/);
          expect(searchable(response)).not.toMatch(/zeppelin|marmalade/);
        }
      }
    }
  });

  it('returns a traceparent on every response, continuing the caller\'s trace', async () => {
    const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const refused = await send('POST', '/v1/query', undefined, { query: 'x' }, { traceparent: incoming });
    expect(refused.headers.get('traceparent')).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    const fresh = await send('GET', '/healthz', undefined);
    expect(fresh.headers.get('traceparent')).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    // Header injection through traceparent is dropped, not echoed.
    const injected = await send('GET', '/healthz', undefined, undefined, { traceparent: `${incoming}-x` });
    expect(injected.headers.get('traceparent')).not.toContain('-x');
  });
});
