// Runs a local nats-server child process with JetStream in a data dir; finds the binary, clears leftovers, restarts it if it dies.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { ConfigError, errorMessage } from '../lib/errors.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { isAlive, isProcessRunning } from '../lib/processes.ts';
import { diskSpace } from '../lib/disk-space.ts';

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

/** How a nats-server child ended. */
export interface NatsServerExit {
  readonly pid: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** True when stop() asked for it; false when it died on its own (crash, OOM killer, a stray kill). */
  readonly expected: boolean;
  /** The last lines the server wrote to stderr. */
  readonly logTail: string;
}

export interface NatsServerProcess {
  readonly url: string;
  readonly pid: number;
  readonly dataDir: string;
  /** Resolves when the child has exited, for whatever reason. */
  readonly exited: Promise<NatsServerExit>;
  /** Graceful stop (SIGTERM, then SIGKILL after a timeout). */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would end it (a supervisor restarts it): for a server that no longer answers. */
  kill(): void;
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

/** Listens on `port` of 127.0.0.1 (0: one the kernel picks) and closes again; the port it got, or undefined when taken. */
function probePort(port: number): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' || err.code === 'EACCES' ? resolve(undefined) : reject(err)));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const got = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(got));
    });
  });
}

/** The first port of the kernel's ephemeral range (Linux), which outgoing connections take their source ports from. */
function ephemeralRangeStart(): number | undefined {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) ? low : undefined;
  } catch {
    return undefined;
  }
}

const LOWEST_PICKED_PORT = 10_000;

/**
 * A TCP port free on 127.0.0.1 now, for a server the caller starts next. It is free when picked, not when bound, so it
 * is picked below the kernel's ephemeral range where it can: a port the kernel hands out (to listen(0) or as the source
 * port of any outgoing connection) may be taken again in between, which failed a CI run with "port … is in use". Ports
 * in use are skipped; elsewhere (no range known) the kernel picks one.
 */
export async function freePort(): Promise<number> {
  const ephemeral = ephemeralRangeStart();
  if (ephemeral !== undefined && ephemeral - LOWEST_PICKED_PORT >= 1000) {
    for (let attempt = 0; attempt < 20; attempt++) {
      const port = await probePort(LOWEST_PICKED_PORT + Math.floor(Math.random() * (ephemeral - LOWEST_PICKED_PORT)));
      if (port !== undefined) return port;
    }
  }
  const port = await probePort(0);
  if (port === undefined) throw new Error('no free TCP port on 127.0.0.1');
  return port;
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
  // Without max_file_store, nats-server gives JetStream 75% of the space free when it starts: a restart while the
  // disk is nearly full (the SQLite projections share it) then caps the streams near their size, and every publish
  // fails with "insufficient resources" until the next restart, however much space is freed meanwhile. The disk's
  // own size bounds it instead; the data dir's free space is watched and alerted on (lib/disk-space.ts).
  const disk = diskSpace(storeDir);
  return [
    '# Written by spanda up; edit the flags of `spanda up` instead.',
    `listen: "${host}:${options.port}"`,
    `max_payload: ${options.maxPayloadBytes ?? 8 * 1024 * 1024}`,
    `pid_file: ${JSON.stringify(pidFile)}`,
    `jetstream {`,
    `  store_dir: ${JSON.stringify(storeDir)}`,
    ...(disk && disk.size > 0 ? [`  max_file_store: ${disk.size}`] : []),
    `}`,
    '',
  ].join('\n');
}

/** Children still running, stopped if this process exits without stopping them (say, on a second Ctrl-C). */
const liveChildren = new Set<ChildProcess>();
let exitHooked = false;

function ensureExitHook(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const child of liveChildren) child.kill('SIGTERM');
  });
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
  // Its own process group: a Ctrl-C in the terminal reaches only us, and we stop the child in order (connection first)
  // instead of it dying under us and looking like a crash to the supervisor.
  const child: ChildProcess = spawn(binary, ['-c', configFile], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  liveChildren.add(child);
  ensureExitHook();
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString('utf8')).slice(-8000);
  });
  const tail = () => log.trim().split('\n').slice(-10).join('\n');
  let exited = false;
  let stopRequested = false;
  const exit = new Promise<NatsServerExit>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = true;
      liveChildren.delete(child);
      resolve({ pid: child.pid ?? 0, code, signal, expected: stopRequested, logTail: tail() });
    }),
  );
  const ready = await waitFor(async () => exited || (await isPortOpen(host, options.port)), 20_000, 50);
  if (exited || !ready || child.pid === undefined) {
    stopRequested = true;
    child.kill('SIGKILL');
    throw new ConfigError(`nats-server did not start on ${host}:${options.port}:\n${tail()}`);
  }
  const pid = child.pid;
  let stopping: Promise<void> | undefined;
  return {
    url: `nats://${host}:${options.port}`,
    pid,
    dataDir,
    exited: exit,
    kill: () => {
      if (!exited) child.kill('SIGKILL');
    },
    stop: () => {
      stopRequested = true;
      stopping ??= (async () => {
        if (exited) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exit;
        clearTimeout(timer);
        await rm(pidFile, { force: true });
      })();
      return stopping;
    },
  };
}

