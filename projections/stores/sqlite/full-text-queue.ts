// Full-text rows of a serving store, written to FTS5 in slices after the batches that queued them, never lost to a crash.
import type Database from 'better-sqlite3';
import { ftsTable } from './schema.ts';

/**
 * Most rows one flush writes in its own transaction. FTS5 pays per commit (a new segment) about as much as for 3 rows:
 * measured here on prose chunks, 153 µs a row at 1 row per commit, 45 at 10, 25 at 50, 21 at 500. A slice of 256
 * holds the store's thread ~3-5 ms once its merges are taken out of it (FULL_TEXT_MERGE_PAGES).
 */
export const FULL_TEXT_SLICE_ROWS = 256;

/**
 * FTS5 merges its segments itself as it commits ('automerge'): for every 64 leaf pages written it merges 64 pages per
 * level of the index at once, so one slice in five held the store's thread 20-50 ms (~100k prose chunks written in
 * slices: 70 of 385 over 8 ms, the longest 49 ms), and a query or a batch that arrived meanwhile waited for it. A
 * serving store turns that off and merges in steps of this many pages between requests instead, as many steps after each
 * slice as FULL_TEXT_MERGE_STEPS or until FTS5 says nothing is left to merge: the same merge, split up (19 tasks over
 * 8 ms, the longest 24 ms; 0-13% more time in all). In the freshness benchmark's loaded phases the store's thread ran
 * 116 full-text tasks over 20 ms before, 2 after.
 */
export const FULL_TEXT_MERGE_PAGES = 32;
export const FULL_TEXT_MERGE_STEPS = 8;

/** How long queued rows may wait for a slice to fill before they are flushed anyway. */
export const FULL_TEXT_DELAY_MS = 250;

/**
 * Most rows left queued after a batch: beyond it the batch writes slices itself before it returns. Between two requests
 * the store's thread writes one slice, so a backlog applied in batches of 500 would queue faster than the timer drains
 * it, and the first phrase query after a catch-up would wait for all of it.
 */
export const FULL_TEXT_MAX_QUEUED = 4 * FULL_TEXT_SLICE_ROWS;

/**
 * The queue lives in the store file (table full_text_queue) and is written in the batch's own transaction, so a batch's
 * chunks and the promise to index them commit together: a crash leaves them queued, and the next open flushes them.
 * Rows enter FTS5 oldest first (a document's own rows ahead of the rest when it is replaced or deleted), and a queued
 * row is written before any delete of it, so FTS5 sees the same inserts and deletes as when each batch wrote its own
 * rows: the same totals and bm25() scores (neither depends on the order of inserts).
 */
export class FullTextQueue {
  private readonly enqueue: Database.Statement<[bigint, bigint]>;
  /** The next slice of `limit` rows by tenant: how many rows and the last chunk of each. */
  private readonly sliceByTenant: Database.Statement<[number], { tenant: number; rows: number; last: number }>;
  private readonly dequeueUpTo: Database.Statement<[bigint]>;
  private readonly dequeueDocument: Database.Statement<[bigint]>;
  private readonly sliceInserts = new Map<number, Database.Statement<[bigint, bigint]>>();
  private readonly documentInserts = new Map<number, Database.Statement<[bigint]>>();
  private readonly merges = new Map<number, Database.Statement<[number]>>();
  private readonly totalChanges: Database.Statement<[], number>;
  /** Merge steps owed per tenant's table for the rows written since (a hint: FTS5 decides what is left to merge). */
  private readonly mergesOwed = new Map<number, number>();
  /** Tenants whose table this connection has set to merge only when asked. */
  private readonly configured = new Set<number>();
  /** Rows queued and not yet written, as this connection counts them (the table's count at open, then kept). */
  private queued: number;

  constructor(private readonly db: Database.Database) {
    this.enqueue = db.prepare('INSERT INTO full_text_queue (chunk, tenant) VALUES (?, ?)');
    this.sliceByTenant = db.prepare<[number], { tenant: number; rows: number; last: number }>(
      'SELECT tenant, count(*) AS rows, max(chunk) AS last FROM (SELECT chunk, tenant FROM full_text_queue ORDER BY chunk LIMIT ?) GROUP BY tenant',
    );
    this.dequeueUpTo = db.prepare('DELETE FROM full_text_queue WHERE chunk <= ?');
    this.dequeueDocument = db.prepare('DELETE FROM full_text_queue WHERE chunk IN (SELECT id FROM chunks WHERE doc = ?)');
    this.queued = db.prepare<[], number>('SELECT count(*) FROM full_text_queue').pluck().get() ?? 0;
    this.totalChanges = db.prepare<[], number>('SELECT total_changes()').pluck();
  }

  /** Rows waiting to be written. */
  get size(): number {
    return this.queued;
  }

  /** Queues a chunk's row (inside the caller's transaction); `committed` counts it once that transaction has committed. */
  add(chunk: number, tenant: number): void {
    this.enqueue.run(BigInt(chunk), BigInt(tenant));
  }

