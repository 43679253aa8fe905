// The indexing catalog in SQLite: one row per fact (a version, a stage's part of a version), keyed by its identity.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { UnavailableError } from '../../../lib/errors.ts';
import { catalogDigest, ErasureMarks, erasuresIn, factIdentity, factOf, lineageFromPage, lineageOf, type CatalogFact, type CatalogStore, type DocumentLineage, type LineagePage } from '../../catalog.ts';
import type { CatalogOp } from '../../indexing.ts';
import type { DocumentRef, StoreBatch } from '../../store.ts';

export const CATALOG_SCHEMA_VERSION = 2;

const DDL = `
CREATE TABLE IF NOT EXISTS facts (
  identity TEXT PRIMARY KEY, tenant TEXT NOT NULL, source TEXT NOT NULL, doc_id TEXT NOT NULL, fact TEXT NOT NULL) STRICT;
CREATE INDEX IF NOT EXISTS facts_by_document ON facts (tenant, source, doc_id);
CREATE TABLE IF NOT EXISTS checkpoints (key TEXT PRIMARY KEY, seq INTEGER NOT NULL) STRICT;
`;

/**
 * Nothing reads a catalog file whole when it opens, so a damaged page would surface only when a batch touches it, as
 * an error every retry repeats. A quick check at open (about 0.2 s for 20 MB) finds it while the file can still be set
 * aside and projected again (projections/stores/sqlite/damaged-file.ts).
 */
function checkSound(db: Database.Database): void {
  const problems = db.pragma('quick_check(3)', { simple: false }) as Array<{ quick_check: string }>;
  const found = problems.map((p) => p.quick_check).filter((p) => p !== 'ok');
  if (found.length > 0) {
    db.close();
    throw Object.assign(new Error(`database disk image is malformed (quick_check: ${found.join('; ').replace(/\s+/g, ' ').slice(0, 500)})`), { code: 'SQLITE_CORRUPT' });
  }
}

