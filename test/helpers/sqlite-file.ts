// Reads a SQLite file as it stands without its WAL, to see what a checkpoint has copied into it.
import { copyFile, rm } from 'node:fs/promises';
import Database from 'better-sqlite3';

/** Rows of `table` in the main database file alone: a copy of the file without its -wal, opened read-only. */
export async function rowsInFileAlone(path: string, table: string): Promise<number> {
  const copy = `${path}.copy-${process.pid}-${Date.now()}`;
  await copyFile(path, copy);
  try {
    const db = new Database(copy, { readonly: true });
    try {
      return db.prepare(`SELECT count(*) FROM "${table.replaceAll('"', '""')}"`).pluck().get() as number;
    } finally {
      db.close();
    }
  } finally {
    await rm(copy, { force: true });
  }
}

/** Polls rowsInFileAlone every 100 ms until it reaches `expected` or `timeoutMs` passes; returns the last count. */
export async function waitForRowsInFileAlone(path: string, table: string, expected: number, timeoutMs = 5000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await rowsInFileAlone(path, table).catch(() => 0);
    if (rows >= expected || Date.now() >= deadline) return rows;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
