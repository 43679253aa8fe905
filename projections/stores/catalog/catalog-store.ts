// The indexing catalog in SQLite: every document version with per-stage facts (published, chunked, embedded per model).
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { UnavailableError } from '../../../lib/errors.ts';
import type { CatalogOp } from '../../indexing.ts';
import type { DocumentRef, ProjectionStore, StoreBatch } from '../../store.ts';

export const CATALOG_SCHEMA_VERSION = 1;

// Facts are keyed by what makes them unique, so replaying an event rewrites the same row (idempotent, order-free).
const DDL = `
CREATE TABLE IF NOT EXISTS versions (
  tenant TEXT NOT NULL, source TEXT NOT NULL, doc_id TEXT NOT NULL, doc_seq INTEGER NOT NULL,
  deleted INTEGER NOT NULL, content_hash TEXT, title TEXT, published_at TEXT NOT NULL,
  PRIMARY KEY (tenant, source, doc_id, doc_seq)) STRICT;
CREATE TABLE IF NOT EXISTS chunked (
  tenant TEXT NOT NULL, source TEXT NOT NULL, doc_id TEXT NOT NULL, doc_seq INTEGER NOT NULL, chunker TEXT NOT NULL,
  part INTEGER NOT NULL, parts INTEGER NOT NULL, total_chunks INTEGER NOT NULL, chunk_ids TEXT NOT NULL,
  stream_seq INTEGER NOT NULL, at TEXT NOT NULL,
  PRIMARY KEY (tenant, source, doc_id, doc_seq, chunker, part)) STRICT;
CREATE TABLE IF NOT EXISTS removed (
  tenant TEXT NOT NULL, source TEXT NOT NULL, doc_id TEXT NOT NULL, doc_seq INTEGER NOT NULL, by TEXT NOT NULL,
  stream_seq INTEGER NOT NULL, at TEXT NOT NULL,
  PRIMARY KEY (tenant, source, doc_id, doc_seq, by)) STRICT;
CREATE TABLE IF NOT EXISTS embedded (
  tenant TEXT NOT NULL, source TEXT NOT NULL, doc_id TEXT NOT NULL, doc_seq INTEGER NOT NULL, model TEXT NOT NULL,
  part INTEGER NOT NULL, parts INTEGER NOT NULL, vectors INTEGER NOT NULL, stream_seq INTEGER NOT NULL, at TEXT NOT NULL,
  PRIMARY KEY (tenant, source, doc_id, doc_seq, model, part)) STRICT;
CREATE TABLE IF NOT EXISTS checkpoints (key TEXT PRIMARY KEY, seq INTEGER NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
`;

const TABLES = ['versions', 'chunked', 'removed', 'embedded'] as const;

export interface StageFact {
  readonly at: string;
  readonly streamSeq: number;
}

/** What the catalog knows of one document: each version with what each stage did with it. */
export interface DocumentLineage extends DocumentRef {
  readonly versions: ReadonlyArray<{
    readonly seq: number;
    readonly deleted: boolean;
    readonly publishedAt: string;
    readonly contentHash?: string;
    readonly title?: string;
    readonly chunked: ReadonlyArray<StageFact & { readonly chunker: string; readonly totalChunks: number; readonly chunkIds: readonly string[]; readonly complete: boolean }>;
    readonly removedBy: ReadonlyArray<StageFact & { readonly by: string }>;
    readonly embedded: ReadonlyArray<StageFact & { readonly model: string; readonly vectors: number; readonly complete: boolean }>;
  }>;
}

export class CatalogStore implements ProjectionStore<CatalogOp> {
  private readonly db: Database.Database;
  private readonly writeBatch: (batch: StoreBatch<CatalogOp>) => void;
  private closed = false;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(DDL);
    this.db.prepare(`INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)`).run(String(CATALOG_SCHEMA_VERSION));
    const s = {
      version: this.db.prepare(
        `INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET deleted = excluded.deleted,
         content_hash = excluded.content_hash, title = excluded.title, published_at = excluded.published_at`,
      ),
      chunked: this.db.prepare(`INSERT OR REPLACE INTO chunked VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      removed: this.db.prepare(`INSERT OR REPLACE INTO removed VALUES (?, ?, ?, ?, ?, ?, ?)`),
      embedded: this.db.prepare(`INSERT OR REPLACE INTO embedded VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      checkpoint: this.db.prepare('INSERT INTO checkpoints (key, seq) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET seq = max(seq, excluded.seq)'),
    };
    const n = (v: number) => BigInt(v);
    this.writeBatch = this.db.transaction((batch: StoreBatch<CatalogOp>) => {
      for (const op of batch.ops) {
        const key = [op.tenant, op.source, op.docId, n(op.docSeq)] as const;
        if (op.kind === 'published') s.version.run(...key, op.deleted ? 1n : 0n, op.contentHash ?? null, op.title ?? null, op.at);
        else if (op.kind === 'chunked') s.chunked.run(...key, op.chunker, n(op.part), n(op.parts), n(op.totalChunks), JSON.stringify(op.chunkIds), n(op.seq), op.at);
        else if (op.kind === 'removed') s.removed.run(...key, op.by, n(op.seq), op.at);
        else s.embedded.run(...key, op.model, n(op.part), n(op.parts), n(op.vectors), n(op.seq), op.at);
      }
      for (const [key, seq] of Object.entries(batch.checkpoints)) s.checkpoint.run(key, n(seq));
    }).immediate;
  }