export class SqliteCatalogStore implements CatalogStore {
  private readonly db: Database.Database;
  private readonly writeBatch: (batch: StoreBatch<CatalogOp>, erasures: ErasureMarks) => void;
  private erasures = new ErasureMarks();
  private closed = false;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    if (path !== ':memory:') checkSound(this.db);
    this.db.exec(DDL);
    const upsert = this.db.prepare('INSERT OR REPLACE INTO facts (identity, tenant, source, doc_id, fact) VALUES (?, ?, ?, ?, ?)');
    const forget = this.db.prepare(
      `DELETE FROM facts WHERE tenant = ? AND source = ? AND doc_id = ? AND json_extract(fact, '$[0]') != 'erased' AND json_extract(fact, '$[4]') < ?`,
    );
    const checkpoint = this.db.prepare('INSERT INTO checkpoints (key, seq) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET seq = max(seq, excluded.seq)');
    // Erasures are few (one per erased document): their marks are held in memory, read once through the primary key.
    const erasures = this.db.prepare<[], string>(`SELECT fact FROM facts WHERE identity >= '["erased",' AND identity < '["erased",~'`).pluck().all();
    for (const fact of erasures) this.erasures.note(JSON.parse(fact) as CatalogFact);
    this.writeBatch = this.db.transaction((batch: StoreBatch<CatalogOp>, erasures: ErasureMarks) => {
      for (const op of batch.ops) {
        const fact = factOf(op);
        if (erasures.erases(fact)) continue; // a version erased from the log, read late
        upsert.run(factIdentity(fact), op.tenant, op.source, op.docId, JSON.stringify(fact));
        if (erasures.note(fact)) forget.run(op.tenant, op.source, op.docId, BigInt(op.docSeq));
      }
      for (const [key, seq] of Object.entries(batch.checkpoints)) checkpoint.run(key, BigInt(seq));
    }).immediate;
  }

  private open(): void {
    if (this.closed) throw new UnavailableError('the indexing catalog is closed; open it again');
  }

  async apply(batch: StoreBatch<CatalogOp>): Promise<void> {
    this.open();
    // The marks change only with a committed batch: a refused one leaves them as the file has them (copied only when
    // the batch holds an erasure: a tenant's erasure leaves one mark per document).
    const erasures = batch.ops.some((op) => op.kind === 'erased') ? this.erasures.copy() : this.erasures;
    this.writeBatch(batch, erasures);
    this.erasures = erasures;
  }

  private readCheckpoints(): Record<string, number> {
    const rows = this.db.prepare<[], { key: string; seq: number }>('SELECT key, seq FROM checkpoints').all();
    return Object.fromEntries(rows.map((r) => [r.key, r.seq]));
  }

  private readDigest(): string {
    const facts = this.db.prepare<[], string>('SELECT fact FROM facts').pluck().iterate();
    return catalogDigest((function* () {
      for (const fact of facts) yield JSON.parse(fact) as CatalogFact;
    })());
  }

  async checkpoints(): Promise<Record<string, number>> {
    this.open();
    return this.readCheckpoints();
  }

  async digest(): Promise<string> {
    this.open();
    return this.readDigest();
  }

  async snapshot(): Promise<{ checkpoints: Record<string, number>; digest: string }> {
    this.open();
    // One read transaction: consistent while a serving node writes the same file.
    return this.db.transaction(() => ({ checkpoints: this.readCheckpoints(), digest: this.readDigest() }))();
  }

  async lineage(ref: DocumentRef, page: LineagePage = {}): Promise<DocumentLineage | undefined> {
    this.open();
    const key = [ref.tenant, ref.source, ref.docId] as const;
    const parse = (rows: string[]) => rows.map((f) => JSON.parse(f) as CatalogFact);
    if (page.limit === undefined && page.before === undefined) {
      return lineageOf(ref, parse(this.db.prepare<[string, string, string], string>('SELECT fact FROM facts WHERE tenant = ? AND source = ? AND doc_id = ?').pluck().all(...key)));
    }
    // A document can have thousands of versions: the page is chosen here, so only its facts are read and parsed.
    const whole = this.db
      .prepare<[string, string, string], { versions: number; latest: number | null }>(
        `SELECT COUNT(DISTINCT json_extract(fact, '$[4]')) AS versions, MAX(json_extract(fact, '$[4]')) AS latest FROM facts
         WHERE tenant = ? AND source = ? AND doc_id = ? AND json_extract(fact, '$[0]') != 'erased'`,
      )
      .get(...key);
    if (!whole || whole.latest === null) return undefined;
    const seqs = this.db
      .prepare<[string, string, string, number, number], number>(
        `SELECT DISTINCT json_extract(fact, '$[4]') AS seq FROM facts
         WHERE tenant = ? AND source = ? AND doc_id = ? AND json_extract(fact, '$[0]') != 'erased' AND json_extract(fact, '$[4]') < ? ORDER BY seq DESC LIMIT ?`,
      )
      .pluck()
      .all(...key, page.before ?? Number.MAX_SAFE_INTEGER, page.limit ?? -1)
      .reverse();
    const facts = parse(
      this.db
        .prepare<[string, string, string, string], string>(
          `SELECT fact FROM facts WHERE tenant = ? AND source = ? AND doc_id = ? AND json_extract(fact, '$[4]') IN (SELECT value FROM json_each(?))`,
        )
        .pluck()
        .all(...key, JSON.stringify([...seqs, whole.latest])),
    );
    const deleted = facts.some((f) => f[0] === 'version' && f[4] === whole.latest && f[5] === true);
    const erased = parse(
      this.db
        .prepare<[string, string, string], string>(`SELECT fact FROM facts WHERE tenant = ? AND source = ? AND doc_id = ? AND json_extract(fact, '$[0]') = 'erased'`)
        .pluck()
        .all(...key),
    );
    return lineageFromPage(ref, facts, { versionCount: whole.versions, latest: { seq: whole.latest, deleted }, erasures: erasuresIn(erased) }, seqs);
  }

  /** The writer's automatic WAL checkpoint, in pages (see sqlite/wal-checkpointer.ts, which checkpoints from another thread). */
  setAutoCheckpoint(pages: number): void {
    this.open();
    this.db.pragma(`wal_autocheckpoint = ${pages}`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
