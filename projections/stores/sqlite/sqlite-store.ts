// The synchronous SQLite inference store: one better-sqlite3 connection plus the in-memory vector index derived from it.
import type Database from 'better-sqlite3';
import { ConfigError, UnavailableError } from '../../../lib/errors.ts';
import { chunkKey, type Candidate, type CandidateRequest, type ChunkContent, type KeywordRequest, type DocumentRef, type DocumentState, type InferenceStore, type StoreBatch, type StoreSnapshot, type StoreStats } from '../../store.ts';
import { BatchWriter, type AppliedChanges } from './apply.ts';
import { computeDigest, digestWithDocuments, type DocRange } from './digest.ts';
import { DocumentFilterIndex } from './document-filter.ts';
import { readCheckpoints, snapshotShare, type SnapshotShare } from './snapshot.ts';
import { ftsTokenizer } from './fts-tokens.ts';
import { KeywordIndex, type KeywordChange } from './keyword-index.ts';
import { BUSY_TIMEOUT_MS, isSchema1, openDatabase, upgradeSchema, type ModelSpec } from './schema.ts';
import type { StoreMemory } from './protocol.ts';
import { Searcher } from './search.ts';
import { VectorIndex, type IndexChange } from './vector-index.ts';

export interface SqliteStoreOptions {
  /** File path of the store (one generation), or ':memory:'. */
  readonly path: string;
  readonly model: ModelSpec;
  /**
   * 'serve' (default) builds the derived in-memory indexes at open and keeps them current. 'build' is for a file that is
   * only written (a replay building a generation) or read whole (its digest): no index is built or kept, and search
   * throws; whoever opens the file to serve builds them from it then, as always. 'digest' is build mode for a throwaway
   * store that is only digested (the log's digest, in memory: projections/log-digest.ts): its commits need not survive
   * a crash, so such a file must never be served.
   */
  readonly mode?: StoreMode;
}

export type StoreMode = 'serve' | 'build' | 'digest';

/** Chunk rows the keyword index takes per timer turn while it loads after open (~25 ms of work), and when it must load at once. */
const KEYWORD_LOAD_PAGE_ROWS = 512;
const KEYWORD_REBUILD_PAGE_ROWS = 4096;
/** After a page failed to load (the file unreadable for a moment), the timer tries again after this long. */
const KEYWORD_LOAD_RETRY_MS = 1000;

