// The supervised nats-server child against real kills: restart on the same store and port, backoff, fast 503s, no restart after stop.
import net from 'node:net';
import { statfsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UnavailableError } from '../lib/errors.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { isAlive } from '../lib/processes.ts';
import { hangProcess } from '../test/helpers/processes.ts';
import { tempDir } from '../test/helpers/nats.ts';
import { documentInputSchema, publishDocument } from './document-log.ts';
import { connectNats, type NatsHandle } from './nats.ts';
import { STREAMS, provision } from './provision.ts';
import { watchJetStream } from './jetstream-watch.ts';
import { freePort, isPortOpen, superviseNatsServer, type SupervisedNatsServer } from './server.ts';

interface Captured {
  readonly logger: Logger;
  readonly lines: Array<{ level: string; message: string; [field: string]: unknown }>;
}

function captureLogs(): Captured {
  const lines: Captured['lines'] = [];
  const previous = process.env.SPANDA_LOG_FORMAT;
  process.env.SPANDA_LOG_FORMAT = 'json';
  const logger = createLogger('test', 'debug', (line) => lines.push(JSON.parse(line) as Captured['lines'][number]));
  if (previous === undefined) delete process.env.SPANDA_LOG_FORMAT;
  else process.env.SPANDA_LOG_FORMAT = previous;
  return { logger, lines };
}

async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const doc = (id: string) => documentInputSchema.parse({ id, text: `text of ${id}` });

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function start(logs: Captured, options: { restartDelayMs?: number } = {}): Promise<{ server: SupervisedNatsServer; handle: NatsHandle; port: number }> {
  const dir = await tempDir('spanda-supervised-');
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const port = await freePort();
  const server = await superviseNatsServer({ dataDir: dir, port }, { logger: logs.logger, ...options });
  cleanups.push(() => server.stop());
  const handle = await connectNats({ url: server.url, name: 'supervised-test', logger: logs.logger });
  cleanups.push(() => handle.drain());
  await provision(handle);
  return { server, handle, port };
}

describe('superviseNatsServer', () => {
  it('restarts a SIGKILLed child on the same port and store; the client reconnects and the log keeps its events', async () => {
    const logs = captureLogs();
    const { server, handle } = await start(logs);
    const before = await publishDocument(handle, 'acme', doc('before'));
    const killed = server.pid;

    process.kill(killed, 'SIGKILL');
    const killedAt = Date.now();
    // Known down: refused at once with a short Retry-After, not after the 10 s publish timeout.
    await waitFor(() => !handle.connected(), 2000);
    const refused = await publishDocument(handle, 'acme', doc('during')).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(UnavailableError);
    expect((refused as UnavailableError).retryAfterSeconds).toBe(1);
    expect(Date.now() - killedAt).toBeLessThan(3000);

    await waitFor(() => handle.connected(), 10_000);
    expect(server.restarts).toBe(1);
    expect(server.pid).not.toBe(killed);
    expect(isAlive(server.pid)).toBe(true);
    const after = await publishDocument(handle, 'acme', doc('after'));
    expect(after.seq).toBe(before.seq + 1);
    expect((await handle.jsm.streams.getMessage(STREAMS.DOCUMENTS, { seq: before.seq }))?.seq).toBe(before.seq);

    expect(logs.lines).toContainEqual(expect.objectContaining({ level: 'error', message: 'nats-server exited unexpectedly; restarting it', pid: killed, signal: 'SIGKILL' }));
    expect(logs.lines).toContainEqual(expect.objectContaining({ level: 'info', message: 'restarted nats-server', pid: server.pid, attempt: 1 }));
    expect(logs.lines).toContainEqual(expect.objectContaining({ level: 'warn', message: expect.stringContaining('lost the NATS connection') }));
    expect(logs.lines).toContainEqual(expect.objectContaining({ level: 'info', message: 'NATS connection is back' }));
  });

  it('fails a publish in flight as soon as the connection drops instead of waiting for its timeout', async () => {
    const logs = captureLogs();
    const { server, handle } = await start(logs, { restartDelayMs: 2000 });
    // Kill first and publish in the same tick, before the client has seen the socket close.
    process.kill(server.pid, 'SIGKILL');
    const startedAt = Date.now();
    const outcome = await publishDocument(handle, 'acme', doc('in-flight')).catch((err: unknown) => err);
    expect(outcome).toBeInstanceOf(UnavailableError);
    expect(Date.now() - startedAt).toBeLessThan(3000);
  });

  it('keeps retrying with a growing delay while the port is taken, then restarts once it is free', async () => {
    const logs = captureLogs();
    const { server, handle, port } = await start(logs, { restartDelayMs: 500 });
    const killed = server.pid;
    process.kill(killed, 'SIGKILL');
    // Something else grabs the port in the 500 ms before the first restart attempt.
    await waitFor(() => !isAlive(killed), 2000);
    const squatter = net.createServer();
    await new Promise<void>((resolve, reject) => squatter.once('error', reject).listen(port, '127.0.0.1', () => resolve()));
    await waitFor(() => logs.lines.filter((l) => l.message.startsWith('restarting nats-server failed')).length >= 2, 10_000);
    const delays = logs.lines.filter((l) => l.message.startsWith('restarting nats-server failed')).map((l) => l.inMs as number);
    expect(delays.slice(0, 2)).toEqual([1000, 2000]);
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
    await waitFor(() => server.restarts === 1, 10_000);
    await waitFor(() => handle.connected(), 10_000);
    expect((await publishDocument(handle, 'acme', doc('back'))).duplicate).toBe(false);
  });

  it('does not restart the child after stop(), even when stop() comes during the restart delay', async () => {
    const logs = captureLogs();
    const { server, handle, port } = await start(logs, { restartDelayMs: 500 });
    await handle.drain();
    const killed = server.pid;
    process.kill(killed, 'SIGKILL');
    await waitFor(() => logs.lines.some((l) => l.message.includes('exited unexpectedly')), 2000);
    await server.stop();
    await new Promise((r) => setTimeout(r, 1000));
    expect(server.restarts).toBe(0);
    expect(await isPortOpen('127.0.0.1', port)).toBe(false);
    expect(logs.lines.some((l) => l.message === 'restarted nats-server')).toBe(false);
  });

  it('a plain stop() is not a crash: nothing restarts and nothing is logged as an error', async () => {
    const logs = captureLogs();
    const { server, handle, port } = await start(logs);
    const pid = server.pid;
    await handle.drain();
    await server.stop();
    await new Promise((r) => setTimeout(r, 500));
    expect(isAlive(pid)).toBe(false);
    expect(await isPortOpen('127.0.0.1', port)).toBe(false);
    expect(logs.lines.filter((l) => l.level === 'error')).toEqual([]);
  });
});

