// Lock files: one node per data dir, one process per generation being built; a SIGKILLed holder leaves a stale, harmless one.
import { randomUUID } from 'node:crypto';
import { link, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
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

/** A takeover left by a process killed inside it (it lasts microseconds otherwise) is cleared after this long. */
const TAKEOVER_STALE_MS = 2_000;

/**
 * Takes `file` for this process, or throws `refuse(pid)` while a live spanda process holds it. The name is taken with
 * link(2) from a file already holding this pid, so it never exists half-written and only one process can create it. A
 * stale one (its process gone) is removed only inside a takeover (a directory beside it, created by one process at a
 * time) after reading it again there: nobody can replace a file that exists, so what it removes is the stale one, and
 * the processes waiting then race for the name with link(2) again, which one wins.
 */
async function takeLock(file: string, refuse: (pid: number) => Error): Promise<DataDirLock> {
  await mkdir(path.dirname(file), { recursive: true });
  const mine = `${process.pid}\n`;
  const draft = `${file}.${process.pid}-${randomUUID().slice(0, 8)}.new`;
  const takeover = `${file}.takeover`;
  try {
    await writeFile(draft, mine);
    for (let attempt = 0; attempt < 200; attempt++) {
      try {
        await link(draft, file);
        await removeDeadDrafts(file);
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
      try {
        await mkdir(takeover);
      } catch (err) {
        if (!isCode(err, 'EEXIST')) throw err;
        const since = await stat(takeover).then((st) => Date.now() - st.mtimeMs, () => 0);
        if (since > TAKEOVER_STALE_MS) await rm(takeover, { recursive: true, force: true });
        else await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      try {
        if ((await readFile(file, 'utf8').catch(() => undefined)) === seen) await rm(file, { force: true });
      } finally {
        await rm(takeover, { recursive: true, force: true });
      }
    }
    throw new UnavailableError(`could not take the lock file ${file}: other processes kept taking it; retry`);
  } finally {
    await rm(draft, { force: true });
  }
}

/**
 * Drafts of `file` whose process is gone: a SIGKILL between writing a draft and removing it leaves one behind. Only the
 * lock's holder sweeps them, and never the draft of a process still alive (it may be about to link it).
 */
async function removeDeadDrafts(file: string): Promise<void> {
  const prefix = `${path.basename(file)}.`;
  const names = await readdir(path.dirname(file)).catch(() => [] as string[]);
  for (const name of names) {
    const m = name.startsWith(prefix) ? /^(\d+)-[0-9a-f]{8}\.new$/.exec(name.slice(prefix.length)) : null;
    if (!m || Number(m[1]) === process.pid || (await isProcessRunning(Number(m[1]), ''))) continue;
    await rm(path.join(path.dirname(file), name), { force: true });
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