  private open(): void {
    if (this.closed) throw new UnavailableError('the indexing catalog is closed; open it again');
  }

  async apply(batch: StoreBatch<CatalogOp>): Promise<void> {
    this.open();
    this.writeBatch(batch);
  }

  async checkpoints(): Promise<Record<string, number>> {
    this.open();
    const rows = this.db.prepare<[], { key: string; seq: number }>('SELECT key, seq FROM checkpoints').all();
    return Object.fromEntries(rows.map((r) => [r.key, r.seq]));
  }

  /** sha256 over every fact row in key order (checkpoints excluded): equal facts ⇔ equal digest. */
  async digest(): Promise<string> {
    this.open();
    const hash = createHash('sha256').update(`spanda-catalog-digest/${CATALOG_SCHEMA_VERSION}\n`);
    for (const table of TABLES) {
      for (const row of this.db.prepare(`SELECT * FROM ${table} ORDER BY 1, 2, 3, 4, 5, 6`).raw().iterate()) {
        hash.update(`${table} ${JSON.stringify(row)}\n`);
      }
    }
    return `sha256:${hash.digest('hex')}`;
  }

  /** Checkpoints and digest read in one transaction: consistent while a serving node writes the same file. */
  async snapshot(): Promise<{ checkpoints: Record<string, number>; digest: string }> {
    this.open();
    this.db.exec('BEGIN');
    try {
      return { checkpoints: await this.checkpoints(), digest: await this.digest() };
    } finally {
      this.db.exec('COMMIT');
    }
  }

  async lineage(ref: DocumentRef): Promise<DocumentLineage | undefined> {
    this.open();
    const args = [ref.tenant, ref.source, ref.docId] as const;
    const where = 'WHERE tenant = ? AND source = ? AND doc_id = ?';
    const versions = this.db
      .prepare<[string, string, string], { doc_seq: number; deleted: number; content_hash: string | null; title: string | null; published_at: string }>(
        `SELECT doc_seq, deleted, content_hash, title, published_at FROM versions ${where} ORDER BY doc_seq`,
      )
      .all(...args);
    const chunked = this.db
      .prepare<[string, string, string], { doc_seq: number; chunker: string; part: number; parts: number; total_chunks: number; chunk_ids: string; stream_seq: number; at: string }>(
        `SELECT doc_seq, chunker, part, parts, total_chunks, chunk_ids, stream_seq, at FROM chunked ${where} ORDER BY doc_seq, chunker, part`,
      )
      .all(...args);
    const removed = this.db
      .prepare<[string, string, string], { doc_seq: number; by: string; stream_seq: number; at: string }>(`SELECT doc_seq, by, stream_seq, at FROM removed ${where} ORDER BY doc_seq, by`)
      .all(...args);
    const embedded = this.db
      .prepare<[string, string, string], { doc_seq: number; model: string; part: number; parts: number; vectors: number; stream_seq: number; at: string }>(
        `SELECT doc_seq, model, part, parts, vectors, stream_seq, at FROM embedded ${where} ORDER BY doc_seq, model, part`,
      )
      .all(...args);
    if (versions.length === 0 && chunked.length === 0 && embedded.length === 0) return undefined;
    const seqs = [...new Set([...versions.map((v) => v.doc_seq), ...chunked.map((c) => c.doc_seq), ...embedded.map((e) => e.doc_seq)])].sort((a, b) => a - b);
    return {
      ...ref,
      versions: seqs.map((seq) => {
        const v = versions.find((x) => x.doc_seq === seq);
        // Parts of one version by one chunker (or model) are folded into one stage fact.
        const byChunker = groupBy(chunked.filter((c) => c.doc_seq === seq), (c) => c.chunker);
        const byModel = groupBy(embedded.filter((e) => e.doc_seq === seq), (e) => e.model);
        return {
          seq,
          deleted: v ? v.deleted === 1 : false,
          publishedAt: v?.published_at ?? '',
          ...(v?.content_hash ? { contentHash: v.content_hash } : {}),
          ...(v?.title ? { title: v.title } : {}),
          chunked: [...byChunker].map(([chunker, parts]) => ({
            chunker,
            at: maxOf(parts.map((p) => p.at)),
            streamSeq: Math.max(...parts.map((p) => p.stream_seq)),
            totalChunks: parts[0]?.total_chunks ?? 0,
            chunkIds: parts.flatMap((p) => JSON.parse(p.chunk_ids) as string[]),
            complete: parts.length === (parts[0]?.parts ?? 0),
          })),
          removedBy: removed.filter((r) => r.doc_seq === seq).map((r) => ({ by: r.by, at: r.at, streamSeq: r.stream_seq })),
          embedded: [...byModel].map(([model, parts]) => ({
            model,
            at: maxOf(parts.map((p) => p.at)),
            streamSeq: Math.max(...parts.map((p) => p.stream_seq)),
            vectors: parts.reduce((a, p) => a + p.vectors, 0),
            complete: parts.length === (parts[0]?.parts ?? 0),
          })),
        };
      }),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

const maxOf = (values: readonly string[]): string => values.reduce((a, b) => (b > a ? b : a), '');
