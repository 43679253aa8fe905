// Lock files: one node per data dir, one process per generation being built; a SIGKILLed holder leaves a stale, harmless one.
import { randomUUID } from 'node:crypto';
import { link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, UnavailableError } from './errors.ts';
import { isProcessRunning } from './processes.ts';

export interface DataDirLock {
  release(): Promise<void>;
}

/** The live spanda process a lock file's text names; undefined for this process, a dead one, or text that names none. */
async function liveHolder(text: string): Promise<number | undefined> {
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  return (await isProcessRunning(pid, 'spanda')) ? pid : undefined;
}

/** The live spanda process (not this one) holding lock file `file`, if any. */
export async function lockHolder(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : liveHolder(text);
}

const isCode = (err: unknown, code: string): boolean => (err as NodeJS.ErrnoException | null)?.code === code;

/**
 * Takes `file` for this process, or throws `refuse(pid)` while a live spanda process holds it. The name is taken with
 * link(2) from a file already holding this pid, so it never exists half-written and two processes can never both take
 * it; a stale one is first renamed aside (one process wins that rename) and put back if it turns out to be fresh.
 */
async function takeLock(file: string, refuse: (pid: number) => Error): Promise<DataDirLock> {
  await mkdir(path.dirname(file), { recursive: true });
  const mine = `${process.pid}\n`;
  const unique = `${process.pid}-${randomUUID().slice(0, 8)}`;
  const draft = `${file}.${unique}.new`;
  try {
    await writeFile(draft, mine);
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        await link(draft, file);
        return {
          release: async () => {
            const current = await readFile(file, 'utf8').catch(() => '');
            if (current === mine) await rm(file, { force: true });
          },
        };
      } catch (err) {
        if (!isCode(err, 'EEXIST')) throw err;
      }
      const seen = await readFile(file, 'utf8').catch(() => undefined);
      if (seen === undefined) continue; // released meanwhile
      const holder = await liveHolder(seen);
      if (holder !== undefined) throw refuse(holder);
      const aside = `${file}.${unique}.stale`;
      try {
        await rename(file, aside);
      } catch (err) {
        if (isCode(err, 'ENOENT')) continue; // another process moved it first
        throw err;
      }
      const moved = await readFile(aside, 'utf8').catch(() => '');
      // Taken by someone else between our read and the rename: theirs goes back (unless yet another took the name).
      if (moved !== seen) await link(aside, file).catch(() => undefined);
      await rm(aside, { force: true });
    }
    throw new UnavailableError(`could not take the lock file ${file}: other processes kept taking it; retry`);
  } finally {
    await rm(draft, { force: true });
  }
}

/** Takes a lock file (e.g. one generation being built) for this process; fails naming the live holder, takes over a stale one. */
export function lockFile(file: string, what: string): Promise<DataDirLock> {
  return takeLock(file, (pid) => new ConfigError(`${what} is held by another spanda process (pid ${pid}); wait for it or stop it`));
}

/** Takes the data dir for this process; fails with the holder's pid if a live node already has it, takes over a stale lock. */
export function lockDataDir(dataDir: string): Promise<DataDirLock> {
  return takeLock(
    path.join(dataDir, 'spanda.pid'),
    (pid) => new ConfigError(`another spanda node (pid ${pid}) is running on data dir ${dataDir}; stop it first or use another --data-dir`),
  );
}