  /** Writes the queued rows of one document (inside the caller's transaction), before its rows are deleted; returns how many. */
  flushDocument(tenant: number, doc: number): number {
    const table = this.configure(tenant);
    let insert = this.documentInserts.get(tenant);
    if (!insert) {
      insert = this.db.prepare(
        `INSERT INTO ${table} (rowid, text, title, heading)
         SELECT c.id, c.text, d.title, c.heading FROM chunks c JOIN documents d ON d.id = c.doc
         WHERE c.doc = ? AND c.id IN (SELECT chunk FROM full_text_queue) ORDER BY c.id`,
      );
      this.documentInserts.set(tenant, insert);
    }
    if (insert.run(BigInt(doc)).changes > 0) this.owe(tenant, 1);
    return this.dequeueDocument.run(BigInt(doc)).changes;
  }

  /** Adjusts the count after a committed batch: `added` rows queued, `written` rows flushed by flushDocument. */
  committed(added: number, written: number): void {
    this.queued = Math.max(0, this.queued + added - written);
  }

  /**
   * Writes up to `limit` queued rows, oldest first, in one transaction of its own; returns how many it wrote. The rows
   * go from the chunk rows into FTS5 in one INSERT … SELECT per tenant: their text never becomes a JS string.
   */
  flush(limit = FULL_TEXT_SLICE_ROWS): number {
    const written = this.db.transaction(() => {
      const tenants = this.sliceByTenant.all(limit);
      if (tenants.length === 0) return 0;
      const last = BigInt(Math.max(...tenants.map((t) => t.last)));
      for (const { tenant } of tenants) {
        if (this.sliceInsertOf(tenant).run(BigInt(tenant), last).changes > 0) this.owe(tenant, FULL_TEXT_MERGE_STEPS);
      }
      this.dequeueUpTo.run(last);
      return tenants.reduce((n, t) => n + t.rows, 0);
    }).immediate();
    this.queued = written < limit ? 0 : Math.max(0, this.queued - written);
    return written;
  }

  /** Writes every queued row, a slice per transaction. */
  flushAll(): void {
    while (this.flush() === FULL_TEXT_SLICE_ROWS);
  }

  /** Whether merge steps are owed (mergeStep has work to try). */
  get mergeOwed(): boolean {
    return this.mergesOwed.size > 0;
  }

  /**
   * One step of FTS5's incremental merge (about FULL_TEXT_MERGE_PAGES pages written) on a table owed one, in a
   * transaction of its own. A step that finds nothing to merge, or fails, settles that table's debt; FTS5 still merges
   * at once, whatever is owed, a level that reaches its 'crisismerge' count of segments.
   */
  mergeStep(): void {
    const next = this.mergesOwed.entries().next().value;
    if (!next) return;
    const [tenant, owed] = next;
    const table = this.configure(tenant);
    let merge = this.merges.get(tenant);
    if (!merge) {
      merge = this.db.prepare<[number]>(`INSERT INTO ${table} (${table}, rank) VALUES ('merge', ?)`);
      this.merges.set(tenant, merge);
    }
    const before = this.totalChanges.get() ?? 0;
    try {
      merge.run(FULL_TEXT_MERGE_PAGES);
    } catch (err) {
      // Merging is optional work: a table that cannot merge now must not keep the queue's slices waiting behind it.
      this.mergesOwed.delete(tenant);
      throw err;
    }
    // FTS5's documented test: a merge that wrote nothing changes fewer than 2 rows.
    const merged = (this.totalChanges.get() ?? 0) - before >= 2;
    if (merged && owed > 1) this.mergesOwed.set(tenant, owed - 1);
    else this.mergesOwed.delete(tenant);
  }

  /** After a rollback: a tenant's automerge setting written by the failed batch is gone, so it is written again. */
  forgetConfigured(): void {
    this.configured.clear();
  }

  private owe(tenant: number, steps: number): void {
    this.mergesOwed.set(tenant, Math.min(4 * FULL_TEXT_MERGE_STEPS, (this.mergesOwed.get(tenant) ?? 0) + steps));
  }

  /** A tenant's FTS5 table, its automatic merges turned off (once per connection; the setting is kept in the file). */
  private configure(tenant: number): string {
    const table = ftsTable(tenant);
    if (!this.configured.has(tenant)) {
      this.db.prepare(`INSERT INTO ${table} (${table}, rank) VALUES ('automerge', 0)`).run();
      this.configured.add(tenant);
    }
    return table;
  }

  /** Inserts a tenant's queued rows up to a chunk, oldest first (a chunk gone meanwhile has no row to write). */
  private sliceInsertOf(tenant: number): Database.Statement<[bigint, bigint]> {
    const table = this.configure(tenant);
    let insert = this.sliceInserts.get(tenant);
    if (!insert) {
      insert = this.db.prepare<[bigint, bigint]>(
        `INSERT INTO ${table} (rowid, text, title, heading)
         SELECT c.id, c.text, d.title, c.heading FROM full_text_queue q JOIN chunks c ON c.id = q.chunk JOIN documents d ON d.id = c.doc
         WHERE q.tenant = ? AND q.chunk <= ? ORDER BY q.chunk`,
      );
      this.sliceInserts.set(tenant, insert);
    }
    return insert;
  }
}