export interface SupervisorOptions {
  readonly logger?: Logger;
  /** First delay before a restart; doubled after each failed attempt. Default 200 ms. */
  readonly restartDelayMs?: number;
  /** Longest delay between restart attempts. Default 5 s. */
  readonly maxRestartDelayMs?: number;
}

export interface SupervisedNatsServer {
  readonly url: string;
  readonly dataDir: string;
  /** The pid of the current child (changes with each restart). */
  readonly pid: number;
  /** How many times the child was restarted after dying on its own. */
  readonly restarts: number;
  /** Stops the child for good: no restart after this, even if a restart was under way. */
  stop(): Promise<void>;
  /** Kills the child (it is not answering: SIGTERM would not end it either) so that it is restarted; `reason` is logged. */
  restart(reason: string): void;
}

/** A server that ran this long before dying was healthy: the next restart starts again from the first delay. */
const HEALTHY_UPTIME_MS = 30_000;

/**
 * Starts nats-server and restarts it on the same data dir and port whenever it exits without stop() being called,
 * with a doubling delay while restarts keep failing. Clients reconnect on their own; durable consumers and streams
 * survive because the store dir is the same.
 */
export async function superviseNatsServer(options: NatsServerOptions, supervisor: SupervisorOptions = {}): Promise<SupervisedNatsServer> {
  const log = supervisor.logger ?? silentLogger;
  const firstDelay = supervisor.restartDelayMs ?? 200;
  const maxDelay = supervisor.maxRestartDelayMs ?? 5000;
  let current = await startNatsServer(options);
  let startedAt = Date.now();
  let stopped = false;
  let restarts = 0;
  let delay = firstDelay;
  let cancelWait: (() => void) | undefined;
  let restartReason: string | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      cancelWait = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  async function watch(): Promise<void> {
    while (!stopped) {
      const exit = await current.exited;
      if (stopped || exit.expected) return;
      if (Date.now() - startedAt >= HEALTHY_UPTIME_MS || restartReason !== undefined) delay = firstDelay;
      const downSince = Date.now();
      if (restartReason !== undefined) log.warn('restarting nats-server', { pid: exit.pid, reason: restartReason, url: current.url });
      else {
        log.error('nats-server exited unexpectedly; restarting it', {
          pid: exit.pid,
          code: exit.code ?? undefined,
          signal: exit.signal ?? undefined,
          url: current.url,
          log: exit.logTail || undefined,
        });
      }
      restartReason = undefined;
      for (let attempt = 1; !stopped; attempt++) {
        await sleep(delay);
        if (stopped) return;
        try {
          const next = await startNatsServer(options);
          // stop() ran while this one was starting: it must not outlive the supervisor.
          if (stopped) return void (await next.stop());
          current = next;
          startedAt = Date.now();
          restarts++;
          log.info('restarted nats-server', { pid: next.pid, url: next.url, attempt, downMs: Date.now() - downSince });
          break;
        } catch (err) {
          log.error('restarting nats-server failed; trying again', { attempt, inMs: Math.min(delay * 2, maxDelay), error: errorMessage(err) });
        } finally {
          delay = Math.min(delay * 2, maxDelay);
        }
      }
    }
  }

  const watching = watch().catch((err: unknown) => log.error('nats-server supervisor stopped', { error: errorMessage(err) }));
  let stopping: Promise<void> | undefined;
  return {
    url: current.url,
    dataDir: current.dataDir,
    get pid() {
      return current.pid;
    },
    get restarts() {
      return restarts;
    },
    restart: (reason) => {
      if (stopped) return;
      restartReason = reason;
      current.kill();
    },
    stop: () => {
      stopping ??= (async () => {
        stopped = true;
        cancelWait?.();
        await current.stop();
        await watching;
        // A start under way when stop() was called stops its own server (see watch); wait for that too.
        await current.stop();
      })();
      return stopping;
    },
  };
}