describe('watchJetStream', () => {
  it('restarts a local nats-server whose JetStream stops answering (hung: SIGSTOP), and reports the silence meanwhile', async () => {
    const logs = captureLogs();
    const { server, handle } = await start(logs);
    const before = await publishDocument(handle, 'acme', doc('before'));
    const watch = watchJetStream(handle, { logger: logs.logger, intervalMs: 200, timeoutMs: 300, restartAfterMs: 1500, restart: (reason) => server.restart(reason) });
    cleanups.push(async () => watch.stop());
    const hung = server.pid;
    await hangProcess(hung);
    cleanups.push(async () => void (isAlive(hung) && process.kill(hung, 'SIGKILL')));
    await waitFor(() => watch.silentForMs() > 500, 5_000);
    await waitFor(() => server.pid !== hung, 10_000);
    expect(isAlive(hung)).toBe(false); // SIGKILL ends even a stopped process
    await waitFor(() => handle.connected() && watch.silentForMs() === 0, 20_000);
    // The restarted server kept the store: old events are there and new ones are stored.
    const after = await publishDocument(handle, 'acme', doc('after'));
    expect(after.seq).toBe(before.seq + 1);
    expect(server.restarts).toBe(1);
    // JetStream is bounded by the disk, not by 75% of what was free at each start (a restart on a nearly full disk).
    const config = await readFile(path.join(server.dataDir, 'nats-server.conf'), 'utf8');
    expect(config).toContain(`max_file_store: ${statfsSync(server.dataDir).blocks * statfsSync(server.dataDir).bsize}`);
    const messages = logs.lines.map((l) => [l.level, l.message]);
    expect(messages).toContainEqual(['error', 'JetStream on the local nats-server stopped answering; restarting it (nats-server 2.9 does so after a write to a full disk fails)']);
    expect(messages).toContainEqual(['warn', 'restarting nats-server']);
    expect(messages).toContainEqual(['info', 'JetStream answers again']);
    expect(messages).not.toContainEqual(['error', 'nats-server exited unexpectedly; restarting it']);
  }, 40_000);

  it('restarts a silent server as soon as its store disk, full meanwhile, has room again, not a minute into the silence', async () => {
    const logs = captureLogs();
    const { server, handle } = await start(logs);
    let full = true;
    const readDisk = () => ({ size: 1_000_000, free: full ? 0 : 500_000 });
    const watch = watchJetStream(handle, {
      logger: logs.logger,
      intervalMs: 200,
      timeoutMs: 300,
      restartAfterMs: 120_000,
      roomCheckMs: 50,
      restart: (reason) => server.restart(reason),
      storeDir: server.dataDir,
      readDisk,
    });
    cleanups.push(async () => watch.stop());
    const hung = server.pid;
    await hangProcess(hung);
    cleanups.push(async () => void (isAlive(hung) && process.kill(hung, 'SIGKILL')));
    // While the disk is full nothing is restarted (JetStream would start without room for its streams), and it says why.
    await waitFor(() => logs.lines.some((l) => l.message.includes('the disk holding its store is full')), 5_000);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(server.pid).toBe(hung);
    expect(server.restarts).toBe(0);
    full = false;
    const freedAt = Date.now();
    await waitFor(() => server.pid !== hung, 10_000);
    expect(Date.now() - freedAt).toBeLessThan(5_000); // the room check, not the 120 s silence
    await waitFor(() => handle.connected() && watch.silentForMs() === 0, 20_000);
    expect(server.restarts).toBe(1);
    expect(logs.lines.map((l) => [l.level, l.message])).toContainEqual([
      'error',
      "the disk holding the local nats-server's store has room again after it filled up and JetStream stopped answering; restarting it",
    ]);
  }, 40_000);

  it('asked between its probes, a JetStream that does not answer starts the silence at once, and one that answers ends it', async () => {
    const logs = captureLogs();
    const { server, handle } = await start(logs);
    const watch = watchJetStream(handle, { logger: logs.logger, intervalMs: 60_000, timeoutMs: 300 });
    cleanups.push(async () => watch.stop());
    expect(await watch.answersNow(300)).toBe(true);
    expect(watch.silentForMs()).toBe(0);
    await hangProcess(server.pid);
    let stopped = true;
    cleanups.push(async () => void (stopped && process.kill(server.pid, 'SIGCONT')));
    expect(await watch.answersNow(300)).toBe(false);
    expect(watch.silentForMs()).toBeGreaterThan(0); // no probe ran (60 s apart): the question itself counts
    process.kill(server.pid, 'SIGCONT');
    stopped = false;
    await waitFor(() => watch.answersNow(), 20_000);
    expect(watch.silentForMs()).toBe(0);
    // A publish that went unconfirmed: silent from that moment (no probe runs here), until JetStream answers.
    await hangProcess(server.pid);
    stopped = true;
    watch.suspect();
    await new Promise((r) => setTimeout(r, 500));
    expect(watch.silentForMs()).toBeGreaterThanOrEqual(500);
    process.kill(server.pid, 'SIGCONT');
    stopped = false;
    await waitFor(() => watch.answersNow(), 20_000);
    expect(watch.silentForMs()).toBe(0);
  }, 40_000);

  it('without a restart (a server it does not run) says once that JetStream is silent, and when it answers again', async () => {
    const logs = captureLogs();
    const { server, handle } = await start(logs);
    const watch = watchJetStream(handle, { logger: logs.logger, intervalMs: 200, timeoutMs: 300, restartAfterMs: 1000 });
    cleanups.push(async () => watch.stop());
    await hangProcess(server.pid);
    await new Promise((r) => setTimeout(r, 2_500));
    const silent = logs.lines.filter((l) => l.message.startsWith('JetStream is not answering'));
    expect(silent).toHaveLength(1);
    expect(silent[0]).toMatchObject({ level: 'error', message: expect.stringContaining('check the nats-server (its log, its disk) and restart it') });
    // Asked now (as the API does before a publish while silent): no answer within its timeout, and concurrent askers share the question.
    const asked = Date.now();
    expect(await Promise.all([watch.answersNow(300), watch.answersNow(300)])).toEqual([false, false]);
    expect(Date.now() - asked).toBeLessThan(1_500);
    expect(watch.silentForMs()).toBeGreaterThan(0);
    process.kill(server.pid, 'SIGCONT');
    // An answer ends the silence at once, without waiting for the next probe.
    await waitFor(() => watch.answersNow(), 20_000);
    expect(watch.silentForMs()).toBe(0);
    expect(logs.lines.map((l) => l.message)).toContain('JetStream answers again');
  }, 40_000);
});

