// `spanda up` with API keys as an operator runs it: bad settings refused before anything starts, keys enforced over HTTP, clean SIGTERM.
import { access, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../streams/server.ts';
import { exited, runCli, startUp, type Up } from '../helpers/cli.ts';
import { tempDir } from '../helpers/nats.ts';

let dir: string;
let up: Up | undefined;

beforeAll(async () => {
  dir = await tempDir('spanda-e2e-auth-');
});
afterAll(async () => {
  up?.child.kill('SIGKILL');
});

const exists = (p: string) => access(p).then(() => true, () => false);

describe('spanda up refuses unsafe or broken settings before starting anything', () => {
  it('an open API on a non-loopback address', async () => {
    const dataDir = path.join(dir, 'open');
    const result = await runCli(['up', '--host', '0.0.0.0', '--port', String(await freePort()), '--data-dir', dataDir, '--no-sample']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/HOST 0\.0\.0\.0 is not a loopback address and no API keys are configured/);
    expect(result.stderr).toMatch(/--api-keys FILE.*--allow-open/);
    expect(await exists(path.join(dataDir, 'nats'))).toBe(false);
  });

  it('a key file with a bad entry, named', async () => {
    const file = path.join(dir, 'bad-keys.json');
    await writeFile(file, JSON.stringify([{ key: 'k'.repeat(20), tenant: 'acme', scopes: ['query'] }, { key: 'x'.repeat(20), tenant: 'acme', scopes: ['write'], name: 'ci' }]));
    const result = await runCli(['up', '--api-keys', file, '--data-dir', path.join(dir, 'bad'), '--no-sample']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/API keys file .*bad-keys\.json: entry 1 \(name "ci", tenant "acme"\): scopes\.0/);
    expect(result.stderr).not.toContain('x'.repeat(20));
  });

  it('a config file key that does not exist', async () => {
    const file = path.join(dir, 'spanda.json');
    await writeFile(file, JSON.stringify({ PORT: 8080, SPANDA_API_KEY_FILE: 'keys.json' }));
    const result = await runCli(['up', '--config', file, '--no-sample'], { SPANDA_DATA_DIR: path.join(dir, 'cfg') });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/unknown key SPANDA_API_KEY_FILE/);
  });
});

describe('spanda up --api-keys FILE', () => {
  it('requires a key on the API, scopes the tenant by the key, and stops cleanly on SIGTERM', async () => {
    const keys = path.join(dir, 'keys.json');
    const key = 'e2e-acme-0123456789abcdef';
    await writeFile(keys, JSON.stringify([{ key, tenant: 'acme', scopes: ['publish', 'query'] }]));
    up = await startUp(['--api-keys', keys, '--data-dir', path.join(dir, 'node'), '--port', String(await freePort()), '--embedder', 'hash', '--no-sample'], {
      NATS_URL: `nats://127.0.0.1:${await freePort()}`,
      SPANDA_LOG_FORMAT: 'json',
    });
    const refused = await fetch(`${up.api}/v1/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"x"}' });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const published = await fetch(`${up.api}/v1/documents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'x-tenant': 'other' },
      body: JSON.stringify({ id: 'e2e', text: 'Keys decide the tenant.' }),
    });
    expect(published.status).toBe(202);
    expect(up.output()).toMatch(/"message":"API keys required","keys":1/);
    expect(up.output()).not.toContain(key);
    up.child.kill('SIGTERM');
    expect(await exited(up.child)).toBe(0);
    up = undefined;
  });
});