// Rows read whole at open come as arrays (better-sqlite3's raw mode): no object per row on the way to the index.
type KeywordPageRow = [tenant: string, chunk: number, doc: number, source: string, docId: string, chunkId: string, text: string, title: string | null, heading: string | null];
type VectorRow = [tenant: string, id: number, chunk: number, doc: number, vector: Buffer];

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
   * While the keyword index is being loaded after open: the chunk rows up to `after` are in it, and a batch's keyword
   * changes reach the index only for rows up to `after` (the rest are read later, as they are then). A keyword query
   * meanwhile ends the load first (loadKeywordsNow). See loadKeywordPage.
   */
  private keywordLoad: { after: number; timer: ReturnType<typeof setTimeout> | undefined; failed: string | undefined; warned?: string } | undefined;
  /** Chunk rows after a rowid, in rowid order, with what the keyword index takes of them. */
  private keywordPage: Database.Statement<[bigint, bigint], KeywordPageRow> | undefined;
  /** A file of schema 1, upgraded by the first write (see upgradeSchema). */
  private schema1: boolean;

  private constructor(
    private readonly db: Database.Database,
    readonly model: ModelSpec,
    mode: StoreMode,
  ) {
    this.indexed = mode === 'serve';
    this.throwaway = mode === 'digest';
    this.schema1 = isSchema1(db);
    this.index = new VectorIndex(model.dims);
    const tokenize = ftsTokenizer(db);
    this.keywords = this.indexed ? new KeywordIndex(tokenize) : undefined;
    this.writer = new BatchWriter(db, model, this.indexed);
    this.documents = new DocumentFilterIndex(db);
    this.searcher = new Searcher(
      db,
      this.index,
      this.documents,
      this.keywords ? { index: this.keywords, tokenize, loaded: () => this.keywordLoad === undefined, loadNow: () => this.loadKeywordsNow() } : undefined,
    );
    this.writeBatch = db.transaction((batch: StoreBatch) => this.writer.write(batch)).immediate;
    if (!this.indexed) {
      // Should a build keep the WAL (see enterBuildJournal), checkpoint it every 10,000 pages (~160 MB) instead of 1,000.
      db.pragma('wal_autocheckpoint = 10000');
      return;
    }
    this.rebuildIndex();
    if (this.keywords) {
      // The first page at once: a new or small store opens with its index loaded.
      this.keywordLoad = { after: 0, timer: undefined, failed: undefined };
      if (this.loadKeywordPage(KEYWORD_LOAD_PAGE_ROWS)) this.scheduleKeywordLoad(0);
    }
  }

  static open(options: SqliteStoreOptions): SqliteInferenceStore {
    const db = openDatabase(options.path, options.model);
    try {
      return new SqliteInferenceStore(db, { id: options.model.id, dims: options.model.dims }, options.mode ?? 'serve');
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
      .prepare<[], VectorRow>(`SELECT d.tenant, v.id, v.chunk, c.doc, v.vector FROM documents d JOIN chunks c ON c.doc = d.id JOIN vectors v ON v.chunk = c.id`)
      .raw()
      .iterate();
    const batch: IndexChange[] = [];
    for (const [tenant, vectorId, chunk, doc, vector] of rows) {
      batch.push({ kind: 'upsert', tenant, vectorId, chunk, doc, vector });
      if (batch.length === 4096) this.index.apply(batch.splice(0));
    }
    this.index.apply(batch);
  }

  /**
   * Loads the next page of chunk rows (by rowid) into the keyword index; true while rows remain. Called from a timer
   * between requests, so a store opens once its vectors are loaded (opening 100k chunks took ~6 s, two thirds of it
   * this index) and answers vector queries and applies batches meanwhile; a keyword query ends the load at once.
   */
  private loadKeywordPage(rows: number): boolean {
    const load = this.keywordLoad;
    const keywords = this.keywords;
    if (!load || !keywords) return false;
    // A page at a time (keyset on the rowid), never through an open iterator: applying a page may tokenize non-ASCII
    // text with SQLite itself on this connection, which better-sqlite3 refuses while an iterator is open.
    this.keywordPage ??= this.db
      .prepare<[bigint, bigint], KeywordPageRow>(
        `SELECT d.tenant, c.id AS chunk, c.doc, d.source, d.doc_id, c.chunk_id, c.text, d.title, c.heading
         FROM chunks c JOIN documents d ON d.id = c.doc WHERE c.id > ? ORDER BY c.id LIMIT ?`,
      )
      .raw();
    const page = this.keywordPage.all(BigInt(load.after), BigInt(rows));
    if (page.length > 0) {
      keywords.apply(
        page.map(([tenant, chunk, doc, source, docId, chunkId, text, title, heading]): KeywordChange => ({ kind: 'add', tenant, chunk, doc, key: chunkKey(source, docId, chunkId), text, title, heading })),
      );
      load.after = (page[page.length - 1] as KeywordPageRow)[1];
      if (page.length === rows) return true;
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
        process.emitWarning(`loading the keyword index failed (${load.failed}); it is tried again, and keyword queries try it themselves meanwhile`);
        load.warned = load.failed;
      }
      this.scheduleKeywordLoad(load.failed === undefined ? 0 : KEYWORD_LOAD_RETRY_MS);
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
      this.scheduleKeywordLoad(KEYWORD_LOAD_RETRY_MS);
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
    if (this.schema1) {
      upgradeSchema(this.db, this.db.name);
      this.schema1 = false;
    }
    const changes = this.writeBatch(batch);
    if (!this.indexed) return;
    this.index.apply(changes.vectors);
    this.documents.apply(changes.documents);
    const load = this.keywordLoad;
    // While loading, only rows the load has passed: it reads the others later, as they are then.
    this.keywords?.apply(load ? changes.keywords.filter((c) => c.chunk <= load.after) : changes.keywords);
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
    clearTimeout(this.keywordLoad?.timer);
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
    warmUp: () => run(() => core.loadKeywordsNow()),
    close: () => run(() => core.close()),
  };
}
