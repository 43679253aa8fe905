// API keys, scopes, rate limits and the open-mode guard, as a client and an operator meet them (no NATS, no store).
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../lib/errors.ts';
import { createLogger, silentLogger } from '../lib/log.ts';
import {
  ApiKeys,
  AuthError,
  TokenBuckets,
  accessFor,
  assertOpenBindAllowed,
  authMiddleware,
  authorizeHeader,
  bearerToken,
  loadApiAuth,
  parseApiKeys,
  requireScope,
  sha256,
  type ApiAuth,
} from './auth.ts';
import { tenantOf } from './validation.ts';

const ACME = 'acme-key-0123456789abcdef';
const GLOBEX = 'globex-key-0123456789abcdef';
const READER = 'acme-reader-0123456789abcdef';

function keys(): ApiKeys {
  const { keys: stored } = parseApiKeys(
    [
      { key: ACME, tenant: 'acme', scopes: ['publish', 'query'] },
      { sha256: sha256(GLOBEX).toString('hex'), tenant: 'globex', scopes: ['publish', 'query', 'admin'], name: 'globex-ops' },
      { key: READER, tenant: 'acme', scopes: ['query'], rateLimit: { perSecond: 1, burst: 2 } },
    ],
    'test',
  );
  return new ApiKeys(stored);
}

function appWith(auth: ApiAuth | undefined): Hono {
  const app = new Hono();
  app.use('*', authMiddleware(auth, silentLogger));
  app.post('/v1/documents', (c) => c.json({ tenant: tenantOf(c) }));
  app.post('/v1/query', (c) => c.json({ tenant: tenantOf(c) }));
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/metrics', (c) => c.text('metrics'));
  app.get('/v1/secret', (c) => {
    requireScope(c, 'admin');
    return c.json({ tenant: tenantOf(c) });
  });
  app.onError((err) => (err instanceof AuthError ? err.toResponse() : new Response(String(err), { status: 500 })));
  return app;
}

const call = (app: Hono, method: string, path: string, headers: Record<string, string> = {}) => app.request(path, { method, headers });
const bearer = (key: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, ...extra });

describe('the key file', () => {
  it('accepts keys in plaintext or as SHA-256 and resolves each to its tenant and scopes', () => {
    const store = keys();
    expect(store.size).toBe(3);
    expect(store.lookup(ACME)).toMatchObject({ tenant: 'acme' });
    expect([...(store.lookup(ACME)?.scopes ?? [])]).toEqual(['publish', 'query']);
    expect(store.lookup(GLOBEX)).toMatchObject({ tenant: 'globex', name: 'globex-ops' });
    expect(store.lookup(GLOBEX)?.keyId).toBe(sha256(GLOBEX).toString('hex').slice(0, 12));
    // The hash itself is not a key.
    expect(store.lookup(sha256(GLOBEX).toString('hex'))).toBeUndefined();
    for (const odd of ['', 'x', `${ACME} `, `${ACME}\n`, ACME.toUpperCase(), 'a'.repeat(10_000), 'ключ-0123456789abcdef', `${ACME}\u0000`]) {
      expect(store.lookup(odd)).toBeUndefined();
    }
  });

  it.each([
    [{}, /not .*array|expected a JSON array/],
    [[{ key: ACME, tenant: 'acme', scopes: ['query'] }, { name: 'ci', tenant: 'acme', scopes: ['query'] }], /entry 1 \(name "ci", tenant "acme"\): give exactly one of "key".*"sha256"/],
    [[{ key: ACME, sha256: 'a'.repeat(64), tenant: 'acme', scopes: ['query'] }], /entry 0 \(tenant "acme"\): give exactly one/],
    [[{ key: ACME, tenant: 'Acme Corp', scopes: ['query'] }], /entry 0 \(tenant "Acme Corp"\): tenant: must be 1–63 characters/],
    [[{ key: ACME, tenant: 'acme', scopes: ['read'] }], /entry 0 \(tenant "acme"\): scopes\.0: .*publish.*query.*admin/],
    [[{ key: ACME, tenant: 'acme', scopes: [] }], /scopes: list at least one/],
    [[{ key: 'short', tenant: 'acme', scopes: ['query'] }], /entry 0.*key: a key needs at least 16 characters/],
    [[{ key: `${ACME} x`, tenant: 'acme', scopes: ['query'] }], /key: may hold only/],
    [[{ sha256: 'xyz', tenant: 'acme', scopes: ['query'] }], /sha256: must be the 64 hex digits/],
    [[{ key: ACME, tenant: 'acme', scopes: ['query'], tenants: ['globex'] }], /entry 0.*Unrecognized key.*tenants/i],
    [[{ key: ACME, tenant: 'acme', scopes: ['query'] }, { sha256: sha256(ACME).toString('hex'), tenant: 'globex', scopes: ['query'] }], /entry 1 \(tenant "globex"\): the same key as entry 0/],
  ])('refuses %j with an error naming the entry', (value, message) => {
    let error: unknown;
    try {
      parseApiKeys(value, 'file keys.json');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/^API keys file keys\.json: /);
    expect((error as Error).message).toMatch(message);
    // A plaintext key never appears in an error.
    expect((error as Error).message).not.toContain(ACME);
  });
});