describe('draining a connection to a server that stopped answering', () => {
  it('closes it after the drain timeout instead of waiting forever, saying so', async () => {
    const logs = captureLogs();
    const { server } = await start(logs);
    const handle = await connectNats({ url: server.url, name: 'drain-test', logger: logs.logger, drainTimeoutMs: 1_000 });
    await handle.js.publish('docs.acme.api.x', new Uint8Array(1)).catch(() => undefined);
    const hung = server.pid;
    await hangProcess(hung);
    cleanups.push(async () => void (isAlive(hung) && process.kill(hung, 'SIGCONT')));
    const started = Date.now();
    await handle.drain();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(handle.nc.isClosed()).toBe(true);
    expect(logs.lines).toContainEqual(expect.objectContaining({ level: 'warn', message: expect.stringContaining('draining the NATS connection did not finish; closing it') }));
  }, 20_000);
});

describe('freePort', () => {
  it('gives ports that can be listened on, below the kernel ephemeral range where there is one', async () => {
    const range = await import('node:fs').then((fs) => fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).catch(() => undefined);
    const ephemeralStart = range === undefined ? undefined : Number(range.trim().split(/\s+/)[0]);
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    for (const port of ports) {
      if (ephemeralStart !== undefined) expect(port).toBeLessThan(ephemeralStart);
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => resolve());
      });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
