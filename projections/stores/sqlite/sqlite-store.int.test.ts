// The SQLite store against the shared conformance suite (in-thread and worker-hosted), plus what only SQLite promises.
import { copyFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, UnavailableError, ValidationError } from '../../../lib/errors.ts';
import type { InferenceStore, StoreOp } from '../../store.ts';
import { CONFORMANCE_MODEL, describeInferenceStoreConformance } from '../conformance.ts';
import { openSqliteStore, WorkerInferenceStore } from './index.ts';
import { SqliteInferenceStore } from './sqlite-store.ts';
import { ftsTotals } from './schema.ts';
import { FULL_TEXT_MAX_QUEUED, FULL_TEXT_SLICE_ROWS } from './full-text-queue.ts';
import { search } from '../../search.ts';
import { waitForRowsInFileAlone } from '../../../test/helpers/sqlite-file.ts';
import { ftsSegmentCount } from '../../../test/helpers/fts5-structure.ts';

const tempDir = () => mkdtemp(join(tmpdir(), 'spanda-sqlite-'));

for (const inWorker of [false, true]) {
  describeInferenceStoreConformance(inWorker ? 'sqlite in a worker' : 'sqlite in-thread', async () => {
    const dir = await tempDir();
    const path = join(dir, 'inference.db');
    const opened: InferenceStore[] = [];
    const openOne = async () => {
      const store = await openSqliteStore({ path, model: CONFORMANCE_MODEL, inWorker });
      opened.push(store);
      return store;
    };
    return {
      store: await openOne(),
      reopen: openOne,
      cleanup: async () => {
        for (const store of opened) await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  });
}

const unit = (i: number) => {
  const v = new Float32Array(CONFORMANCE_MODEL.dims);
  v[i] = 1;
  return v;
};

function doc(docId: string, docSeq: number, text: string, vector: Float32Array, tenant = 'acme'): StoreOp[] {
  const base = { tenant, source: 'notes', docId, docSeq };
  return [
    {
      ...base,
      kind: 'chunks',
      metadata: {},
      part: { index: 0, count: 1 },
      totalChunks: 1,
      chunks: [{ chunkId: `${docSeq}:0`, ordinal: 0, text, start: 0, end: text.length, tokens: 2 }],
    },
    { ...base, kind: 'vectors', model: CONFORMANCE_MODEL.id, vectors: [{ chunkId: `${docSeq}:0`, window: 0, vector }] },
  ];
}

describe('a store of many tenants', () => {
  it('warns once it holds 1,000 tenants (each has a full-text table of its own), naming what to use instead', async () => {
    const dir = await tempDir();
    const warnings: string[] = [];
    const listen = (w: Error) => warnings.push(w.message);
    process.on('warning', listen);
    const store = await openSqliteStore({ path: join(dir, 'inference.db'), model: CONFORMANCE_MODEL, inWorker: false });
    try {
      for (let t = 0; t < 1_000; t += 100) {
        await store.apply({ ops: Array.from({ length: 100 }, (_, i) => doc('d', t + i + 1, `tenant ${t + i} notes`, unit(0), `t${t + i}`)).flat(), checkpoints: {} });
        if (t === 800) expect(warnings.filter((w) => /tenants/.test(w))).toEqual([]);
      }
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      const said = warnings.filter((w) => /tenants/.test(w));
      expect(said).toHaveLength(1);
      expect(said[0]).toMatch(/holds 1000 tenants, each with a full-text table of its own: .*Weaviate or Qdrant \(SPANDA_STORE/);
    } finally {
      process.off('warning', listen);
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe.each([false, true])('sqlite store specifics (inWorker: %s)', (inWorker) => {
  let dir: string;
  let path: string;
  const stores: InferenceStore[] = [];
  const open = async (model: { id: string; dims: number } = CONFORMANCE_MODEL) => {
    const store = await openSqliteStore({ path, model, inWorker });
    stores.push(store);
    return store;
  };

  beforeEach(async () => {
    dir = await tempDir();
    path = join(dir, 'nested', 'inference.db');
  });
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("reopens a store whose text needs SQLite's own tokenizer (non-ASCII) and finds it by keyword", async () => {
    const first = await open();
    const texts = Array.from({ length: 5000 }, (_, i) => `Crème brûlée naïve café ${i} über Zürich`);
    await first.apply({ ops: texts.flatMap((t, i) => doc(`d${i}`, i + 1, t, unit(i % 8))), checkpoints: { CHUNKS: 5000 } });
    await first.close();
    const again = await open();
    const hits = await search(again, { tenant: 'acme', mode: 'keyword', text: 'creme brulee 4321', k: 3, vectorWeight: 0 });
    expect(hits[0]?.docId).toBe('d4321');
  });

  it('with RM3 expansion, finds a document that shares the best hit\'s vocabulary but not the query\'s word', async () => {
    const store = await open();
    const texts = ['walrus tusk ivory arctic', 'ivory tusk carving arctic', 'banana bread recipe', 'garden hose repair', 'tax return deadline',
      'violin string tension', 'mountain bike gears', 'coffee grinder burr', 'window frame paint'];
    await store.apply({ ops: texts.flatMap((t, i) => doc(`d${i}`, i + 1, t, unit(i % 8))), checkpoints: { CHUNKS: texts.length } });
    const query = { tenant: 'acme', mode: 'keyword', text: 'walrus', k: 5, vectorWeight: 0 } as const;
    expect((await search(store, query)).map((h) => h.docId)).toEqual(['d0']);
    const expanded = await search(store, query, { keywordExpansion: 'rm3' });
    expect(expanded.map((h) => h.docId)).toEqual(['d0', 'd1']);
    // Hybrid takes the expanded keyword side too; 'none' is the plain ranking.
    const hybrid = await search(store, { ...query, mode: 'hybrid', vector: unit(5), vectorWeight: 0.25 }, { keywordExpansion: 'rm3' });
    expect(hybrid.map((h) => h.docId)).toContain('d1');
    expect((await search(store, query, { keywordExpansion: 'none' })).map((h) => h.docId)).toEqual(['d0']);
  });

  it('with RM3 expansion, takes its feedback from the best hits, whatever order they were written in', async () => {
    const store = await open();
    const fillers = Array.from({ length: 6 }, (_, i) => `walrus filler${i}a filler${i}b filler${i}c filler${i}d`);
    const unrelated = Array.from({ length: 10 }, (_, i) => `unrelated${i} topic${i} words${i}`);
    // The best hit for "walrus" is written after five weaker ones; the target shares its vocabulary, not the query word.
    const texts = [...fillers, ...unrelated, 'walrus walrus walrus tusk ivory', 'tusk ivory carving'];
    await store.apply({ ops: texts.flatMap((t, i) => doc(`d${i}`, i + 1, t, unit(i % 8))), checkpoints: { CHUNKS: texts.length } });
    const hits = await search(store, { tenant: 'acme', mode: 'keyword', text: 'walrus', k: 10, vectorWeight: 0 }, { keywordExpansion: 'rm3' });
    expect(hits[0]?.docId).toBe('d16');
    expect(hits.map((h) => h.docId)).toContain('d17');
  });

  it('keeps full text in step when one batch writes, replaces and removes the same documents', async () => {
    const store = await open();
    // Both versions of "a" and the whole of "b" come and go inside one transaction (the full-text rows are written last).
    await store.apply({
      ops: [...doc('a', 1, 'walrus tusk', unit(0)), ...doc('b', 2, 'walrus whisker', unit(1)), ...doc('a', 3, 'narwhal horn', unit(2)), { kind: 'remove', tenant: 'acme', source: 'notes', docId: 'b', docSeq: 4 }],
      checkpoints: { CHUNKS: 4 },
    });
    const keyword = async (text: string) => (await search(store, { tenant: 'acme', mode: 'keyword', text, k: 5, vectorWeight: 0 })).map((h) => h.text);
    expect(await keyword('walrus')).toEqual([]);
    expect(await keyword('narwhal')).toEqual(['narwhal horn']);
    await store.close();
    // FTS5 saw every insert and delete, as it would one op per batch: its totals (the basis of BM25) count all 3 rows.
    const db = new Database(path, { readonly: true });
    try {
      expect(ftsTotals(db, 1)).toEqual({ rows: 3, tokens: 6 });
      expect(db.prepare('SELECT rowid FROM fts_1 WHERE fts_1 MATCH ?').pluck().all('walrus OR narwhal OR tusk')).toHaveLength(1);
    } finally {
      db.close();
    }
  });

  // A word FTS5 splits where the query's words do not (U+0305, a combining overline): only FTS5 can match the phrase.
  const PHRASE_ONLY_FTS5_ANSWERS = 'walrus\u0305tusk';

  it('finds a phrase only FTS5 can answer as soon as its batch has applied, though its full-text row was only queued', async () => {
    const store = await open();
    await store.apply({ ops: doc('a', 1, 'a walrus tusk on the ice', unit(0)), checkpoints: { CHUNKS: 1 } });
    // The queue writes its rows a while later (FULL_TEXT_DELAY_MS): FTS5 is brought up to date before it is read.
    const hits = await search(store, { tenant: 'acme', mode: 'keyword', text: PHRASE_ONLY_FTS5_ANSWERS, k: 3, vectorWeight: 0 });
    expect(hits.map((h) => h.docId)).toEqual(['a']);
  });

  it('writes queued full-text rows between requests, with nothing asking for them', async () => {
    const store = await open();
    const count = FULL_TEXT_SLICE_ROWS + 40;
    await store.apply({ ops: Array.from({ length: count }, (_, i) => doc(`d${i}`, i + 1, `seal number ${i}`, unit(i % 8))).flat(), checkpoints: { CHUNKS: count } });
    const db = new Database(path, { readonly: true });
    try {
      const queued = () => db.prepare('SELECT count(*) FROM full_text_queue').pluck().get() as number;
      const deadline = Date.now() + 5000;
      while (queued() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(queued()).toBe(0);
      expect(ftsTotals(db, 1)?.rows).toBe(count);
    } finally {
      db.close();
    }
  });

  it('merges its FTS5 segments in steps between requests, not inside the commits that write its rows', async () => {
    const store = await open();
    const slices = 12;
    for (let b = 0; b < slices; b++) {
      const ops = Array.from({ length: FULL_TEXT_SLICE_ROWS }, (_, i) => doc(`d${b}-${i}`, b * FULL_TEXT_SLICE_ROWS + i + 1, `seal number ${i} of ${b}`, unit(i % 8))).flat();
      await store.apply({ ops, checkpoints: { CHUNKS: (b + 1) * FULL_TEXT_SLICE_ROWS } });
    }
    const db = new Database(path, { readonly: true });
    try {
      const queued = () => db.prepare('SELECT count(*) FROM full_text_queue').pluck().get() as number;
      // Each slice commits a segment of its own, and FTS5 no longer merges them as it commits: the store's timer does.
      const deadline = Date.now() + 10_000;
      while ((queued() > 0 || ftsSegmentCount(db, 'fts_1') > slices / 2) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(db.prepare("SELECT v FROM fts_1_config WHERE k = 'automerge'").pluck().get()).toBe(0);
      expect(queued()).toBe(0);
      expect(ftsSegmentCount(db, 'fts_1')).toBeLessThanOrEqual(slices / 2);
      expect(ftsTotals(db, 1)?.rows).toBe(slices * FULL_TEXT_SLICE_ROWS);
    } finally {
      db.close();
    }
    const hits = await search(store, { tenant: 'acme', mode: 'keyword', text: '"number 7 of 11"', k: 3, vectorWeight: 0 });
    expect(hits.map((h) => h.docId)).toContain('d11-7');
    await store.close();
    const check = new Database(path);
    try {
      // FTS5's own check of the merged index against itself; it throws SQLITE_CORRUPT_VTAB when they disagree.
      check.prepare("INSERT INTO fts_1 (fts_1) VALUES ('integrity-check')").run();
    } finally {
      check.close();
    }
  });

  it('opened to build, writes without indexes and refuses search; opened to serve, finds what was written', async () => {
    const building = await openSqliteStore({ path, model: CONFORMANCE_MODEL, inWorker, mode: 'build' });
    stores.push(building);
    await building.apply({ ops: [...doc('a', 1, 'otter den', unit(0)), ...doc('b', 2, 'beaver dam', unit(1))], checkpoints: { CHUNKS: 2 } });
    await expect(search(building, { tenant: 'acme', mode: 'keyword', text: 'otter', k: 3, vectorWeight: 0 })).rejects.toThrow(ConfigError);
    const digest = await building.digest();
    await building.close();
    const serving = await open();
    expect(await serving.digest()).toBe(digest);
    const hits = await search(serving, { tenant: 'acme', mode: 'hybrid', text: 'beaver', vector: unit(1), k: 1, vectorWeight: 0.5 });
    expect(hits.map((h) => h.docId)).toEqual(['b']);
  });

  it('a build snapshot (digested in shares) equals a whole digest, and the built file is left in WAL mode', async () => {
    const building = await openSqliteStore({ path, model: CONFORMANCE_MODEL, inWorker, mode: 'build' });
    stores.push(building);
    const ops = ['a', 'b', 'c', 'd', 'e'].flatMap((id, i) => doc(id, i + 1, `text of ${id}`, unit(i)));
    await building.apply({ ops, checkpoints: { CHUNKS: 5 } });
    // A newer version and a delete after the first load: the snapshot reads what the store holds now.
    await building.apply({ ops: [...doc('b', 9, 'second text of b', unit(7)), { kind: 'remove', tenant: 'acme', source: 'notes', docId: 'd', docSeq: 10 }], checkpoints: { CHUNKS: 7 } });
    const snapshot = await building.snapshot?.();
    const digest = await building.digest();
    await building.close();
    expect(snapshot?.checkpoints).toEqual({ CHUNKS: 7 });
    expect(snapshot?.digest).toBe(digest);
    expect(Object.keys(snapshot?.documents ?? {})).toHaveLength(5);
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      db.close();
    }
    const serving = await open();
    expect(await serving.digest()).toBe(digest);
  });

  it('refuses a file built for another model and says to rebuild', async () => {
    const store = await open();
    await store.apply({ ops: doc('a', 1, 'hello world', unit(0)), checkpoints: { CHUNKS: 1 } });
    await store.close();
    for (const other of [{ id: 'other-model', dims: CONFORMANCE_MODEL.dims }, { id: CONFORMANCE_MODEL.id, dims: 16 }]) {
      const attempt = open(other);
      await expect(attempt).rejects.toBeInstanceOf(ConfigError);
      await expect(attempt).rejects.toThrow(/rebuild .* new generation/);
    }
    const again = await open();
    expect(await again.checkpoints()).toEqual({ CHUNKS: 1 });
  });

  it('rejects vectors of another model without writing anything', async () => {
    const store = await open();
    const ops = doc('a', 1, 'hello world', unit(0));
    const foreign = { ...(ops[1] as Extract<StoreOp, { kind: 'vectors' }>), model: 'other-model' };
    await expect(store.apply({ ops: [ops[0] as StoreOp, foreign], checkpoints: { CHUNKS: 3 } })).rejects.toThrow(ValidationError);
    expect(await store.stats()).toMatchObject({ documents: 0, chunks: 0 });
    expect(await store.checkpoints()).toEqual({});
  });

  it('rolls back data, checkpoints and the in-memory vectors when SQLite fails inside a batch', async () => {
    const store = await open();
    await store.apply({ ops: doc('a', 1, 'first note', unit(0)), checkpoints: { CHUNKS: 1 } });
    const digest = await store.digest();
    // A trigger added behind the store's back makes the last insert of the next batch fail after the others ran.
    const side = new Database(path);
    side.exec(`CREATE TRIGGER boom BEFORE INSERT ON chunks WHEN NEW.text = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END`);
    side.close();

    const failing: StoreOp[] = [
      ...doc('b', 2, 'second note', unit(3)),
      ...doc('f', 2, 'fresh tenant note', unit(3), 'fresh'),
      { kind: 'remove', tenant: 'acme', source: 'notes', docId: 'a', docSeq: 5 },
      ...doc('c', 3, 'boom', unit(4)),
    ];
    await expect(store.apply({ ops: failing, checkpoints: { CHUNKS: 9 } })).rejects.toThrow(/boom/);

    expect(await store.checkpoints()).toEqual({ CHUNKS: 1 });
    expect(await store.digest()).toBe(digest);
    const hits = await search(store, { tenant: 'acme', mode: 'vector', text: '', vector: unit(3), k: 10, vectorWeight: 1 });
    expect(hits.map((h) => h.docId)).toEqual(['a']);
    expect((await search(store, { tenant: 'acme', mode: 'keyword', text: 'note', k: 10, vectorWeight: 0 })).map((h) => h.docId)).toEqual(['a']);

    // Rowids freed by the rollback are reused: no vector of the failed batch may surface on the new chunks.
    await store.apply({ ops: doc('d', 4, 'third note', unit(5)), checkpoints: { CHUNKS: 4 } });
    const after = await search(store, { tenant: 'acme', mode: 'vector', text: '', vector: unit(3), k: 10, vectorWeight: 1 });
    expect(after.map((h) => [h.docId, h.score])).toEqual([
      ['a', 0],
      ['d', 0],
    ]);

    // The store is still usable, and a tenant first created by the failed batch works when it comes back.
    expect(await search(store, { tenant: 'fresh', mode: 'keyword', text: 'note', k: 10, vectorWeight: 0 })).toEqual([]);
    await store.apply({ ops: doc('f', 2, 'fresh tenant note', unit(3), 'fresh'), checkpoints: { CHUNKS: 2 } });
    expect((await search(store, { tenant: 'fresh', mode: 'keyword', text: 'note', k: 10, vectorWeight: 0 })).map((h) => h.docId)).toEqual(['f']);
    expect((await search(store, { tenant: 'fresh', mode: 'vector', text: '', vector: unit(3), k: 10, vectorWeight: 1 })).map((h) => h.docId)).toEqual(['f']);
  });
});

// In this thread only: a worker's own timer could write the queue before the copy that stands for a crash, and
// between two batches here no timer runs, so what a batch leaves queued is what it wrote itself.
describe('sqlite store full-text queue (in this thread)', () => {
  let dir: string;
  let path: string;
  const stores: InferenceStore[] = [];
  beforeEach(async () => {
    dir = await tempDir();
    path = join(dir, 'inference.db');
  });
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps ranking keyword queries by FTS5 while the file refuses the writes that end a keyword index load, then ends it', async () => {
    const writer = await openSqliteStore({ path, model: CONFORMANCE_MODEL, inWorker: false });
    const count = 1200;
    await writer.apply({ ops: Array.from({ length: count }, (_, i) => doc(`d${i}`, i + 1, `seal number ${i}`, unit(i % 8))).flat(), checkpoints: { CHUNKS: count } });
    await writer.close();
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    const store = SqliteInferenceStore.open({ path, model: CONFORMANCE_MODEL });
    const lock = new Database(path);
    try {
      // Rows queued for FTS5 after open: the load must write them before it takes FTS5's totals.
      store.apply({ ops: doc('late', count + 1, 'seal late', unit(0)), checkpoints: { CHUNKS: count + 1 } });
      expect(store.memory().keywordsLoading).toBe(true);
      lock.exec('BEGIN IMMEDIATE');
      const deadline = Date.now() + 20_000;
      while (!warnings.some((w) => w.includes('loading the keyword index failed')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(warnings.filter((w) => w.includes('loading the keyword index failed'))).toHaveLength(1);
      expect(store.memory().keywordsLoading).toBe(true);
      lock.exec('ROLLBACK');
      while (store.memory().keywordsLoading && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(store.memory().keywordsLoading).toBe(false);
      const hits = store.keywordCandidates({ tenant: 'acme', text: 'late', limit: 5 });
      expect(hits.map((h) => h.key)).toEqual([`notes\u0000late\u0000${count + 1}:0`]);
      expect(store.keywordCandidates({ tenant: 'acme', text: 'seal', limit: 2000 })).toHaveLength(count + 1);
    } finally {
      process.off('warning', onWarning);
      lock.close();
      store.close();
    }
  }, 30_000);

  it('writes the full-text rows a crash left queued when the file is next opened', async () => {
    const store = await openSqliteStore({ path, model: CONFORMANCE_MODEL, inWorker: false });
    stores.push(store);
    await store.apply({ ops: [...doc('a', 1, 'walrus tusk', unit(0)), ...doc('b', 2, 'seal whisker', unit(1))], checkpoints: { CHUNKS: 2 } });
    // The store's thread has not run its queue's timer yet: copying the file and its WAL now is what a crash leaves.
    const crashed = join(dir, 'crashed.db');
    copyFileSync(path, crashed);
    copyFileSync(`${path}-wal`, `${crashed}-wal`);
    const queuedIn = (file: string) => {
      const db = new Database(file, { readonly: true });
      try {
        return { queued: db.prepare('SELECT count(*) FROM full_text_queue').pluck().get(), totals: ftsTotals(db, 1) };
      } finally {
        db.close();
      }
    };
    expect(queuedIn(crashed)).toEqual({ queued: 2, totals: undefined });
    const reopened = await openSqliteStore({ path: crashed, model: CONFORMANCE_MODEL, inWorker: false });
    stores.push(reopened);
    // Written at open, before anything asks: the keyword index takes its BM25 totals from FTS5's.
    expect(queuedIn(crashed)).toEqual({ queued: 0, totals: { rows: 2, tokens: 4 } });
    const hits = await search(reopened, { tenant: 'acme', mode: 'keyword', text: 'whisker', k: 3, vectorWeight: 0 });
    expect(hits.map((h) => [h.docId, h.scores.keyword])).toEqual([['b', expect.any(Number)]]);
  });

  it('keeps the queue bounded while batches come back to back (a catch-up): each batch writes what is over the bound', async () => {
    const store = await openSqliteStore({ path, model: CONFORMANCE_MODEL, inWorker: false });
    stores.push(store);
    const db = new Database(path, { readonly: true });
    try {
      const queued: number[] = [];
      for (let b = 0; b < 6; b++) {
        const ops = Array.from({ length: 500 }, (_, i) => doc(`d${b}-${i}`, b * 500 + i + 1, `otter number ${i}`, unit(i % 8))).flat();
        await store.apply({ ops, checkpoints: { CHUNKS: (b + 1) * 500 } });
        queued.push(db.prepare('SELECT count(*) FROM full_text_queue').pluck().get() as number);
      }
      expect(Math.max(...queued)).toBeLessThan(FULL_TEXT_MAX_QUEUED);
      expect(queued.every((n) => n > 0)).toBe(true);
    } finally {
      db.close();
    }
  });
});

describe('worker-hosted sqlite store', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads its keyword index after open between requests, answering keyword queries the same meanwhile', async () => {
    const path = join(dir, 'inference.db');
    let store = (await openSqliteStore({ path, model: CONFORMANCE_MODEL })) as WorkerInferenceStore;
    const count = 6000;
    const words = ['seal', 'harbour', 'tide', 'kelp', 'gull', 'reef', 'shoal', 'dune'];
    const text = (i: number) => Array.from({ length: 6 + (i % 7) }, (_, j) => words[(i * 7 + j * j) % words.length]).join(' ');
    await store.apply({ ops: Array.from({ length: count }, (_, i) => doc(`d${i}`, i + 1, text(i), unit(i % 8))).flat(), checkpoints: { CHUNKS: count } });
    const queries = ['seal', 'kelp gull', 'reef shoal dune', 'tide harbour seal'];
    const ask = (s: InferenceStore) => Promise.all(queries.map((q) => s.keywordCandidates({ tenant: 'acme', text: q, limit: 20 })));
    const loaded = await ask(store);
    await store.close();
    store = (await openSqliteStore({ path, model: CONFORMANCE_MODEL })) as WorkerInferenceStore;
    try {
      const meanwhile = await ask(store);
      const deadline = Date.now() + 20_000;
      while ((await store.memory()).keywordsLoading && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const memory = await store.memory();
      expect(memory.keywordsLoading).toBe(false);
      expect(memory.keywordBytes).toBeGreaterThan(0);
      const after = await ask(store);
      for (const [i, answer] of [meanwhile, after].entries()) {
        answer.forEach((candidates, q) => {
          expect(candidates.map((c) => c.key), `${i} ${queries[q]}`).toEqual(loaded[q]?.map((c) => c.key));
          candidates.forEach((c, j) => expect(Math.abs(c.score - (loaded[q]?.[j]?.score ?? NaN))).toBeLessThanOrEqual(1e-9 * Math.abs(c.score)));
        });
      }
    } finally {
      await store.close();
    }
  });

  it('rejects pending and later calls when the worker dies instead of hanging', async () => {
    const store = await openSqliteStore({ path: join(dir, 'inference.db'), model: CONFORMANCE_MODEL });
    expect(store).toBeInstanceOf(WorkerInferenceStore);
    await store.apply({ ops: doc('a', 1, 'hello world', unit(0)), checkpoints: {} });
    const inFlight = expect(store.digest()).rejects.toBeInstanceOf(UnavailableError);
    await (store as WorkerInferenceStore).terminate();
    await inFlight;
    await expect(store.stats()).rejects.toThrow(/worker exited/);
    await store.close();

    // The file survives a hard stop.
    const again = await openSqliteStore({ path: join(dir, 'inference.db'), model: CONFORMANCE_MODEL });
    expect(await again.stats()).toMatchObject({ documents: 1, chunks: 1, vectors: 1 });
    await again.close();
  });

  it('leaves the caller\'s vectors usable after apply and search', async () => {
    const store = await openSqliteStore({ path: join(dir, 'inference.db'), model: CONFORMANCE_MODEL });
    try {
      const vector = unit(2);
      await store.apply({ ops: doc('a', 1, 'hello world', vector), checkpoints: {} });
      await search(store, { tenant: 'acme', mode: 'vector', text: '', vector, k: 1, vectorWeight: 1 });
      expect(vector.length).toBe(CONFORMANCE_MODEL.dims);
      expect(vector[2]).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('checkpoints its WAL from another thread: applied rows reach the database file within a second', async () => {
    const path = join(dir, 'inference.db');
    const store = await openSqliteStore({ path, model: CONFORMANCE_MODEL });
    try {
      for (let i = 1; i <= 50; i++) await store.apply({ ops: doc(`d${i}`, i, `note number ${i}`, unit(i % 8)), checkpoints: { DOCUMENTS: i } });
      // A few hundred KB of WAL: the writer's own automatic checkpoint (1,000 pages) would not have run, so rows in the
      // file alone (copied without its WAL) were put there by the checkpointer.
      expect(await waitForRowsInFileAlone(path, 'chunks', 50)).toBe(50);
      expect(await store.stats()).toMatchObject({ documents: 50, chunks: 50, vectors: 50 });
    } finally {
      await store.close();
    }
  });

  it('rejects calls after close', async () => {
    const store = await openSqliteStore({ path: join(dir, 'inference.db'), model: CONFORMANCE_MODEL });
    await store.close();
    await store.close();
    await expect(store.stats()).rejects.toBeInstanceOf(UnavailableError);
  });
});