describe('Authorization header', () => {
  it('takes "Bearer <key>" in any case of the scheme and refuses anything else with 401', () => {
    expect(bearerToken(undefined)).toBeUndefined();
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer   abc')).toBe('abc');
    for (const bad of ['Basic YWJjOmRlZg==', 'Bearer', 'Bearer ', 'Bearer a b', 'Token abc', `Bearer ${'a'.repeat(5000)}`, 'Bearer abc\r\nx-tenant: globex']) {
      expect(() => bearerToken(bad), bad.slice(0, 40)).toThrow(AuthError);
    }
  });
});

describe('route table', () => {
  it('maps each route to its scope; unlisted routes need admin', () => {
    expect(accessFor('POST', '/v1/documents')).toBe('publish');
    expect(accessFor('DELETE', '/v1/documents/src/a%2Fb')).toBe('publish');
    expect(accessFor('GET', '/v1/documents/src/a%2Fb')).toBe('query');
    expect(accessFor('HEAD', '/v1/documents/src/x')).toBe('query');
    expect(accessFor('POST', '/v1/query')).toBe('query');
    expect(accessFor('POST', '/v1/query/')).toBe('query');
    expect(accessFor('POST', '/v1/chat/completions')).toBe('query');
    expect(accessFor('GET', '/v1/projections')).toBe('admin');
    expect(accessFor('GET', '/metrics')).toBe('admin');
    expect(accessFor('GET', '/healthz')).toBe('public');
    expect(accessFor('GET', '/openapi.json')).toBe('public');
    for (const [method, path] of [['GET', '/v1/documents'], ['PUT', '/v1/documents'], ['POST', '/v1//query'], ['GET', '/healthz/../v1/projections'], ['POST', '/V1/QUERY'], ['OPTIONS', '/v1/query'], ['GET', '/v1/documents/a/b/c']]) {
      expect(accessFor(method as string, path as string), `${method} ${path}`).toBe('admin');
    }
  });
});

