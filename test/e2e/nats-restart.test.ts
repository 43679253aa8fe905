// End to end: `spanda up` notices its nats-server child being SIGKILLed, answers 503 at once meanwhile, restarts it and carries on.
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../lib/processes.ts';
import { listConsumers } from '../../streams/consumer-list.ts';
import { connectNats } from '../../streams/nats.ts';
import { freePort } from '../../streams/server.ts';
import { eventually, startUp as startSpandaUp, type Up } from '../helpers/cli.ts';
import { tempDir } from '../helpers/nats.ts';

/** `spanda up` with JSON logs, so the test can read what it logged. */
const startUp = (args: string[]): Promise<Up> => startSpandaUp(args, { SPANDA_LOG_FORMAT: 'json' }, 60_000);

interface LogLine {
  level: string;
  component: string;
  message: string;
  [field: string]: unknown;
}

const logLines = (up: Up): LogLine[] =>
  up
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{"time"'))
    .map((l) => JSON.parse(l) as LogLine);

interface QueryResult {
  results: Array<{ docId: string }>;
}

async function post(api: string, route: string, body: unknown): Promise<Response> {
  return fetch(`${api}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

const docIds = async (api: string, query: string) => ((await (await post(api, '/v1/query', { query, mode: 'keyword', k: 20 })).json()) as QueryResult).results.map((r) => r.docId);

let dataDir: string;
let natsUrl: string;
let up: Up | undefined;
const natsPid = async () => Number((await readFile(path.join(dataDir, 'nats', 'nats-server.pid'), 'utf8')).trim());

beforeAll(async () => {
  dataDir = await tempDir('spanda-e2e-restart-');
  natsUrl = `nats://127.0.0.1:${await freePort()}`;
  up = await startUp(['--port', String(await freePort()), '--nats-url', natsUrl, '--data-dir', dataDir, '--embedder', 'hash', '--no-sample']);
});

afterAll(async () => {
  if (up && up.child.exitCode === null) {
    const gone = new Promise((resolve) => up?.child.once('exit', resolve));
    up.child.kill('SIGTERM');
    await gone;
  }
  const pid = await natsPid().catch(() => undefined);
  if (pid && isAlive(pid)) process.kill(pid, 'SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

describe('spanda up when its nats-server child dies', () => {
  it('answers 503 with Retry-After at once, restarts the child on the same store, and indexes again', async ({ onTestFailed }) => {
    // A failure here has been timing-dependent: the node's log and each consumer's state (delivered, pending, waiting
    // pulls) tell which stage stood still.
    onTestFailed(async () => {
      process.stderr.write(`[e2e] spanda up output:\n${up!.output().slice(-20_000)}\n`);
      const handle = await connectNats({ url: natsUrl });
      for await (const stream of handle.jsm.streams.list()) {
        process.stderr.write(`[e2e] stream ${stream.config.name}: ${JSON.stringify(stream.state)}\n`);
        for (const c of await listConsumers(handle, stream.config.name)) {
          process.stderr.write(`[e2e]   consumer ${c.name}: delivered ${JSON.stringify(c.delivered)} ack_floor ${JSON.stringify(c.ack_floor)} pending ${c.num_pending} ack_pending ${c.num_ack_pending} waiting ${c.num_waiting} redelivered ${c.num_redelivered}\n`);
        }
      }
      await handle.drain();
    });
    const api = up!.api;
    expect((await post(api, '/v1/documents', { id: 'before', text: 'The axolotl regrows its limbs in Mexican lakes.' })).status).toBe(202);
    await eventually(() => docIds(api, 'axolotl regrows limbs'), (ids) => ids.includes('before'), 20_000);

    // One document is still on its way through the chunker and embedder when the server dies.
    expect((await post(api, '/v1/documents', { id: 'racing', text: 'The axolotl was published just before the crash.' })).status).toBe(202);
    const killed = await natsPid();
    process.kill(killed, 'SIGKILL');
    const killedAt = Date.now();

    // While NATS is down a publish fails fast (not after the 10 s publish timeout) and says when to come back.
    const during = await post(api, '/v1/documents', { id: 'during', text: 'Published while the server was down.' });
    const timeTo503 = Date.now() - killedAt;
    expect(during.status).toBe(503);
    expect(during.headers.get('content-type')).toContain('application/problem+json');
    expect(Number(during.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(during.headers.get('retry-after'))).toBeLessThanOrEqual(2);
    expect(timeTo503).toBeLessThan(3000);

    // The node publishes again once it has restarted its child, with no help.
    const after = await eventually(
      () => post(api, '/v1/documents', { id: 'after', text: 'The axolotl keeps its larval gills all its life.' }),
      (r) => r.status === 202,
      15_000,
    );
    expect(after.status).toBe(202);
    const timeToRecover = Date.now() - killedAt;
    const restartedPid = await natsPid();
    expect(restartedPid).not.toBe(killed);
    expect(isAlive(restartedPid)).toBe(true);

    // Processors and the projector carry on: the new document becomes queryable, the old one is still there.
    await eventually(() => docIds(api, 'axolotl'), (ids) => ids.includes('after') && ids.includes('before'), 20_000);
    const timeToQueryable = Date.now() - killedAt;
    // Work in flight at the crash is redone: requests to the dead server time out (5 s) and the input is redelivered.
    await eventually(() => docIds(api, 'axolotl'), (ids) => ids.includes('racing'), 20_000);
    const timeToRacing = Date.now() - killedAt;

    const logs = logLines(up!);
    expect(logs).toContainEqual(expect.objectContaining({ level: 'error', message: expect.stringContaining('nats-server exited unexpectedly'), pid: killed, signal: 'SIGKILL' }));
    expect(logs).toContainEqual(expect.objectContaining({ level: 'info', message: 'restarted nats-server', pid: restartedPid }));
    expect(logs).toContainEqual(expect.objectContaining({ level: 'warn', message: expect.stringContaining('lost the NATS connection') }));
    expect(logs).toContainEqual(expect.objectContaining({ level: 'info', message: 'NATS connection is back' }));
    process.stdout.write(`[e2e] nats-server SIGKILL: 503 after ${timeTo503} ms, publishing again after ${timeToRecover} ms, new document queryable after ${timeToQueryable} ms, the one in flight at the crash after ${timeToRacing} ms\n`);
  });

  it('stops its restarted child on SIGTERM and leaves nothing running', async () => {
    const pid = await natsPid();
    const gone = new Promise<number | null>((resolve) => up!.child.once('exit', resolve));
    up!.child.kill('SIGTERM');
    expect(await gone).toBe(0);
    expect(isAlive(pid)).toBe(false);
    // The stop on shutdown is not mistaken for a crash: no second restart.
    expect(logLines(up!).filter((l) => l.message.includes('exited unexpectedly'))).toHaveLength(1);
  });
});
