// One node per data dir: a pid file that a second `spanda up` respects and a SIGKILLed one leaves stale (and harmless).
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from './errors.ts';
import { isProcessRunning } from './processes.ts';

export interface DataDirLock {
  release(): Promise<void>;
}

async function holderOf(file: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(file, 'utf8')).trim());
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
    return (await isProcessRunning(pid, 'spanda')) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Takes a lock file (e.g. one generation being built) for this process; fails naming the live holder, takes over a stale one. */
export async function lockFile(file: string, what: string): Promise<DataDirLock> {
  const holder = await holderOf(file);
  if (holder !== undefined) throw new ConfigError(`${what} is held by another spanda process (pid ${holder}); wait for it or stop it`);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${process.pid}\n`);
  return {
    release: async () => {
      const current = await readFile(file, 'utf8').catch(() => '');
      if (current.trim() === String(process.pid)) await rm(file, { force: true });
    },
  };
}

/** Takes the data dir for this process; fails with the holder's pid if a live node already has it, takes over a stale lock. */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const file = path.join(dataDir, 'spanda.pid');
  const holder = await holderOf(file);
  if (holder !== undefined) {
    throw new ConfigError(`another spanda node (pid ${holder}) is running on data dir ${dataDir}; stop it first or use another --data-dir`);
  }
  await writeFile(file, `${process.pid}\n`);
  return {
    release: async () => {
      const current = await readFile(file, 'utf8').catch(() => '');
      if (current.trim() === String(process.pid)) await rm(file, { force: true });
    },
  };
}
