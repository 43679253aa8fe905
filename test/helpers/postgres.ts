// Test helper: a private PostgreSQL (wal_level=logical) in a temp dir on a free port, run as the postgres OS user when we are root.
import { execFile, spawnSync } from 'node:child_process';
import { access, chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../streams/server.ts';

const run = promisify(execFile);

export interface TestPostgres {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** Stops the server, keeping its data, until resume(). */
  halt(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
}

/** The directory holding initdb/pg_ctl, found at run time (pg_config, then PATH); undefined when there is none. */
export function postgresBinDir(): string | undefined {
  const fromConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  const candidates = [fromConfig.status === 0 ? fromConfig.stdout.trim() : '', ...(process.env.PATH ?? '').split(path.delimiter)];
  for (const dir of candidates) {
    if (dir === '') continue;
    if (spawnSync(path.join(dir, 'initdb'), ['--version']).status === 0 && spawnSync(path.join(dir, 'pg_ctl'), ['--version']).status === 0) return dir;
  }
  return undefined;
}

/** Why Postgres tests cannot run here, or undefined when they can (use with describe.skipIf and print the reason). */
export function postgresUnavailableReason(): string | undefined {
  if (!postgresBinDir()) return 'PostgreSQL server binaries (initdb, pg_ctl) not found: install PostgreSQL or put its bin directory on PATH';
  if (process.getuid?.() === 0 && spawnSync('id', ['-u', 'postgres']).status !== 0) return 'running as root and there is no "postgres" OS user to run the server as';
  return undefined;
}

function ids(user: string): { uid: number; gid: number } {
  const uid = Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', user], { encoding: 'utf8' }).stdout.trim());
  return { uid, gid };
}

/** Starts a fresh cluster; `stop` removes it. Extra settings go to `postgres -c`. */
export async function startTestPostgres(settings: Record<string, string> = {}): Promise<TestPostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error(postgresUnavailableReason());
  const dir = await mkdtemp(path.join(os.tmpdir(), 'spanda-pg-'));
  const data = path.join(dir, 'data');
  const sockets = path.join(dir, 'sock');
  await mkdir(sockets);
  const asRoot = process.getuid?.() === 0;
  const wrap = (cmd: string, args: string[]): [string, string[]] => (asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);
  if (asRoot) {
    const { uid, gid } = ids('postgres');
    await chown(dir, uid, gid);
    await chown(sockets, uid, gid);
  }
  const port = await freePort();
  const options = {
    wal_level: 'logical',
    max_replication_slots: '4',
    max_wal_senders: '4',
    listen_addresses: '127.0.0.1',
    port: String(port),
    unix_socket_directories: `'${sockets}'`,
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    ...settings,
  };
  const pgctl = path.join(bin, 'pg_ctl');
  const opts = Object.entries(options).map(([k, v]) => `-c ${k}=${v}`).join(' ');
  try {
    await run(...wrap(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']));
    await run(...wrap(pgctl, ['-D', data, '-l', path.join(dir, 'postgres.log'), '-o', opts, '-w', '-t', '60', 'start']));
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    halt: async () => {
      await run(...wrap(pgctl, ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']));
    },
    resume: async () => {
      await run(...wrap(pgctl, ['-D', data, '-l', path.join(dir, 'postgres.log'), '-o', opts, '-w', '-t', '60', 'start']));
    },
    stop: () =>
      (stopping ??= (async () => {
        await access(data)
          .then(() => run(...wrap(pgctl, ['-D', data, '-m', 'immediate', '-w', 'stop'])))
          .catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      })()),
  };
}
