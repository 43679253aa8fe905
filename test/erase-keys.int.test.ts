// `spanda erase --all` and a tenant's API keys: listed while they remain, purged from the bucket with --revoke-keys (the node refuses them at once), file keys named for removal.
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../api/auth.ts';
import { runCli, eventually } from './helpers/cli.ts';
import { jsonApi } from './helpers/http.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';
import { writeKeysFile } from './helpers/keys-file.ts';

const BUCKET = 'erase-test-keys';
const GLOBEX_KEY = 'globex-live-key-0123456789abcdef';
const INITECH_KEY = 'initech-live-key-0123456789abcdef';
const GLOBEX_FILE_KEY = 'globex-file-key-0123456789abcdef';
const hex = (key: string) => sha256(key).toString('hex');

let node: TestSystem;
let keysFile: string;

beforeAll(async () => {
  keysFile = await writeKeysFile([{ sha256: hex(GLOBEX_FILE_KEY), tenant: 'globex', scopes: ['publish'], name: 'globex-ci' }], 'spanda-erase-keys-');
  node = await startTestSystem({ SPANDA_API_KEYS_BUCKET: BUCKET, SPANDA_API_KEYS_FILE: keysFile });
});
afterAll(async () => {
  await node?.destroy();
});

const api = jsonApi(() => node.system.apiUrl);
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe('spanda erase --all and API keys', () => {
  it('lists the keys that still grant the tenant access, and --revoke-keys purges the bucket ones first', async () => {
    const kv = await new Kvm(node.system.nats.js).open(BUCKET);
    await kv.put(hex(GLOBEX_KEY), JSON.stringify({ tenant: 'globex', scopes: ['publish', 'query'], name: 'globex-app' }));
    await kv.put(hex(INITECH_KEY), JSON.stringify({ tenant: 'initech', scopes: ['publish', 'query'] }));
    await kv.put('not-a-key-hash', JSON.stringify({ tenant: 'globex', scopes: ['admin'] })); // ignored by nodes: grants nothing
    await eventually(() => api('POST', '/v1/documents', { id: 'plan.md', source: 'files', text: 'The quarterly marmoset plan.' }, bearer(GLOBEX_KEY)), (r) => r.status === 202);
    await eventually(() => api('POST', '/v1/query', { query: 'marmoset plan', k: 1 }, bearer(GLOBEX_KEY)), (r) => r.status === 200 && r.json.results.length === 1);
    const asInitech = await api('POST', '/v1/documents', { id: 'memo.md', source: 'files', text: 'The okapi memo.' }, bearer(INITECH_KEY));
    expect(asInitech.status).toBe(202);

    const env = { SPANDA_API_KEYS_BUCKET: BUCKET };
    const args = ['erase', '--all', '--tenant', 'globex', '--yes', '--json', '--wait', '30', '--nats-url', node.config.natsUrl, '--api-keys', keysFile];

    // Without --revoke-keys: the keys are named, nothing is revoked, and they still work.
    const listed = await runCli(args, env);
    expect(listed.code, listed.stderr).toBe(0);
    const first = JSON.parse(listed.stdout);
    expect(first.documents).toBe(1);
    expect(first.keys).toMatchObject({
      configured: true,
      bucket: BUCKET,
      revoked: [],
      remaining: { bucket: [{ keyId: hex(GLOBEX_KEY).slice(0, 12), name: 'globex-app', scopes: ['publish', 'query'] }], file: [{ name: 'globex-ci', scopes: ['publish'] }] },
    });
    expect(listed.stdout).not.toContain(GLOBEX_KEY);
    expect(listed.stderr).toMatch(/add --revoke-keys/);
    expect((await api('POST', '/v1/query', { query: 'marmoset plan', k: 1 }, bearer(GLOBEX_KEY))).status).toBe(200);

    // --revoke-keys goes with --all only.
    const single = await runCli(['erase', 'files', 'plan.md', '--tenant', 'globex', '--yes', '--revoke-keys', '--nats-url', node.config.natsUrl], env);
    expect(single.code).toBe(2);
    expect(single.stderr).toMatch(/--revoke-keys goes with --all/);

    // With it: the bucket key is purged (value and history) and refused by the node; the file key is named, exit 1.
    const revoked = await runCli([...args, '--revoke-keys'], env);
    expect(revoked.code, revoked.stderr).toBe(1);
    const second = JSON.parse(revoked.stdout);
    expect(second.keys.revoked).toEqual([{ keyId: hex(GLOBEX_KEY).slice(0, 12), name: 'globex-app', scopes: ['publish', 'query'] }]);
    expect(second.keys.remaining).toEqual({ bucket: [], file: [{ keyId: hex(GLOBEX_FILE_KEY).slice(0, 12), name: 'globex-ci', scopes: ['publish'] }] });
    expect(revoked.stderr).toMatch(/remove those entries and restart/);
    expect((await kv.get(hex(GLOBEX_KEY)))?.operation).toBe('PURGE');
    const history = await kv.history({ key: hex(GLOBEX_KEY) });
    const kinds: string[] = [];
    for await (const entry of history) kinds.push(entry.operation);
    expect(kinds).toEqual(['PURGE']);
    await eventually(() => api('POST', '/v1/query', { query: 'marmoset plan', k: 1 }, bearer(GLOBEX_KEY)), (r) => r.status === 401, 10_000);
    // The other tenant's key, its document and the entry nodes ignore are left alone.
    expect(await kv.get(hex(INITECH_KEY))).not.toBeNull();
    expect(await kv.get('not-a-key-hash')).not.toBeNull();
    await eventually(() => api('POST', '/v1/query', { query: 'okapi memo', k: 1 }, bearer(INITECH_KEY)), (r) => r.status === 200 && r.json.results[0]?.docId === 'memo.md');
  }, 120_000);

  it('--revoke-keys where no key source is configured says so and revokes nothing', async () => {
    const run = await runCli(['erase', '--all', '--tenant', 'nobody', '--yes', '--revoke-keys', '--json', '--nats-url', node.config.natsUrl]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).keys).toEqual({ configured: false, revoked: [], remaining: { bucket: [], file: [] } });
    expect(run.stderr).toMatch(/no API keys are configured where this ran/);
  }, 60_000);
});