describe('the auth middleware', () => {
  const auth: ApiAuth = { keys: keys() };

  it('answers 401 with WWW-Authenticate: Bearer when no key is sent, and for an unknown key', async () => {
    const app = appWith(auth);
    const none = await call(app, 'POST', '/v1/documents');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="spanda"');
    expect(none.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const unknown = await call(app, 'POST', '/v1/documents', bearer('not-a-key-0123456789abcdef'));
    expect(unknown.status).toBe(401);
    expect(unknown.headers.get('www-authenticate')).toBe('Bearer realm="spanda", error="invalid_token"');
    for (const header of ['Basic YWRtaW46YWRtaW4=', 'Bearer', `Bearer ${'x'.repeat(20_000)}`, `Bearer ${ACME}x`, `Bearer ${ACME.slice(0, -1)}`, `Bearer ${ACME}, Bearer ${GLOBEX}`]) {
      const response = await call(app, 'POST', '/v1/documents', { authorization: header });
      expect(response.status, header.slice(0, 60)).toBe(401);
      expect(await response.text()).not.toContain(ACME);
    }
  });

  it('answers 403 naming the missing scope', async () => {
    const app = appWith(auth);
    const response = await call(app, 'POST', '/v1/documents', bearer(READER));
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="spanda", error="insufficient_scope", scope="publish"');
    expect(((await response.json()) as { detail: string }).detail).toMatch(/lacks the "publish" scope/);
    expect((await call(app, 'GET', '/metrics', bearer(ACME))).status).toBe(403);
    expect((await call(app, 'GET', '/v1/secret', bearer(ACME))).status).toBe(403);
    expect((await call(app, 'GET', '/v1/secret', bearer(GLOBEX))).status).toBe(200);
    expect((await call(app, 'GET', '/metrics', bearer(GLOBEX))).status).toBe(200);
  });

  it('lets a valid key with any scope ask a listed path with another method through to the app (405 there), never without a key', async () => {
    const app = appWith(auth);
    // This app has no 405 handler: Hono's 404 shows the request reached it instead of a 403 about a scope.
    expect((await call(app, 'PUT', '/v1/query', bearer(READER))).status).toBe(404);
    expect((await call(app, 'PATCH', '/v1/documents/handbook/a.md', bearer(READER))).status).toBe(404);
    expect((await call(app, 'PUT', '/v1/query')).status).toBe(401);
    expect((await call(app, 'PUT', '/v1/query', bearer('unknown-key-0123456789abcdef'))).status).toBe(401);
    // A path the table does not list still needs admin, whatever the method.
    expect((await call(app, 'PUT', '/v1/secret', bearer(READER))).status).toBe(403);
  });

  it('takes the tenant from the key and ignores x-tenant', async () => {
    const app = appWith(auth);
    const response = await call(app, 'POST', '/v1/documents', bearer(ACME, { 'x-tenant': 'globex' }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ tenant: 'acme' });
    expect(await (await call(app, 'POST', '/v1/query', bearer(GLOBEX, { 'x-tenant': 'acme' }))).json()).toEqual({ tenant: 'globex' });
  });

  it('lets probes through without a key, even with a broken Authorization header', async () => {
    const app = appWith(auth);
    expect((await call(app, 'GET', '/healthz')).status).toBe(200);
    expect((await call(app, 'GET', '/healthz', { authorization: 'garbage' })).status).toBe(200);
    expect((await call(app, 'GET', '/metrics')).status).toBe(401);
    expect((await call(appWith({ ...auth, metricsPublic: true }), 'GET', '/metrics')).status).toBe(200);
  });

  it('limits each key on its own with 429 and Retry-After', async () => {
    const app = appWith({ keys: keys(), rateLimit: { perSecond: 1000, burst: 1000 } });
    // The reader key's own limit (burst 2) wins over the default.
    expect((await call(app, 'POST', '/v1/query', bearer(READER))).status).toBe(200);
    expect((await call(app, 'POST', '/v1/query', bearer(READER))).status).toBe(200);
    const limited = await call(app, 'POST', '/v1/query', bearer(READER));
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    // Another key of the same tenant is not slowed down.
    expect((await call(app, 'POST', '/v1/query', bearer(ACME))).status).toBe(200);
  });

  it('in open mode reads x-tenant and needs no key', async () => {
    const app = appWith(undefined);
    expect(await (await call(app, 'POST', '/v1/documents', { 'x-tenant': 'globex' })).json()).toEqual({ tenant: 'globex' });
    expect(await (await call(app, 'POST', '/v1/documents')).json()).toEqual({ tenant: 'default' });
    expect((await call(app, 'GET', '/metrics')).status).toBe(200);
  });
});

describe('token buckets', () => {
  it('refill at the configured rate up to the burst', () => {
    let now = 0;
    const buckets = new TokenBuckets(() => now);
    const limit = { perSecond: 2, burst: 3 };
    expect([1, 2, 3].map(() => buckets.take('k', limit).ok)).toEqual([true, true, true]);
    expect(buckets.take('k', limit)).toEqual({ ok: false, retryAfterS: 1, waitMs: 500 });
    now += 500;
    expect(buckets.take('k', limit).ok).toBe(true);
    expect(buckets.take('k', limit).ok).toBe(false);
    now += 60_000;
    expect([1, 2, 3, 4].map(() => buckets.take('k', limit).ok)).toEqual([true, true, true, false]);
    expect(buckets.take('other', limit).ok).toBe(true);
    expect(new TokenBuckets(() => 0).take('slow', { perSecond: 0.1, burst: 1 })).toEqual({ ok: true });
  });

  it('take several tokens all or none, and say how long until there are enough', () => {
    let now = 0;
    const buckets = new TokenBuckets(() => now);
    const limit = { perSecond: 10, burst: 100 };
    expect(buckets.take('k', limit, 60).ok).toBe(true);
    // 40 left: 50 more would need 10 of them, a second at 10 a second; nothing is taken meanwhile.
    expect(buckets.take('k', limit, 50)).toEqual({ ok: false, retryAfterS: 1, waitMs: 1000 });
    expect(buckets.take('k', limit, 40).ok).toBe(true);
    expect(buckets.take('k', limit, 25)).toEqual({ ok: false, retryAfterS: 3, waitMs: 2500 });
    now += 2500;
    expect(buckets.take('k', limit, 25).ok).toBe(true);
  });
});

describe('open mode outside loopback', () => {
  it('needs keys or an explicit --allow-open, and says how to get either', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) {
      expect(() => assertOpenBindAllowed({ host, keysConfigured: false, allowOpen: false }), host).not.toThrow();
    }
    for (const host of ['0.0.0.0', '::', '192.168.1.4', 'spanda.internal', '127.0.0.1.nip.io']) {
      expect(() => assertOpenBindAllowed({ host, keysConfigured: false, allowOpen: false }), host).toThrow(/--api-keys FILE \(SPANDA_API_KEYS_FILE\).*--allow-open \(SPANDA_ALLOW_OPEN=true\)/);
      expect(() => assertOpenBindAllowed({ host, keysConfigured: true, allowOpen: false })).not.toThrow();
      expect(() => assertOpenBindAllowed({ host, keysConfigured: false, allowOpen: true })).not.toThrow();
    }
  });
});

