// The SQLite store's schema, connection settings and the model check that ties one file to one embedding model.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { ConfigError } from '../../../lib/errors.ts';

/** 2: no full-text tables (keyword search is served from memory, see keyword-index.ts); 1 had an FTS5 table per tenant. */
export const SCHEMA_VERSION = 2;

/** BM25 column weights, in the indexed column order (text, title, heading). Not tuned on a labelled set yet. */
export const BM25_WEIGHTS = { text: 1.0, title: 1.5, heading: 1.0 } as const;

// Tables are STRICT so a value of the wrong type fails loudly instead of being coerced.
// - documents holds one row per document address: the live version or a tombstone (deleted = 1, no content).
// - chunks reference their document by integer key; their version is the document's doc_seq (the guard replaces all
//   chunks when the version changes, so the two cannot disagree).
// - vectors reference a chunk; a vector row exists only for a chunk of the same version.
// - pending_vectors are keyed by the document address because their document version (or the document) may not exist yet.
// - The schema is the same whatever the number of tenants: a tenant is a column, and the keyword and vector indexes
//   are derived in memory from these rows at open.
const DDL = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS documents (
  id INTEGER PRIMARY KEY,
  tenant TEXT NOT NULL,
  source TEXT NOT NULL,
  doc_id TEXT NOT NULL,
  doc_seq INTEGER NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0,
  title TEXT,
  url TEXT,
  metadata TEXT NOT NULL DEFAULT '{}',
  total_chunks INTEGER,
  UNIQUE (tenant, source, doc_id)
) STRICT;
CREATE TABLE IF NOT EXISTS chunks (
  id INTEGER PRIMARY KEY,
  doc INTEGER NOT NULL REFERENCES documents (id),
  chunk_id TEXT NOT NULL,
  ordinal INTEGER NOT NULL,
  text TEXT NOT NULL,
  start_char INTEGER NOT NULL,
  end_char INTEGER NOT NULL,
  tokens INTEGER NOT NULL,
  heading TEXT,
  UNIQUE (doc, chunk_id)
) STRICT;
CREATE TABLE IF NOT EXISTS vectors (
  id INTEGER PRIMARY KEY,
  chunk INTEGER NOT NULL REFERENCES chunks (id),
  window_index INTEGER NOT NULL,
  vector BLOB NOT NULL,
  UNIQUE (chunk, window_index)
) STRICT;
CREATE TABLE IF NOT EXISTS pending_vectors (
  tenant TEXT NOT NULL,
  source TEXT NOT NULL,
  doc_id TEXT NOT NULL,
  doc_seq INTEGER NOT NULL,
  chunk_id TEXT NOT NULL,
  window_index INTEGER NOT NULL,
  vector BLOB NOT NULL,
  PRIMARY KEY (tenant, source, doc_id, doc_seq, chunk_id, window_index)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (key TEXT PRIMARY KEY, seq INTEGER NOT NULL) STRICT;
`;

/** SQLite's FTS5 tokenizer whose tokens the keyword index uses (tokenizer.ts ports it; fts-tokens.ts asks SQLite). */
export const FTS_TOKENIZE = 'porter unicode61 remove_diacritics 2';

export interface ModelSpec {
  readonly id: string;
  readonly dims: number;
}

/**
 * Page size of every store file created (SQLite ignores it once a file has content, so older 4 KB files keep theirs). A
 * vector row of 512 floats (2 KB) takes a 4 KB page to itself (two do not fit), so half of such a file was empty pages;
 * 16 KB pages hold 7, and a commit writes a quarter as many WAL frames. Measured: a replay's build on 22,790 chunks about
 * 15% less CPU to apply; a serving store applying batches of 100 documents (23,575 chunks × 512-d, alternating runs)
 * median 2.94 s against 3.43 s, system time −25%. SQLite's automatic checkpoint (every 1,000 pages) now comes every
 * 16 MB of WAL instead of 4 MB: rarer and longer; freshness under load measured the same within noise.
 */
const STORE_PAGE_SIZE = 16384;

/** What a store's WAL is cut back to when a writer starts it over: above a busy store's half second of writes (a few MB). */
export const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

/** How long a connection waits for another's lock before SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5000;

/**
 * Opens (creating if needed) a store file for `model`; throws ConfigError when the file belongs to another model.
 */
export function openDatabase(path: string, model: ModelSpec): Database.Database {
  if (!Number.isInteger(model.dims) || model.dims < 1) {
    throw new ConfigError(`model ${model.id} declares ${model.dims} dimensions; a positive integer is required`);
  }
  if (path !== ':memory:' && !path.startsWith('file:')) mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  try {
    // Before WAL: a file's page size is fixed once it is in WAL mode or has content.
    db.pragma(`page_size = ${STORE_PAGE_SIZE}`);
    db.pragma('journal_mode = WAL');
    // WAL + NORMAL survives a process crash; a power loss may drop the last commits, which replay from the log restores
    // because data and checkpoints commit together.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('cache_size = -65536');
    db.pragma('temp_store = MEMORY');
    // Deleted rows are overwritten with zeros, freelist pages included, so a deleted (or erased) document's text does
    // not linger in the file. Measured here, 4,000 documents × 5 chunks × 512-d, alternating runs: replacing them all
    // 812-860 ms against 851-856 ms without, removing them all 474-521 against 453-515 (FAST, which leaves freelist
    // pages as they were, kept 276 of 307 traces of the removed text).
    db.pragma('secure_delete = ON');
    // A WAL keeps its size once grown (a burst while checkpoints lag can take it to the 1 GB backstop): each time a
    // writer starts it over, it is cut back to this. Idle, the checkpointer truncates it to nothing (wal-checkpointer-worker.ts).
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    db.exec(DDL);
    checkMeta(db, path, model);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function checkMeta(db: Database.Database, path: string, model: ModelSpec): void {
  const rows = db.prepare<[], { key: string; value: string }>('SELECT key, value FROM meta').all();
  const meta = new Map(rows.map((r) => [r.key, r.value]));
  if (meta.size === 0) {
    const insert = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
    db.transaction(() => {
      insert.run('schema_version', String(SCHEMA_VERSION));
      insert.run('model_id', model.id);
      insert.run('model_dims', String(model.dims));
    })();
    return;
  }
  const version = Number(meta.get('schema_version'));
  // Schema 1 differs only by tables this build never reads: readable as it is, changed by its first write.
  if (version !== SCHEMA_VERSION && version !== 1) {
    throw new ConfigError(
      `store file ${path} has schema version ${meta.get('schema_version') ?? '(none)'}, this build reads version ${SCHEMA_VERSION}: ` +
        'rebuild the inference projection into a new generation (a new file) by replaying the log',
    );
  }
  const id = meta.get('model_id');
  const dims = Number(meta.get('model_dims'));
  if (id !== model.id || dims !== model.dims) {
    throw new ConfigError(
      `store file ${path} holds vectors of model ${id ?? '(none)'} (${dims} dims) but the active model is ${model.id} (${model.dims} dims); ` +
        'a store holds one model: rebuild the inference projection into a new generation for the new model instead of reusing this file',
    );
  }
}

/** Whether the file is of schema 1 (see upgradeSchema). */
export function isSchema1(db: Database.Database): boolean {
  return db.prepare<[], string>("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get() === '1';
}

/**
 * A file of schema 1 kept an FTS5 table per tenant, a tenants table and a queue of full-text rows, all derived from the
 * chunk rows; version 2 keeps none of them (keyword search is served from memory). Dropped in one transaction, with
 * the version, so a file is wholly one version or the other; the pages they held are reused by later writes. Done by
 * the store's first write, never at open: a process that only reads the file (spanda verify, a snapshot) leaves it as
 * it is for the node of an earlier version that may still be writing it during an upgrade.
 */
export function upgradeSchema(db: Database.Database, path: string): void {
  const fullText = db
    .prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 'fts_[0-9]*' AND sql LIKE 'CREATE VIRTUAL TABLE%'")
    .pluck()
    .all();
  db.transaction(() => {
    for (const name of fullText) db.exec(`DROP TABLE IF EXISTS "${name}"`);
    db.exec('DROP TABLE IF EXISTS full_text_queue; DROP TABLE IF EXISTS tenants;');
    db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(String(SCHEMA_VERSION));
  })();
  process.emitWarning(
    `store file ${path} was written by an earlier version (schema 1): its ${fullText.length === 1 ? 'full-text table was' : `${fullText.length} full-text tables were`} dropped, ` +
      'as keyword search is now served from memory; nothing else changed',
  );
}
