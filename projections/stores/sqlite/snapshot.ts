// A store file's checkpoints and digest read in shares: the store's worker digests some documents while this thread digests the rest.
import Database from 'better-sqlite3';
import { DigestBuilder } from '../../digest.ts';
import type { StoreSnapshot } from '../../store.ts';
import { digestRanges, documentHashes, type DocRange } from './digest.ts';

/** One share of a snapshot: the checkpoints and the hashes of some documents, read in one transaction. */
export interface SnapshotShare {
  readonly checkpoints: Record<string, number>;
  readonly hashes: Array<[string, string]>;
}

export function readCheckpoints(db: Database.Database): Record<string, number> {
  const rows = db.prepare<[], { key: string; seq: number }>('SELECT key, seq FROM checkpoints ORDER BY key').all();
  return Object.fromEntries(rows.map((r) => [r.key, r.seq]));
}

export function snapshotShare(db: Database.Database, range: DocRange): SnapshotShare {
  return db.transaction(() => ({ checkpoints: readCheckpoints(db), hashes: documentHashes(db, range) }))();
}

/** Folds shares into a snapshot; undefined when they were read at different checkpoints (something wrote in between). */
export function mergeShares(shares: readonly SnapshotShare[]): StoreSnapshot | undefined {
  const first = shares[0];
  if (!first) return undefined;
  const at = JSON.stringify(first.checkpoints);
  if (shares.some((s) => JSON.stringify(s.checkpoints) !== at)) return undefined;
  const builder = new DigestBuilder();
  for (const share of shares) for (const [key, hash] of share.hashes) builder.addHash(key, hash);
  return { checkpoints: first.checkpoints, digest: builder.digest(), documents: Object.fromEntries(builder.entries()) };
}

/**
 * The snapshot of the file at `path`, with the digest work split in two: `remote` digests the first share (the store's
 * worker thread, on its own connection) while this thread reads the second through a read-only connection. Both
 * shares must have been read at the same checkpoints, else `whole` computes it in one transaction: the split is for a
 * file nobody writes (a finished build), and stays correct for one being written.
 */
export async function sharedSnapshot(
  path: string,
  remote: (range: DocRange) => Promise<SnapshotShare>,
  whole: () => Promise<StoreSnapshot>,
): Promise<StoreSnapshot> {
  if (path === ':memory:' || path.startsWith('file:')) return whole();
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const ranges = digestRanges(db, 2);
    const [theirs, ours] = ranges;
    if (!theirs || !ours) return await whole();
    const pending = remote(theirs);
    // A rejection of `pending` is handled below; keep Node from reporting it while this thread digests.
    pending.catch(() => undefined);
    const mine = snapshotShare(db, ours);
    return mergeShares([await pending, mine]) ?? (await whole());
  } finally {
    db.close();
  }
}
