// NATS credentials: user/password and token reach a server that requires them; refused credentials fail fast and never show up in messages.
import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../lib/errors.ts';
import { tempDir } from '../test/helpers/nats.ts';
import { connectNats } from './nats.ts';
import { findNatsServerBinary, freePort, isPortOpen } from './server.ts';

const servers: Array<{ child: ChildProcess; dir: string }> = [];

async function serverWith(args: string[]): Promise<string> {
  const dir = await tempDir('spanda-nats-auth-');
  const port = await freePort();
  const child = spawn(findNatsServerBinary(), ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir, ...args], { stdio: 'ignore' });
  servers.push({ child, dir });
  const deadline = Date.now() + 10_000;
  while (!(await isPortOpen('127.0.0.1', port))) {
    if (Date.now() > deadline) throw new Error('nats-server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return `nats://127.0.0.1:${port}`;
}

let userServer: string;
let tokenServer: string;

beforeAll(async () => {
  userServer = await serverWith(['--user', 'spanda', '--pass', 'pass-word-1']);
  tokenServer = await serverWith(['--auth', 'token-abc-123']);
});
afterAll(async () => {
  for (const { child, dir } of servers) {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await rm(dir, { recursive: true, force: true });
  }
});

async function refusal(run: () => Promise<unknown>): Promise<Error> {
  const started = Date.now();
  const error = await run().then(
    () => undefined,
    (err: unknown) => err as Error,
  );
  expect(error).toBeDefined();
  // Refused credentials do not wait out the connect timeout.
  expect(Date.now() - started).toBeLessThan(5_000);
  return error as Error;
}

describe('NATS credentials', () => {
  it('connects with user and password, or a token', async () => {
    const byUser = await connectNats({ url: userServer, auth: { user: 'spanda', pass: 'pass-word-1' }, connectTimeoutMs: 5000 });
    expect(byUser.connected()).toBe(true);
    await byUser.drain();
    const byToken = await connectNats({ url: tokenServer, auth: { token: 'token-abc-123' }, connectTimeoutMs: 5000 });
    expect(byToken.connected()).toBe(true);
    await byToken.drain();
  });

  it('fails fast on refused credentials, naming the settings and never the secret', async () => {
    const wrongPass = await refusal(() => connectNats({ url: userServer, auth: { user: 'spanda', pass: 'not-it-999' }, connectTimeoutMs: 20_000 }));
    expect(wrongPass).toBeInstanceOf(ConfigError);
    expect(wrongPass.message).toMatch(/refused the credentials.*NATS_USER\/NATS_PASSWORD/);
    expect(wrongPass.message).not.toContain('not-it-999');
    const none = await refusal(() => connectNats({ url: tokenServer, connectTimeoutMs: 20_000 }));
    expect(none).toBeInstanceOf(ConfigError);
    // Credentials inside the URL are redacted in the message.
    const inUrl = await refusal(() => connectNats({ url: userServer.replace('nats://', 'nats://spanda:leaky-secret@'), connectTimeoutMs: 20_000 }));
    expect(inUrl.message).not.toContain('leaky-secret');
  });

  it('names an unreadable credentials file', async () => {
    await expect(connectNats({ url: userServer, auth: { credsFile: '/nonexistent/user.creds' } })).rejects.toThrow(/cannot read the NATS credentials \(NATS_CREDS\) file/);
  });
});
