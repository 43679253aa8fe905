// The synchronous SQLite inference store: one better-sqlite3 connection plus the in-memory vector index derived from it.
import type Database from 'better-sqlite3';
import { ConfigError, UnavailableError } from '../../../lib/errors.ts';
import { chunkKey, type Candidate, type CandidateRequest, type ChunkContent, type KeywordRequest, type DocumentRef, type DocumentState, type InferenceStore, type StoreBatch, type StoreSnapshot, type StoreStats } from '../../store.ts';
import { BatchWriter, type AppliedChanges } from './apply.ts';
import { computeDigest, digestWithDocuments, type DocRange } from './digest.ts';
import { DocumentFilterIndex } from './document-filter.ts';
import { readCheckpoints, snapshotShare, type SnapshotShare } from './snapshot.ts';
import { ftsTokenizer } from './fts-tokens.ts';
import { FULL_TEXT_DELAY_MS, FULL_TEXT_MAX_QUEUED, FULL_TEXT_SLICE_ROWS, FullTextQueue } from './full-text-queue.ts';
import { KeywordIndex, type KeywordChange } from './keyword-index.ts';
import { BUSY_TIMEOUT_MS, ftsTotals, openDatabase, type ModelSpec } from './schema.ts';
import type { StoreMemory } from './protocol.ts';
import { Searcher } from './search.ts';
import { VectorIndex, type IndexChange } from './vector-index.ts';

export interface SqliteStoreOptions {
  /** File path of the store (one generation), or ':memory:'. */
  readonly path: string;
  readonly model: ModelSpec;
  /**
   * Rank keyword queries on an in-memory index derived from the chunks (default true): FTS5's BM25 over the same
   * tokens, exhaustive and ~20× cheaper per match than FTS5's bm25() callback; costs memory (see BENCHMARKS.md). It loads
   * after open, between requests (memory().keywordsLoading); FTS5 ranks keyword queries until it has, with the same scores.
   */
  readonly keywordIndex?: boolean;
  /**
   * 'serve' (default) builds the derived in-memory indexes at open and keeps them current. 'build' is for a file that is
   * only written (a replay building a generation) or read whole (its digest): no index is built or kept, and search
   * throws; whoever opens the file to serve builds them from it then, as always. 'digest' is build mode for a throwaway
   * store that is only digested (the log's digest, in memory: projections/log-digest.ts): no full-text rows either,
   * which the digest does not cover, so such a file must never be served.
   */
  readonly mode?: StoreMode;
}

export type StoreMode = 'serve' | 'build' | 'digest';

/** Chunk rows the keyword index takes per timer turn while it loads after open (~25 ms of work), and when it must load at once. */
const KEYWORD_LOAD_PAGE_ROWS = 512;
const KEYWORD_REBUILD_PAGE_ROWS = 4096;

interface KeywordPageRow {
  tenant: string;
  chunk: number;
  doc: number;
  source: string;
  doc_id: string;
  chunk_id: string;
  text: string;
  title: string | null;
  heading: string | null;
}

/** Everything InferenceStore does, synchronously; run it in a worker (see worker-store.ts) to keep queries off the event loop. */
export class SqliteInferenceStore {
  private readonly writer: BatchWriter;
  private readonly searcher: Searcher;
  private readonly index: VectorIndex;
  private readonly keywords: KeywordIndex | undefined;
  /** The live documents of the tenants asked with a filter, by source, id and metadata value. */
  private readonly documents: DocumentFilterIndex;
  /** False in build mode: the in-memory indexes are neither built nor kept. */
  private readonly indexed: boolean;
  private readonly writeBatch: (batch: StoreBatch) => AppliedChanges;
  private closed = false;
  /** Whether a build has switched the file to its rollback journal (see enterBuildJournal). */
  private buildJournal = false;
  /** A 'digest' store: a throwaway file (or memory) whose commits need not survive a crash. */
  private readonly throwaway: boolean;
  /**
   * A serving store with its keyword index queues full-text rows and writes them in slices between requests (see
   * full-text-queue.ts): keyword search reads the in-memory index, and only phrases read FTS5 (flushing it first).
   */
  private readonly fullTextQueue: FullTextQueue | undefined;
  private fullTextTimer: ReturnType<typeof setTimeout> | undefined;
  private fullTextFailure: string | undefined;
  private mergeFailure: string | undefined;
  /**
   * While the keyword index is being loaded after open: the chunk rows up to `after` are in it. Keyword queries are
   * ranked by FTS5 meanwhile (the same scores), and a batch's keyword changes reach the index only for rows up to
   * `after` (the rest are read later, as they are then). See loadKeywordPage.
   */
  private keywordLoad: { after: number; timer: ReturnType<typeof setTimeout> | undefined; failed: string | undefined; warned?: string } | undefined;
  /** Chunk rows after a rowid, in rowid order, with what the keyword index takes of them. */
  private keywordPage: Database.Statement<[bigint, bigint], KeywordPageRow> | undefined;

