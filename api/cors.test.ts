// CORS on the whole app: preflights answer without a key, refusals still carry the CORS headers a browser needs to read them.
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../lib/log.ts';
import type { Serving } from '../projections/serving.ts';
import type { NatsHandle } from '../streams/nats.ts';
import { createApp } from './app.ts';
import { ApiKeys, parseApiKeys, type ApiAuth } from './auth.ts';

const auth: ApiAuth = { keys: new ApiKeys(parseApiKeys([{ key: 'browser-key-0123456789', tenant: 'web', scopes: ['query'] }], 'test').keys) };
const appFor = (corsOrigins: readonly string[] | undefined) =>
  createApp({ nats: {} as NatsHandle, serving: {} as Serving, maxBodyBytes: 1024, logger: silentLogger, auth, ...(corsOrigins ? { corsOrigins } : {}) });

describe('CORS', () => {
  it('answers a preflight from an allowed origin without a key', async () => {
    const response = await appFor(['https://app.example']).request('/v1/query', {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(response.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('lets the browser read a 401 and its traceparent', async () => {
    const response = await appFor(['https://app.example']).request('/v1/query', { method: 'POST', headers: { origin: 'https://app.example' } });
    expect(response.status).toBe(401);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(response.headers.get('access-control-expose-headers')?.toLowerCase()).toContain('traceparent');
  });

  it('gives no CORS headers to other origins, or when no origins are configured', async () => {
    const other = await appFor(['https://app.example']).request('/healthz', { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const none = await appFor(undefined).request('/healthz', { headers: { origin: 'https://app.example' } });
    expect(none.headers.get('access-control-allow-origin')).toBeNull();
    // Without CORS a preflight is an unlisted route: it needs an admin key like any other.
    expect((await appFor(undefined).request('/v1/query', { method: 'OPTIONS', headers: { origin: 'https://app.example' } })).status).toBe(401);
    const any = await appFor(['*']).request('/healthz', { headers: { origin: 'https://anyone.example' } });
    expect(any.headers.get('access-control-allow-origin')).toBe('*');
  });
});
