// Chaos plumbing: spanda processes (`up`, `run <roles>`) and external nats-servers as children that can be SIGKILLed and started again.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isAlive } from '../../../lib/processes.ts';
import { freePort, startNatsServer, type NatsServerProcess } from '../../../streams/server.ts';
import { REPO_ROOT, sleep } from '../../lib/common.ts';
import type { Scope } from './scope.ts';

const BIN = path.join(REPO_ROOT, 'bin', 'spanda.js');

/** One spanda process as the chaos scripts drive it; `restart` starts the same command again (same data dir and port). */
export interface SpandaProcess {
  readonly name: string;
  /** The pid of the current child (0 before the first start). */
  readonly pid: number;
  /** The API's base URL, or '' when the process runs no api role. */
  readonly api: string;
  readonly running: boolean;
  /** How many times it was started. */
  readonly starts: number;
  /** The output of the current child (stdout and stderr, last 64 KB). */
  output(): string;
  /** Sends `signal` and waits until the child has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  restart(): Promise<void>;
}

export interface SpandaSpec {
  readonly name: string;
  /** `['up', ...flags]` or `['run', 'chunker', ...flags]`; `--json` is added. */
  readonly args: readonly string[];
  readonly env?: Record<string, string>;
  readonly startTimeoutMs?: number;
}

const exitOf = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

/** Starts a spanda command and resolves once it printed its JSON banner; every child is killed at the end of the run. */
export async function startSpanda(scope: Scope, spec: SpandaSpec): Promise<SpandaProcess> {
  let child: ChildProcess | undefined;
  let out = '';
  let api = '';
  let starts = 0;
  const start = (): Promise<void> => {
    out = '';
    const c = spawn(process.execPath, [BIN, ...spec.args, '--json'], {
      cwd: REPO_ROOT,
      env: { ...process.env, SPANDA_LOG_FORMAT: 'json', ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    starts++;
    const append = (d: Buffer) => {
      out = (out + d.toString()).slice(-65_536);
    };
    c.stdout?.on('data', append);
    c.stderr?.on('data', append);
    const timeoutMs = spec.startTimeoutMs ?? 120_000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        c.kill('SIGKILL');
        reject(new Error(`${spec.name} did not start within ${timeoutMs / 1000} s:\n${out.slice(-3000)}`));
      }, timeoutMs);
      const onData = () => {
        const line = out.split('\n').find((l) => l.startsWith('{"status":"up"') || l.startsWith('{"status":"running"'));
        if (!line) return;
        clearTimeout(timer);
        c.stdout?.off('data', onData);
        c.off('exit', onExit);
        api = ((JSON.parse(line) as { api?: string | null }).api ?? '') || '';
        resolve();
      };
      const onExit = (code: number | null) => {
        clearTimeout(timer);
        reject(new Error(`${spec.name} exited with ${code} before it started:\n${out.slice(-3000)}`));
      };
      c.stdout?.on('data', onData);
      c.once('exit', onExit);
    });
  };
  const kill = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = exitOf(c);
    c.kill(signal);
    const timer = signal === 'SIGKILL' ? undefined : setTimeout(() => c.kill('SIGKILL'), 20_000);
    await gone;
    if (timer) clearTimeout(timer);
  };
  scope.add(() => kill('SIGTERM'));
  await start();
  return {
    name: spec.name,
    get pid() {
      return child?.pid ?? 0;
    },
    get api() {
      return api;
    },
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    get starts() {
      return starts;
    },
    output: () => out,
    kill,
    restart: async () => {
      await kill('SIGKILL');
      await start();
    },
  };
}

/** `spanda up` on a data dir with the hash embedder and no sample corpus; its nats-server child is stopped at the end too. */
export async function startUp(scope: Scope, name: string, dataDir: string, options: { port?: number; natsPort?: number; env?: Record<string, string> } = {}): Promise<SpandaProcess> {
  const port = options.port ?? (await freePort());
  const natsPort = options.natsPort ?? (await freePort());
  scope.add(async () => {
    // A SIGKILLed `spanda up` leaves its nats-server child behind (a new `up` on the data dir stops it; at the end we do).
    const pid = await natsChildPid(dataDir);
    if (pid !== undefined && isAlive(pid)) process.kill(pid, 'SIGKILL');
  });
  return startSpanda(scope, {
    name,
    args: ['up', '--port', String(port), '--nats-url', `nats://127.0.0.1:${natsPort}`, '--data-dir', dataDir, '--embedder', 'hash', '--no-sample'],
    ...(options.env ? { env: options.env } : {}),
  });
}

/** `spanda run <roles>` against an existing NATS, with its own data dir and a free port. */
export async function startRoles(scope: Scope, roles: readonly string[], natsUrl: string, dataDir: string, env?: Record<string, string>): Promise<SpandaProcess> {
  // Every role listens on --port: the API, or probes and /metrics for the others.
  const port = ['--port', String(await freePort())];
  return startSpanda(scope, {
    name: roles.join('+'),
    args: ['run', ...roles, '--nats-url', natsUrl, '--data-dir', dataDir, '--embedder', 'hash', ...port],
    ...(env ? { env } : {}),
  });
}

/** The pid of the nats-server child of `spanda up` on `dataDir`, from its pid file. */
export async function natsChildPid(dataDir: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(path.join(dataDir, 'nats', 'nats-server.pid'), 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** A nats-server of the chaos run's own (not a child of spanda) that can be SIGKILLed and started again on the same store and port. */
export interface ExternalNats {
  readonly url: string;
  readonly pid: number;
  readonly running: boolean;
  /** SIGKILL, and wait until it has exited. */
  kill(): Promise<void>;
  /** Starts it again on the same data dir and port. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startExternalNats(scope: Scope, dataDir: string): Promise<ExternalNats> {
  const port = await freePort();
  let server: NatsServerProcess | undefined;
  let running = false;
  const start = async () => {
    // The port was just freed by the killed server; a restart may race the kernel for a moment.
    for (let attempt = 1; ; attempt++) {
      try {
        server = await startNatsServer({ dataDir, port });
        running = true;
        return;
      } catch (err) {
        if (attempt >= 20) throw err;
        await sleep(250);
      }
    }
  };
  const stop = async () => {
    running = false;
    await server?.stop();
  };
  scope.add(stop);
  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    get pid() {
      return server?.pid ?? 0;
    },
    get running() {
      return running;
    },
    kill: async () => {
      if (!server || !running) return;
      running = false;
      process.kill(server.pid, 'SIGKILL');
      await server.exited;
    },
    start,
    stop,
  };
}

/** Resident set size of a process in MB (from /proc; undefined when it is gone or there is no /proc). */
export async function rssMb(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
    return kb === undefined ? undefined : Math.round((Number(kb) / 1024) * 10) / 10;
  } catch {
    return undefined;
  }
}
