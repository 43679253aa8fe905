// A SQLite projection file that no longer opens (damaged on disk) is set aside and built again from the log.
import { rename } from 'node:fs/promises';
import { errorMessage } from '../../../lib/errors.ts';
import type { Logger } from '../../../lib/log.ts';

/** SQLite's own words for a file that is not a sound database (SQLITE_CORRUPT, SQLITE_NOTADB), as the worker passes them on. */
export function isDamagedDatabase(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB')) return true;
  return /database disk image is malformed|file is not a database/i.test(errorMessage(err));
}

/**
 * Opens a projection's SQLite file with `open`; when SQLite finds it damaged, moves it (and its -wal and -shm) aside as
 * `<file>.damaged-<time>` and opens a new, empty one, which its projector fills from the log like a deleted file. Only
 * for the process that writes the file (it holds the generation's lock): a reader must not move a writer's file.
 */
export async function openSettingAsideDamaged<T>(file: string, open: () => Promise<T>, logger: Logger): Promise<T> {
  try {
    return await open();
  } catch (err) {
    if (!isDamagedDatabase(err)) throw err;
    await setAsideDamaged(file, err, logger);
    return open();
  }
}

/**
 * Moves a damaged projection file (and its -wal and -shm) aside as `<file>.damaged-<time>`, so the next open starts an
 * empty one that its projector fills from the log. The caller holds the generation's lock and has closed the file.
 */
export async function setAsideDamaged(file: string, cause: unknown, logger: Logger): Promise<void> {
  const aside = `${file}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  for (const suffix of ['', '-wal', '-shm']) {
    await rename(`${file}${suffix}`, `${aside}${suffix}`).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }
  logger.error('a projection store file was damaged and is rebuilt from the log; until it catches up, queries see part of the data (GET /readyz shows how far it is)', {
    file,
    error: errorMessage(cause),
    setAsideAs: aside,
    next: 'delete the set-aside file once you no longer need it for inspection',
  });
}