  private constructor(
    private readonly db: Database.Database,
    readonly model: ModelSpec,
    keywordIndex: boolean,
    mode: StoreMode,
  ) {
    this.indexed = mode === 'serve';
    this.throwaway = mode === 'digest';
    this.index = new VectorIndex(model.dims);
    const tokenize = ftsTokenizer(db);
    this.keywords = keywordIndex && this.indexed ? new KeywordIndex(tokenize) : undefined;
    this.fullTextQueue = this.keywords ? new FullTextQueue(db) : undefined;
    this.writer = new BatchWriter(db, model, this.indexed, mode !== 'digest', this.fullTextQueue);
    this.documents = new DocumentFilterIndex(db);
    this.searcher = new Searcher(
      db,
      this.index,
      this.documents,
      this.keywords ? { index: this.keywords, tokenize, loaded: () => this.keywordLoad === undefined, loadNow: () => this.loadKeywordsNow() } : undefined,
      () => this.flushFullText(),
    );
    this.writeBatch = db.transaction((batch: StoreBatch) => this.writer.write(batch)).immediate;
    if (!this.indexed) {
      // Should a build keep the WAL (see enterBuildJournal), checkpoint it every 10,000 pages (~160 MB) instead of 1,000.
      db.pragma('wal_autocheckpoint = 10000');
      return;
    }
    this.rebuildIndex();
    // Rows a crash left queued first: the keyword index takes FTS5's totals, which count every row written.
    this.fullTextQueue?.flushAll();
    if (this.keywords) {
      // The first page at once: a new or small store opens with its index loaded.
      this.keywordLoad = { after: 0, timer: undefined, failed: undefined };
      if (this.loadKeywordPage(KEYWORD_LOAD_PAGE_ROWS)) this.scheduleKeywordLoad(0);
    }
  }

