// API keys in a NATS KV bucket: loaded before the API opens, followed live (a new key works, a deleted one is revoked at once).
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../lib/log.ts';
import { startTestNats, type TestNats } from '../test/helpers/nats.ts';
import { loadApiAuth, sha256 } from './auth.ts';
import { eventually } from '../test/helpers/eventually.ts';

let nats: TestNats;
beforeAll(async () => {
  nats = await startTestNats({ provisioned: false });
});
afterAll(async () => {
  await nats?.stop();
});

const hashOf = (key: string) => sha256(key).toString('hex');

describe('API keys from a KV bucket', () => {
  it('follows puts and deletes, and ignores malformed entries', async () => {
    const kv = await new Kvm(nats.handle.js).create('test-api-keys');
    await kv.put(hashOf('first-key-0123456789'), JSON.stringify({ tenant: 'acme', scopes: ['query'] }));
    await kv.put('not-a-hash', JSON.stringify({ tenant: 'acme', scopes: ['admin'] }));
    await kv.put(hashOf('bad-scope-0123456789'), JSON.stringify({ tenant: 'acme', scopes: ['root'] }));
    const auth = await loadApiAuth(
      { host: '0.0.0.0', apiKeysFile: undefined, apiKeysBucket: 'test-api-keys', allowOpen: false, rateLimit: undefined, metricsPublic: false },
      silentLogger,
      async () => kv,
    );
    const keys = auth.keys;
    expect(keys).toBeDefined();
    try {
      // Present before the API opens, not after a watch catches up.
      expect(keys?.lookup('first-key-0123456789')).toMatchObject({ tenant: 'acme' });
      expect(keys?.lookup('bad-scope-0123456789')).toBeUndefined();
      await kv.put(hashOf('second-key-0123456789'), JSON.stringify({ tenant: 'globex', scopes: ['publish'] }));
      await eventually(() => keys?.lookup('second-key-0123456789')?.tenant === 'globex');
      await kv.delete(hashOf('first-key-0123456789'));
      await eventually(() => keys?.lookup('first-key-0123456789') === undefined);
      expect(keys?.lookup('second-key-0123456789')).toBeDefined();
    } finally {
      keys?.stop();
    }
  });

  it('an empty bucket still means keys are required (nothing is open)', async () => {
    const kv = await new Kvm(nats.handle.js).create('empty-api-keys');
    const auth = await loadApiAuth(
      { host: '127.0.0.1', apiKeysFile: undefined, apiKeysBucket: 'empty-api-keys', allowOpen: false, rateLimit: undefined, metricsPublic: false },
      silentLogger,
      async () => kv,
    );
    expect(auth.keys).toBeDefined();
    expect(auth.keys?.size).toBe(0);
    auth.keys?.stop();
  });
});