describe('start-up', () => {
  it('says in a log line that the API is open when no keys are configured', async () => {
    const lines: string[] = [];
    const logger = createLogger('auth', 'info', (l) => lines.push(l), { format: 'json' });
    const settings = { host: '127.0.0.1', apiKeysFile: undefined, apiKeysBucket: undefined, allowOpen: false, rateLimit: undefined, metricsPublic: false };
    expect((await loadApiAuth(settings, logger)).keys).toBeUndefined();
    expect(lines.join('')).toMatch(/open single-user mode on loopback/);
    await expect(loadApiAuth({ ...settings, host: '0.0.0.0' }, logger)).rejects.toThrow(ConfigError);
    lines.length = 0;
    await loadApiAuth({ ...settings, host: '0.0.0.0', allowOpen: true }, logger);
    expect(lines.join('')).toMatch(/open to anyone who can reach it/);
  });
});

describe('authorizeHeader (outside Hono)', () => {
  it('applies the same rules to a plain Authorization header', () => {
    const auth: ApiAuth = { keys: keys() };
    expect(authorizeHeader(undefined, undefined, 'admin')).toBeUndefined();
    expect(authorizeHeader(auth, `Bearer ${GLOBEX}`, 'admin')).toMatchObject({ tenant: 'globex' });
    expect(() => authorizeHeader(auth, undefined, 'admin')).toThrow(expect.objectContaining({ status: 401 }));
    expect(() => authorizeHeader(auth, 'Bearer nope-0123456789abcdef', 'admin')).toThrow(expect.objectContaining({ status: 401 }));
    expect(() => authorizeHeader(auth, `Bearer ${ACME}`, 'admin')).toThrow(expect.objectContaining({ status: 403 }));
  });
});
