// Runs a local nats-server child process with JetStream in a data dir; finds the binary, clears leftovers of a killed run.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { ConfigError } from '../lib/errors.ts';
import { isAlive, isProcessRunning } from '../lib/processes.ts';

export const NATS_INSTALL_HINT =
  'install it with `sudo apt-get install nats-server` (Debian/Ubuntu) or from https://github.com/nats-io/nats-server/releases, ' +
  'set NATS_SERVER_BIN to its path, or point NATS_URL at a running server';

export interface NatsServerOptions {
  /** Directory for the JetStream store, config, pid file and log. */
  readonly dataDir: string;
  readonly host?: string;
  readonly port: number;
  /** Largest message accepted; outputs larger than this are split into parts anyway. */
  readonly maxPayloadBytes?: number;
  readonly binary?: string;
}

export interface NatsServerProcess {
  readonly url: string;
  readonly pid: number;
  readonly dataDir: string;
  /** Graceful stop (SIGTERM, then SIGKILL after a timeout). */
  stop(): Promise<void>;
}

/** Finds nats-server: NATS_SERVER_BIN, then PATH, then the Debian location. Throws ConfigError with the install command. */
export function findNatsServerBinary(explicit?: string): string {
  const candidates = [explicit, process.env.NATS_SERVER_BIN].filter((c): c is string => !!c);
  for (const c of candidates) {
    if (existsSync(c)) return c;
    throw new ConfigError(`nats-server binary not found at ${c}; ${NATS_INSTALL_HINT}`);
  }
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, 'nats-server');
    if (existsSync(candidate)) return candidate;
  }
  throw new ConfigError(`nats-server was not found on PATH; ${NATS_INSTALL_HINT}`);
}

export function isPortOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return true;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return predicate();
}

/** A run killed with SIGKILL leaves its nats-server child behind, holding the store: stop it so we can start cleanly. */
export async function stopLeftoverNatsServer(dataDir: string): Promise<boolean> {
  return stopLeftover(path.join(path.resolve(dataDir), 'nats-server.pid'));
}

/** Stops the process named in a pid file if it is a live nats-server; returns whether one was stopped. */
async function stopLeftover(pidFile: string): Promise<boolean> {
  if (!existsSync(pidFile)) return false;
  const pid = Number((await readFile(pidFile, 'utf8')).trim());
  let stopped = false;
  if (Number.isInteger(pid) && pid > 0 && (await isProcessRunning(pid, 'nats-server'))) {
    process.kill(pid, 'SIGTERM');
    if (!(await waitFor(() => !isAlive(pid), 10_000))) process.kill(pid, 'SIGKILL');
    await waitFor(() => !isAlive(pid), 5_000);
    stopped = true;
  }
  await rm(pidFile, { force: true });
  return stopped;
}

function configText(options: NatsServerOptions, storeDir: string, pidFile: string): string {
  const host = options.host ?? '127.0.0.1';
  return [
    '# Written by spanda up; edit the flags of `spanda up` instead.',
    `listen: "${host}:${options.port}"`,
    `max_payload: ${options.maxPayloadBytes ?? 8 * 1024 * 1024}`,
    `pid_file: ${JSON.stringify(pidFile)}`,
    `jetstream {`,
    `  store_dir: ${JSON.stringify(storeDir)}`,
    `}`,
    '',
  ].join('\n');
}

/** Starts nats-server with JetStream; resolves once it accepts connections, rejects with its log tail if it exits first. */
export async function startNatsServer(options: NatsServerOptions): Promise<NatsServerProcess> {
  const binary = findNatsServerBinary(options.binary);
  const dataDir = path.resolve(options.dataDir);
  const storeDir = path.join(dataDir, 'jetstream');
  const pidFile = path.join(dataDir, 'nats-server.pid');
  const configFile = path.join(dataDir, 'nats-server.conf');
  await mkdir(storeDir, { recursive: true });
  await stopLeftover(pidFile);
  await writeFile(configFile, configText(options, storeDir, pidFile));
  const host = options.host ?? '127.0.0.1';
  if (await isPortOpen(host, options.port)) {
    throw new ConfigError(`port ${options.port} on ${host} is already in use; choose another with --nats-url or stop what listens there`);
  }
  const child: ChildProcess = spawn(binary, ['-c', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString('utf8')).slice(-8000);
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const ready = await waitFor(async () => exited || (await isPortOpen(host, options.port)), 20_000, 50);
  if (exited || !ready || child.pid === undefined) {
    child.kill('SIGKILL');
    throw new ConfigError(`nats-server did not start on ${host}:${options.port}:\n${log.trim().split('\n').slice(-10).join('\n')}`);
  }
  const pid = child.pid;
  let stopping: Promise<void> | undefined;
  return {
    url: `nats://${host}:${options.port}`,
    pid,
    dataDir,
    stop: () => {
      stopping ??= (async () => {
        if (exited) return;
        const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await gone;
        clearTimeout(timer);
        await rm(pidFile, { force: true });
      })();
      return stopping;
    },
  };
}
