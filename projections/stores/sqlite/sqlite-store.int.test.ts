// The SQLite store against the shared conformance suite (in-thread and worker-hosted), plus what only SQLite promises.
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, UnavailableError, ValidationError } from '../../../lib/errors.ts';
import type { InferenceStore, StoreOp } from '../../store.ts';
import { CONFORMANCE_MODEL, describeInferenceStoreConformance } from '../conformance.ts';
import { openSqliteStore, WorkerInferenceStore } from './index.ts';
import { search } from '../../search.ts';
import { waitForRowsInFileAlone } from '../../../test/helpers/sqlite-file.ts';

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
  it('keeps each of 1,000 tenants to its own documents and statistics, in a schema that does not grow with them', async () => {
    const dir = await tempDir();
    const path = join(dir, 'inference.db');
    const tables = () => {
      const db = new Database(path, { readonly: true });
      try {
        return db.prepare('SELECT count(*) FROM sqlite_master').pluck().get() as number;
      } finally {
        db.close();
      }
    };
    let store = await openSqliteStore({ path, model: CONFORMANCE_MODEL, inWorker: false });
    try {
      await store.apply({ ops: doc('d', 1, 'first notes', unit(0), 't0'), checkpoints: {} });
      const schema = tables();
      for (let t = 0; t < 1_000; t += 100) {
        const ops = Array.from({ length: 100 }, (_, i) => doc('d', t + i + 2, `tenant${t + i} notes${i % 2 === 0 ? ' shared' : ''}`, unit(i % 8), `t${t + i}`)).flat();
        await store.apply({ ops, checkpoints: {} });
      }
      expect(tables()).toBe(schema);
      const ask = async (tenant: string, text: string) => (await store.keywordCandidates({ tenant, text, limit: 5 })).map((c) => [c.key, c.score]);
      const before = { own: await ask('t123', 'tenant123 tenant124 notes'), shared: await ask('t124', 'shared notes') };
      // Only its own document, scored by its own rows: one row in the tenant, so every word is in all of them (idf 1e-6).
      expect(before.own.map(([key]) => key)).toEqual(['notes\u0000d\u0000125:0']);
      expect(before.shared).toHaveLength(1);
      expect(before.shared[0]?.[1]).toBeLessThan(1e-5);
      await store.close();
      store = await openSqliteStore({ path, model: CONFORMANCE_MODEL, inWorker: false });
      expect({ own: await ask('t123', 'tenant123 tenant124 notes'), shared: await ask('t124', 'shared notes') }).toEqual(before);
    } finally {
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

  it('scores by its live rows alone: one batch that writes, replaces and removes scores as a store given only the result', async () => {
    const store = await open();
    // Both versions of "a" and the whole of "b" come and go inside one transaction.
    const ops: StoreOp[] = [
      ...doc('a', 1, 'walrus tusk', unit(0)),
      ...doc('b', 2, 'walrus whisker', unit(1)),
      ...doc('c', 3, 'walrus on the ice', unit(3)),
      ...doc('a', 4, 'narwhal horn', unit(2)),
      { kind: 'remove', tenant: 'acme', source: 'notes', docId: 'b', docSeq: 5 },
    ];
    await store.apply({ ops, checkpoints: { CHUNKS: 5 } });
    const keyword = async (s: InferenceStore, text: string) => (await search(s, { tenant: 'acme', mode: 'keyword', text, k: 5, vectorWeight: 0 })).map((h) => [h.text, h.scores.keyword]);
    expect((await keyword(store, 'walrus')).map(([text]) => text)).toEqual(['walrus on the ice']);
    expect((await keyword(store, 'narwhal')).map(([text]) => text)).toEqual(['narwhal horn']);
    // A replay of the same log (the history squashed) gives the same scores.
    const squashed = await openSqliteStore({ path: ':memory:', model: CONFORMANCE_MODEL, inWorker });
    stores.push(squashed);
    await squashed.apply({ ops: [...doc('c', 3, 'walrus on the ice', unit(3)), ...doc('a', 4, 'narwhal horn', unit(2))], checkpoints: { CHUNKS: 5 } });
    for (const text of ['walrus', 'narwhal horn', 'ice horn']) expect(await keyword(store, text), text).toEqual(await keyword(squashed, text));
  });

  it("leaves no trace of a deleted document's text in the file (deleted rows are zeroed)", async () => {
    const store = await open();
    const secret = 'quokkaledger';
    await store.apply({ ops: [...doc('a', 1, `the ${secret} was reconciled twice`, unit(0)), ...doc('b', 2, 'a plain note that stays', unit(1))], checkpoints: { CHUNKS: 2 } });
    await store.apply({ ops: [{ kind: 'remove', tenant: 'acme', source: 'notes', docId: 'a', docSeq: 3 }], checkpoints: { CHUNKS: 3 } });
    await store.close();
    // Closed, the WAL is folded into the file and removed.
    expect(readFileSync(path).includes(Buffer.from(secret))).toBe(false);
    expect(readFileSync(path).includes(Buffer.from('a plain note that stays'))).toBe(true);
  });

  it.runIf(inWorker)("leaves no trace of a deleted document's text in the WAL once the serving store is idle", async () => {
    const store = await open();
    const secret = 'wombatinvoice';
    await store.apply({ ops: [...doc('a', 1, `the ${secret} was paid late`, unit(0)), ...doc('b', 2, 'a plain note that stays', unit(1))], checkpoints: { CHUNKS: 2 } });
    await store.apply({ ops: [{ kind: 'remove', tenant: 'acme', source: 'notes', docId: 'a', docSeq: 3 }], checkpoints: { CHUNKS: 3 } });
    const wal = `${path}-wal`;
    expect(readFileSync(wal).includes(Buffer.from(secret))).toBe(true); // the insert's page images, until truncated
    // Still open: the checkpointer copies the WAL into the file, sees no new commit on its next tick, and truncates it.
    const deadline = Date.now() + 10_000;
    while (statSync(wal).size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(statSync(wal).size).toBe(0);
    expect(readFileSync(path).includes(Buffer.from(secret))).toBe(false);
    expect(readFileSync(path).includes(Buffer.from('a plain note that stays'))).toBe(true);
    // It keeps serving and writing after the truncation.
    await store.apply({ ops: doc('c', 4, 'a note written afterwards', unit(2)), checkpoints: { CHUNKS: 4 } });
    const hits = await search(store, { tenant: 'acme', mode: 'keyword', text: 'afterwards', k: 5, vectorWeight: 0 });
    expect(hits.map((h) => h.text)).toEqual(['a note written afterwards']);
  });

  it('finds a word the tokenizer splits further (U+0305, a combining overline) by each of its tokens', async () => {
    const store = await open();
    await store.apply({ ops: [...doc('a', 1, 'a walrus tusk on the ice', unit(0)), ...doc('b', 2, 'a seal on the ice', unit(1))], checkpoints: { CHUNKS: 2 } });
    const hits = await search(store, { tenant: 'acme', mode: 'keyword', text: 'walrus\u0305tusk', k: 3, vectorWeight: 0 });
    expect(hits.map((h) => h.docId)).toEqual(['a']);
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

describe.each([false, true])('a store file of schema 1 (an FTS5 table per tenant; inWorker: %s)', (inWorker) => {
  it('is read as it is (an earlier node may still write it), and its first write drops the full-text tables, said once', async () => {
    const dir = await tempDir();
    const path = join(dir, 'inference.db');
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const writer = await openSqliteStore({ path, model: CONFORMANCE_MODEL, inWorker: false });
      await writer.apply({ ops: [...doc('a', 1, 'walrus tusk', unit(0)), ...doc('b', 2, 'seal whisker', unit(1), 'beta')], checkpoints: { CHUNKS: 2 } });
      await writer.close();
      // What schema 1 kept besides: the tenants, an FTS5 table for each, the queue of full-text rows.
      const old = new Database(path);
      old.exec(`CREATE TABLE tenants (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE) STRICT;
        INSERT INTO tenants (name) VALUES ('acme'), ('beta');
        CREATE VIRTUAL TABLE fts_1 USING fts5 (text, title, heading, content = '', contentless_delete = 1);
        CREATE VIRTUAL TABLE fts_2 USING fts5 (text, title, heading, content = '', contentless_delete = 1);
        INSERT INTO fts_1 (rowid, text) VALUES (1, 'walrus tusk');
        CREATE TABLE full_text_queue (chunk INTEGER PRIMARY KEY, tenant INTEGER NOT NULL) STRICT;
        UPDATE meta SET value = '1' WHERE key = 'schema_version';`);
      old.close();
      const legacy = () => {
        const db = new Database(path, { readonly: true });
        try {
          return {
            tables: db.prepare("SELECT name FROM sqlite_master WHERE (name GLOB 'fts_*' AND sql LIKE 'CREATE VIRTUAL%') OR name IN ('tenants', 'full_text_queue') ORDER BY name").pluck().all(),
            version: db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get(),
          };
        } finally {
          db.close();
        }
      };
      // In a worker, the store's warning reaches this thread (where a node logs it).
      const store = await openSqliteStore({ path, model: CONFORMANCE_MODEL, inWorker });
      stores.push(store);
      // Opened, searched: nothing changes in the file.
      const hits = await search(store, { tenant: 'beta', mode: 'keyword', text: 'whisker', k: 3, vectorWeight: 0 });
      expect(hits.map((h) => h.docId)).toEqual(['b']);
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      expect(warnings.filter((w) => w.includes('schema 1'))).toEqual([]);
      expect(legacy()).toEqual({ tables: ['fts_1', 'fts_2', 'full_text_queue', 'tenants'], version: '1' });
      // The first write upgrades it.
      await store.apply({ ops: doc('c', 3, 'walrus whisker', unit(2), 'beta'), checkpoints: { CHUNKS: 3 } });
      await new Promise((r) => setTimeout(r, 50));
      expect(warnings.filter((w) => w.includes('schema 1'))).toEqual([expect.stringMatching(/its 2 full-text tables were dropped/)]);
      expect(legacy()).toEqual({ tables: [], version: '2' });
      const after = await search(store, { tenant: 'beta', mode: 'keyword', text: 'whisker', k: 3, vectorWeight: 0 });
      expect(after.map((h) => h.docId).sort()).toEqual(['b', 'c']);
    } finally {
      process.off('warning', onWarning);
      for (const store of stores.splice(0)) await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
  const stores: InferenceStore[] = [];
});

describe('worker-hosted sqlite store', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads its keyword index after open between requests; a keyword query meanwhile ends the load and answers the same', async () => {
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
      expect((await store.memory()).keywordsLoading).toBe(true);
      const meanwhile = await ask(store);
      expect((await store.memory()).keywordsLoading).toBe(false);
      await store.close();
      // Warmed up (as a generation is before it is swapped in), it has loaded.
      store = (await openSqliteStore({ path, model: CONFORMANCE_MODEL })) as WorkerInferenceStore;
      expect((await store.memory()).keywordsLoading).toBe(true);
      await store.warmUp();
      expect((await store.memory()).keywordsLoading).toBe(false);
      await store.close();
      // Left alone, it loads between requests.
      store = (await openSqliteStore({ path, model: CONFORMANCE_MODEL })) as WorkerInferenceStore;
      expect((await store.memory()).keywordsLoading).toBe(true);
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