  static open(options: SqliteStoreOptions): SqliteInferenceStore {
    const db = openDatabase(options.path, options.model);
    try {
      return new SqliteInferenceStore(db, { id: options.model.id, dims: options.model.dims }, options.keywordIndex ?? true, options.mode ?? 'serve');
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** Loads every attached vector into the per-tenant matrices (the index is derived state, never persisted). */
  private rebuildIndex(): void {
    const sizes = this.db
      .prepare<[], { tenant: string; n: number }>(
        `SELECT d.tenant, count(*) AS n FROM documents d JOIN chunks c ON c.doc = d.id JOIN vectors v ON v.chunk = c.id GROUP BY d.tenant`,
      )
      .all();
    for (const { tenant, n } of sizes) this.index.reserve(tenant, n);
    const rows = this.db
      .prepare<[], { tenant: string; id: number; chunk: number; doc: number; vector: Buffer }>(
        `SELECT d.tenant, v.id, v.chunk, c.doc, v.vector FROM documents d JOIN chunks c ON c.doc = d.id JOIN vectors v ON v.chunk = c.id`,
      )
      .iterate();
    const batch: IndexChange[] = [];
    for (const r of rows) {
      batch.push({ kind: 'upsert', tenant: r.tenant, vectorId: r.id, chunk: r.chunk, doc: r.doc, vector: r.vector });
      if (batch.length === 4096) this.index.apply(batch.splice(0));
    }
    this.index.apply(batch);
  }

  /**
   * Loads the next page of chunk rows (by rowid) into the keyword index; true while rows remain. Called from a timer
   * between requests, so a store opens once its vectors are loaded (opening 100k chunks took ~6 s, two thirds of it
   * this index) and answers keyword queries from FTS5 meanwhile. The page after the last one ends the load: every
   * queued full-text row is written first, so FTS5's stored totals, which the index takes, count the same rows it
   * holds. Should that write fail, the load ends on a later turn and FTS5 keeps answering.
   */
  private loadKeywordPage(rows: number): boolean {
    const load = this.keywordLoad;
    const keywords = this.keywords;
    if (!load || !keywords) return false;
    // A page at a time (keyset on the rowid), never through an open iterator: applying a page may tokenize non-ASCII
    // text with SQLite itself on this connection, which better-sqlite3 refuses while an iterator is open.
    this.keywordPage ??= this.db.prepare<[bigint, bigint], KeywordPageRow>(
      `SELECT d.tenant, c.id AS chunk, c.doc, d.source, d.doc_id, c.chunk_id, c.text, d.title, c.heading
       FROM chunks c JOIN documents d ON d.id = c.doc WHERE c.id > ? ORDER BY c.id LIMIT ?`,
    );
    const page = this.keywordPage.all(BigInt(load.after), BigInt(rows));
    if (page.length > 0) {
      keywords.apply(
        page.map((r): KeywordChange => ({ kind: 'add', tenant: r.tenant, chunk: r.chunk, doc: r.doc, key: chunkKey(r.source, r.doc_id, r.chunk_id), text: r.text, title: r.title, heading: r.heading })),
      );
      load.after = (page[page.length - 1] as { chunk: number }).chunk;
      if (page.length === rows) return true;
    }
    this.flushFullText();
    if ((this.fullTextQueue?.size ?? 0) > 0) {
      load.failed = this.fullTextFailure ?? 'full-text rows are still queued';
      return true;
    }
    // FTS5 keeps deleted rows in its totals; start from the totals it stored so scores equal its bm25().
    for (const { id, name } of this.db.prepare<[], { id: number; name: string }>('SELECT id, name FROM tenants').all()) {
      const totals = ftsTotals(this.db, id);
      if (totals) keywords.setTotals(name, totals.rows, totals.tokens);
    }
    this.keywordLoad = undefined;
    return false;
  }

  /** The next page from a timer: at once while pages remain, after FULL_TEXT_DELAY_MS after a failure (warned once). */
  private scheduleKeywordLoad(delayMs: number): void {
    const load = this.keywordLoad;
    if (!load || load.timer || this.closed) return;
    load.timer = setTimeout(() => {
      load.timer = undefined;
      if (this.closed || this.keywordLoad !== load) return;
      load.failed = undefined;
      try {
        if (!this.loadKeywordPage(KEYWORD_LOAD_PAGE_ROWS)) return;
      } catch (err) {
        load.failed = err instanceof Error ? err.message : String(err);
      }
      if (load.failed !== undefined && load.failed !== load.warned) {
        process.emitWarning(`loading the keyword index failed (${load.failed}); keyword queries are ranked by FTS5 meanwhile, and it is tried again`);
        load.warned = load.failed;
      }
      this.scheduleKeywordLoad(load.failed === undefined ? 0 : FULL_TEXT_DELAY_MS);
    }, delayMs);
    load.timer.unref();
  }

  /** Ends a keyword index load at once (a query only the index answers, such as rm3 expansion, or a caller that waits). */
  loadKeywordsNow(): void {
    const load = this.keywordLoad;
    if (!load) return;
    clearTimeout(load.timer);
    load.timer = undefined;
    load.failed = undefined;
    try {
      while (this.keywordLoad === load && this.loadKeywordPage(KEYWORD_REBUILD_PAGE_ROWS) && load.failed === undefined);
    } finally {
      // Unless it ended: the timer takes it up again (a failure is the caller's to see).
      this.scheduleKeywordLoad(FULL_TEXT_DELAY_MS);
    }
  }

  /** Bytes held by the derived in-memory indexes (vector matrices, keyword postings). */
  memory(): StoreMemory {
    return { vectorBytes: this.index.bytes, keywordBytes: this.keywords?.bytes ?? 0, keywordsLoading: this.keywordLoad !== undefined, heapUsedBytes: process.memoryUsage().heapUsed };
  }

  private open(): void {
    if (this.closed) throw new UnavailableError('the inference store is closed; open it again');
  }

  private searchable(): void {
    this.open();
    if (!this.indexed) throw new ConfigError('this store was opened to build a generation, not to search it; open it to serve');
  }

  /**
   * A build writes the file through a rollback journal instead of the WAL: its pages are new, so SQLite journals almost
   * nothing and writes each page once, where WAL wrote every page twice (into the WAL, then the file at each checkpoint
   * and at close). Each commit stays atomic and durable (synchronous FULL syncs the journal before the file changes),
   * so a killed build resumes from its checkpoints as before. Switched at the first write, so opening a file only to
   * read it (a digest) changes nothing; left in WAL when another connection has the file open.
   */
  private enterBuildJournal(): void {
    this.buildJournal = true;
    if (this.throwaway) {
      // Nobody reopens a digest's file after a crash: a journal in memory (batches still roll back whole), no fsync.
      this.db.pragma('journal_mode = MEMORY');
      this.db.pragma('synchronous = OFF');
      return;
    }
    this.db.pragma('busy_timeout = 0');
    try {
      if (this.db.pragma('journal_mode = TRUNCATE', { simple: true }) === 'truncate') this.db.pragma('synchronous = FULL');
    } catch {
      // another connection holds the file: keep the WAL
    } finally {
      this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
  }

  /** Ops and checkpoints commit in one transaction; the in-memory index follows only after the commit. */
  apply(batch: StoreBatch): void {
    this.open();
    if (!this.indexed && !this.buildJournal) this.enterBuildJournal();
    this.writer.validate(batch);
    let changes: AppliedChanges;
    try {
      changes = this.writeBatch(batch);
    } catch (err) {
      this.writer.forgetCache();
      this.fullTextQueue?.forgetConfigured();
      throw err;
    }
    if (!this.indexed) return;
    this.index.apply(changes.vectors);
    this.documents.apply(changes.documents);
    const load = this.keywordLoad;
    // While loading, only rows the load has passed: it reads the others later, as they are then.
    this.keywords?.apply(load ? changes.keywords.filter((c) => c.chunk <= load.after) : changes.keywords);
    if (this.fullTextQueue) {
      this.fullTextQueue.committed(changes.fullText.queued, changes.fullText.written);
      while (this.fullTextQueue.size >= FULL_TEXT_MAX_QUEUED && this.writeFullTextSlice());
      this.scheduleFullText();
    }
  }

  /** Writes one slice of the queue; false when it failed (the rows stay queued, the warning names the error once). */
  private writeFullTextSlice(): boolean {
    const queue = this.fullTextQueue;
    if (!queue) return false;
    try {
      queue.flush();
      this.fullTextFailure = undefined;
      return true;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (this.fullTextFailure !== message) process.emitWarning(`writing queued full-text rows failed (${message}); they stay queued and are tried again`);
      this.fullTextFailure = message;
      return false;
    }
  }

  /** One FTS5 merge step; a failure drops the merges owed (see FullTextQueue.mergeStep) and is warned about once. */
  private mergeFullText(): void {
    try {
      this.fullTextQueue?.mergeStep();
      this.mergeFailure = undefined;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (this.mergeFailure !== message) process.emitWarning(`merging full-text segments failed (${message}); FTS5 merges them itself once a level holds too many`);
      this.mergeFailure = message;
    }
  }

  /**
   * Writes every queued full-text row before FTS5 is read. Should the file refuse the write, the query still gets an
   * answer, from FTS5 as it stands (without the rows still queued), and the warning says why.
   */
  private flushFullText(): void {
    const queue = this.fullTextQueue;
    while (queue && queue.size > 0 && this.writeFullTextSlice());
  }

  /**
   * Writes the queue a slice at a time from a timer of this thread, so queries and batches that arrive meanwhile run
   * between slices: at once while a whole slice is queued, else after FULL_TEXT_DELAY_MS. After each slice come the
   * FTS5 merge steps it owes, one a turn, before the next slice (see FULL_TEXT_MERGE_PAGES). A slice that fails (the
   * file busy, full) stays queued and is tried again after the delay; a step that fails is not tried again until the
   * next slice owes steps.
   */
  private scheduleFullText(): void {
    const queue = this.fullTextQueue;
    if (!queue || this.fullTextTimer || this.closed || (queue.size === 0 && !queue.mergeOwed)) return;
    const ready = queue.mergeOwed || queue.size >= FULL_TEXT_SLICE_ROWS;
    const delay = ready && this.fullTextFailure === undefined ? 0 : FULL_TEXT_DELAY_MS;
    this.fullTextTimer = setTimeout(() => {
      this.fullTextTimer = undefined;
      if (this.closed) return;
      if (queue.mergeOwed) this.mergeFullText();
      else this.writeFullTextSlice();
      this.scheduleFullText();
    }, delay);
    this.fullTextTimer.unref();
  }

  /** The writer's automatic WAL checkpoint, in pages (see wal-checkpointer.ts, which checkpoints from another thread). */
  setAutoCheckpoint(pages: number): void {
    this.open();
    this.db.pragma(`wal_autocheckpoint = ${pages}`);
  }

  checkpoints(): Record<string, number> {
    this.open();
    return readCheckpoints(this.db);
  }

  keywordCandidates(request: KeywordRequest): Candidate[] {
    this.searchable();
    return this.searcher.keywordCandidates(request);
  }

  vectorCandidates(request: CandidateRequest & { readonly vector: Float32Array }): Candidate[] {
    this.searchable();
    return this.searcher.vectorCandidates(request);
  }

  hydrate(tenant: string, keys: readonly string[]): ChunkContent[] {
    this.searchable();
    return this.searcher.hydrate(tenant, keys);
  }

  document(ref: DocumentRef): DocumentState | undefined {
    this.open();
    const row = this.db
      .prepare<[string, string, string], { doc_seq: number; deleted: number; chunks: number; vectors: number }>(
        `SELECT d.doc_seq, d.deleted,
           (SELECT count(*) FROM chunks c WHERE c.doc = d.id) AS chunks,
           (SELECT count(*) FROM chunks c JOIN vectors v ON v.chunk = c.id WHERE c.doc = d.id) AS vectors
         FROM documents d WHERE d.tenant = ? AND d.source = ? AND d.doc_id = ?`,
      )
      .get(ref.tenant, ref.source, ref.docId);
    if (!row) return undefined;
    return {
      tenant: ref.tenant,
      source: ref.source,
      docId: ref.docId,
      docSeq: row.doc_seq,
      deleted: row.deleted === 1,
      chunks: row.chunks,
      vectors: row.vectors,
    };
  }

  stats(): StoreStats {
    this.open();
    const counts = this.db
      .prepare<[], StoreStats>(
        `SELECT
           (SELECT count(*) FROM documents WHERE deleted = 0) AS documents,
           (SELECT count(*) FROM documents WHERE deleted = 1) AS tombstones,
           (SELECT count(*) FROM chunks) AS chunks,
           (SELECT count(*) FROM vectors) AS vectors,
           (SELECT count(DISTINCT tenant) FROM documents WHERE deleted = 0) AS tenants`,
      )
      .get() as StoreStats;
    return this.keywordLoad && this.keywords ? { ...counts, keywordIndexLoading: { chunks: this.keywords.size } } : counts;
  }

  digest(): string {
    this.open();
    return computeDigest(this.db);
  }

  /** Checkpoints, digest and per-document hashes read in one transaction: consistent while another process writes. */
  snapshot(): StoreSnapshot {
    this.open();
    return this.db.transaction(() => ({ checkpoints: this.checkpoints(), ...digestWithDocuments(this.db) }))();
  }

  /** The checkpoints and the hashes of the documents in `range`, in one transaction (a share of a snapshot). */
  snapshotShare(range: DocRange): SnapshotShare {
    this.open();
    return snapshotShare(this.db, range);
  }

  /** The digest with per-document content hashes (projections/digest.ts), for `spanda verify` to name what differs. */
  digestWithDocuments(): { digest: string; documents: Record<string, string> } {
    this.open();
    return digestWithDocuments(this.db);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.fullTextTimer);
    clearTimeout(this.keywordLoad?.timer);
    try {
      // What is still queued is written at the next open otherwise (the queue is in the file).
      this.fullTextQueue?.flushAll();
    } catch {
      // the file cannot be written now: the rows stay queued in it
    }
    try {
      // Leave a built file in WAL mode, as every other store file is (readers open it while a node writes).
      if (this.buildJournal && !this.throwaway) this.db.pragma('journal_mode = WAL');
    } finally {
      this.db.close();
    }
  }
}

/** The synchronous store behind the async InferenceStore interface, in this thread (tests, CLI tools, tiny corpora). */
export function asInferenceStore(core: SqliteInferenceStore): InferenceStore {
  const run = <T>(fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err as Error);
    }
  };
  return {
    model: core.model,
    apply: (batch) => run(() => core.apply(batch)),
    checkpoints: () => run(() => core.checkpoints()),
    keywordCandidates: (request) => run(() => core.keywordCandidates(request)),
    vectorCandidates: (request) => run(() => core.vectorCandidates(request)),
    hydrate: (tenant, keys) => run(() => core.hydrate(tenant, keys)),
    document: (ref) => run(() => core.document(ref)),
    stats: () => run(() => core.stats()),
    digest: () => run(() => core.digest()),
    snapshot: () => run(() => core.snapshot()),
    close: () => run(() => core.close()),
  };
}
