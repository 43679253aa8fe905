// The in-memory keyword index against FTS5 itself: the same tokens, and the same BM25 ranking and scores after adds, updates and deletes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { prng } from '../../../lib/prng.ts';
import { chunkKey, type Candidate, type KeywordRequest, type StoreOp } from '../../store.ts';
import { ftsTokenizer } from './fts-tokens.ts';
import { queryTerms } from './query-terms.ts';
import { BM25_WEIGHTS, FTS_TOKENIZE } from './schema.ts';
import { filterCondition } from './sql-filter.ts';
import { SqliteInferenceStore } from './sqlite-store.ts';
import { KeywordIndex, type KeywordChange } from './keyword-index.ts';
import { isSimpleText, simpleTokens } from './tokenizer.ts';

const MODEL = { id: 'kw-test-4', dims: 4 } as const;

/** FTS5's tokens of each text, read back with fts5vocab. */
function sqliteTokens(texts: readonly string[]): string[][] {
  const db = new Database(':memory:');
  db.exec(`CREATE VIRTUAL TABLE t USING fts5 (x, tokenize = '${FTS_TOKENIZE}'); CREATE VIRTUAL TABLE v USING fts5vocab (t, 'instance');`);
  const insert = db.prepare('INSERT INTO t (rowid, x) VALUES (?, ?)');
  db.transaction(() => texts.forEach((t, i) => insert.run(BigInt(i + 1), t)))();
  const out = texts.map((): string[] => []);
  for (const r of db.prepare('SELECT doc, term, offset FROM v').iterate() as Iterable<{ doc: number; term: string; offset: number }>) {
    (out[r.doc - 1] as string[])[r.offset] = r.term;
  }
  db.close();
  return out;
}

// Stems ending in every suffix the Porter steps look at, so each rule and its conditions are exercised.
const SUFFIXES = [
  'ational', 'tional', 'enci', 'anci', 'izer', 'logi', 'bli', 'alli', 'entli', 'eli', 'ousli', 'ization', 'ation', 'ator', 'alism',
  'iveness', 'fulness', 'ousness', 'aliti', 'iviti', 'biliti', 'ical', 'ness', 'icate', 'iciti', 'ful', 'ative', 'alize', 'al', 'ance',
  'ence', 'er', 'ic', 'able', 'ible', 'ant', 'ement', 'ment', 'ent', 'sion', 'tion', 'ou', 'ism', 'ate', 'iti', 'ous', 'ive', 'ize',
  'sses', 'ies', 'ss', 's', 'eed', 'ed', 'ing', 'at', 'bl', 'iz', 'y', 'e', 'll', 'ying', 'ating', 'bling', 'izing', 'hopping', 'filing',
];
const STEMS = ['', 'a', 'y', 'b', 'tr', 'hop', 'fil', 'rel', 'cond', 'valen', 'hesit', 'digit', 'conform', 'radic', 'formal', 'sens', 'oscill', 'feed', 'agr', 'sky', 'happ', 'yo', 'ay'];

describe('the JS tokenizer', () => {
  it('gives FTS5 tokens for ASCII words through every Porter rule', () => {
    const words: string[] = [];
    for (const stem of STEMS) for (const suffix of SUFFIXES) words.push(`${stem}${suffix}`, `${stem.toUpperCase()}${suffix}`);
    const random = prng(7);
    for (let i = 0; i < 3000; i++) {
      const length = 1 + Math.floor(random() * 12);
      let w = '';
      for (let j = 0; j < length; j++) w += 'aeiouybcdlmnrstwxz'[Math.floor(random() * 18)];
      words.push(w + (SUFFIXES[Math.floor(random() * SUFFIXES.length)] as string));
    }
    words.push('x'.repeat(70) + 'ing', 'ab', 'AB12cd', 'under_score', 'it\u2019s', 'semi;colon', 'a\u00a0b', '2024-12-01');
    const expected = sqliteTokens(words);
    words.forEach((w, i) => {
      expect(isSimpleText(w)).toBe(true);
      expect(simpleTokens(w), w).toEqual(expected[i]);
    });
  });

  it('leaves text with non-ASCII letters to SQLite, which the store tokenizer then asks', () => {
    const texts = ['Café naïve Straße', 'ΑΒΓ δέλτα', 'ﬁne ligature', 'plain ascii text', 'curly \u201cquotes\u201d \u2014 dash'];
    expect(texts.map(isSimpleText)).toEqual([false, false, false, true, true]);
    const db = new Database(':memory:');
    expect(ftsTokenizer(db)(texts)).toEqual(sqliteTokens(texts));
    db.close();
  });
});

const VOCABULARY = [
  'salmon', 'salmons', 'grilling', 'grilled', 'grill', 'connection', 'connected', 'connects', 'running', 'runs', 'relational', 'cedar',
  'plank', 'planks', 'charcoal', 'lemon', 'dill', 'smoked', 'rust', 'ownership', 'borrowing', 'borrowed', 'generalization', 'happiness',
  'café', 'naïve', 'Straße', 'δέλτα', 'x-ray', '2024', 'the', 'of', 'and', 'sea', 'river', 'fish', 'fishing', 'fisher', 'hopping',
];

function document(random: () => number, docId: string, docSeq: number, tenant: string): StoreOp {
  const pick = () => VOCABULARY[Math.floor(random() * random() * VOCABULARY.length)] as string;
  const phrase = (n: number) => Array.from({ length: n }, pick).join(' ');
  const chunks = Array.from({ length: 1 + Math.floor(random() * 3) }, (_, ordinal) => ({
    chunkId: `${docSeq}:${ordinal}`,
    ordinal,
    text: phrase(3 + Math.floor(random() * 40)),
    start: 0,
    end: 1,
    tokens: 1,
    ...(random() < 0.5 ? { heading: phrase(1 + Math.floor(random() * 3)) } : {}),
  }));
  return {
    kind: 'chunks',
    tenant,
    source: 'test',
    docId,
    docSeq,
    metadata: { lang: random() < 0.3 ? 'de' : 'en' },
    part: { index: 0, count: 1 },
    totalChunks: chunks.length,
    chunks,
    ...(random() < 0.7 ? { title: phrase(1 + Math.floor(random() * 4)) } : {}),
  };
}

const QUERIES = [
  'salmon', 'grilled salmon on cedar planks', 'connection running', 'café', 'naïve fish', 'Straße δέλτα', 'x-ray 2024',
  'the of and', 'happiness generalization', 'fishing fisher fish', 'borrowing borrowed', 'unknownword', 'sea river relational',
  // Words in most rows next to rare ones: the index skips scanning the common words' lists (pruning) and must still agree.
  'salmon hopping', 'hopping fisher salmon salmons grilling', 'grilling fishing salmon salmon', 'salmon grilled connection hopping',
];

/** Ranks keyword requests with FTS5's bm25() over the live chunk rows of a store file, every match, best first. */
type Oracle = (request: KeywordRequest) => Candidate[];

/**
 * The oracle: an FTS5 table per tenant in memory, filled from the store file's chunk rows as they are now (so its BM25
 * totals are the live rows'), queried as the store once queried its own FTS5 tables: each query word quoted, ORed.
 */
function withFts5Oracle(path: string, check: (oracle: Oracle) => void): void {
  const db = new Database(':memory:');
  try {
    db.prepare('ATTACH DATABASE ? AS s').run(path);
    const tenants = db.prepare('SELECT DISTINCT tenant FROM s.documents').pluck().all() as string[];
    const tables = new Map(tenants.map((t, i) => [t, `fts_${i}`]));
    for (const [tenant, table] of tables) {
      db.exec(`CREATE VIRTUAL TABLE ${table} USING fts5 (text, title, heading, tokenize = '${FTS_TOKENIZE}')`);
      db.prepare(`INSERT INTO ${table} (rowid, text, title, heading) SELECT c.id, c.text, d.title, c.heading FROM s.chunks c JOIN s.documents d ON d.id = c.doc WHERE d.tenant = ?`).run(tenant);
    }
    check((request) => {
      const table = tables.get(request.tenant);
      const terms = queryTerms(request.text);
      if (!table || terms.length === 0) return [];
      const match = terms.map((t) => `"${t.replaceAll('"', '""')}"`).join(' OR ');
      const filter = filterCondition(request.filter);
      const { text, title, heading } = BM25_WEIGHTS;
      const rows = db
        .prepare(
          `SELECT d.source, d.doc_id, c.chunk_id, -bm25(${table}, ${text}, ${title}, ${heading}) AS score
           FROM ${table} JOIN s.chunks c ON c.id = ${table}.rowid JOIN s.documents d ON d.id = c.doc
           WHERE ${table} MATCH ? AND ${filter.sql}`,
        )
        .all(match, ...filter.params) as Array<{ source: string; doc_id: string; chunk_id: string; score: number }>;
      return rows
        .map((r) => ({ key: chunkKey(r.source, r.doc_id, r.chunk_id), score: r.score }))
        .sort((a, b) => b.score - a.score || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    });
  } finally {
    db.close();
  }
}

/** The store ranks every query as FTS5 does, with the same scores, in both tenants, with and without a filter. */
function expectSameRanking(indexed: SqliteInferenceStore, oracle: Oracle): void {
  for (const tenant of ['acme', 'other']) {
    for (const text of QUERIES) {
      for (const limit of [1, 5, 50]) {
        for (const filter of [undefined, { metadata: { lang: 'de' } }]) {
          const request = { tenant, text, limit, ...(filter ? { filter } : {}) };
          const a = indexed.keywordCandidates(request);
          const b = oracle(request);
          // The store keeps every match tied with the last at the cut.
          expect(a.map((c) => c.key), `${tenant} ${text} ${limit}`).toEqual(b.slice(0, a.length).map((c) => c.key));
          expect(a.length).toBeGreaterThanOrEqual(Math.min(limit, b.length));
          const last = a[a.length - 1];
          const next = b[a.length];
          if (last && next) expect(next.score).toBeLessThan(last.score * (1 - 1e-12));
          a.forEach((c, i) => expect(Math.abs(c.score - (b[i]?.score ?? NaN))).toBeLessThanOrEqual(1e-12 * Math.abs(c.score)));
        }
      }
    }
  }
}

/** Random batches of new, replaced and removed documents over 1,500 ids in two tenants, applied with `apply`. */
function randomWrites(random: () => number, apply: (ops: StoreOp[]) => void) {
  const seqs = new Map<string, number>();
  let seq = 0;
  return {
    write(count: number): void {
      const ops: StoreOp[] = [];
      for (let i = 0; i < count; i++) {
        const tenant = random() < 0.8 ? 'acme' : 'other';
        const docId = `d${Math.floor(random() * 1500)}`;
        const key = `${tenant}/${docId}`;
        seq += 1;
        if (seqs.has(key) && random() < 0.3) {
          ops.push({ kind: 'remove', tenant, source: 'test', docId, docSeq: seq });
          seqs.delete(key);
        } else {
          ops.push(document(random, docId, seq, tenant));
          seqs.set(key, seq);
        }
      }
      apply(ops);
    },
    /** Removes this share of the live documents in one batch. */
    removeMost(share: number): void {
      const removals: StoreOp[] = [...seqs.keys()].slice(0, Math.floor(seqs.size * share)).map((key) => {
        const [tenant, docId] = key.split('/') as [string, string];
        seqs.delete(key);
        return { kind: 'remove', tenant, source: 'test', docId, docSeq: ++seq };
      });
      apply(removals);
    },
  };
}

/** A store file's path in a new temp dir (remove the dir at the end). */
function tempStorePath(): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'spanda-keywords-'));
  return { dir, path: join(dir, 'store.db') };
}

describe('the keyword index', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('ranks and scores like FTS5 bm25 with the same weights, through updates, deletes and compaction', () => {
    const { dir, path } = tempStorePath();
    let indexed = SqliteInferenceStore.open({ path, model: MODEL });
    // A new store opens with its (empty) index loaded.
    expect(indexed.memory().keywordsLoading).toBe(false);
    const random = prng(42);
    const compare = () => withFts5Oracle(path, (oracle) => expectSameRanking(indexed, oracle));
    const { write, removeMost } = randomWrites(random, (ops) => indexed.apply({ ops, checkpoints: {} }));
    for (let round = 0; round < 6; round++) write(500);
    compare();
    // Delete nearly everything: the index compacts (dead rows outnumber the live ones) and must still agree.
    removeMost(0.9);
    compare();
    write(300);
    compare();
    // Reopened, the index is rebuilt from the rows; the first keyword query ends its load.
    indexed.close();
    indexed = SqliteInferenceStore.open({ path, model: MODEL });
    expect(indexed.memory().keywordsLoading).toBe(true);
    compare();
    expect(indexed.memory().keywordsLoading).toBe(false);
    indexed.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads after open a page per timer turn while batches apply, and ends like a full load', () => {
    vi.useFakeTimers();
    const { dir, path } = tempStorePath();
    let indexed = SqliteInferenceStore.open({ path, model: MODEL });
    const random = prng(5);
    const { write, removeMost } = randomWrites(random, (ops) => indexed.apply({ ops, checkpoints: {} }));
    for (let round = 0; round < 8; round++) write(500);
    removeMost(0.2);
    indexed.close();
    indexed = SqliteInferenceStore.open({ path, model: MODEL });
    // Batches between the pages replace, remove and add rows on both sides of the load's position.
    let turns = 0;
    while (indexed.memory().keywordsLoading) {
      // Its stats say so, with the chunks loaded so far (/readyz shows it).
      expect(indexed.stats().keywordIndexLoading?.chunks).toBeGreaterThanOrEqual(512 * Math.min(turns, 1));
      expect(turns++).toBeLessThan(100);
      write(60);
      vi.advanceTimersToNextTimer();
    }
    expect(turns).toBeGreaterThan(3);
    expect(indexed.stats().keywordIndexLoading).toBeUndefined();
    withFts5Oracle(path, (oracle) => expectSameRanking(indexed, oracle));
    write(200);
    removeMost(0.5);
    withFts5Oracle(path, (oracle) => expectSameRanking(indexed, oracle));
    // The same as an index loaded at once from the file as it is now.
    const reopened = SqliteInferenceStore.open({ path, model: MODEL });
    reopened.loadKeywordsNow();
    expect(reopened.memory().keywordsLoading).toBe(false);
    withFts5Oracle(path, (oracle) => expectSameRanking(reopened, oracle));
    for (const store of [reopened, indexed]) store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ends the load at once for a keyword query, plain or expanded (RM3), and answers as a loaded index', () => {
    vi.useFakeTimers();
    const { dir, path } = tempStorePath();
    let store = SqliteInferenceStore.open({ path, model: MODEL });
    randomWrites(prng(3), (ops) => store.apply({ ops, checkpoints: {} })).write(2000);
    const request = { tenant: 'acme', text: 'grilled salmon', limit: 10, expansion: 'rm3' as const };
    const plain = { ...request, expansion: 'none' as const };
    const loaded = { expanded: store.keywordCandidates(request), plain: store.keywordCandidates(plain) };
    expect(loaded.expanded.map((c) => c.key)).not.toEqual(loaded.plain.map((c) => c.key));
    for (const [ask, want] of [[request, loaded.expanded], [plain, loaded.plain]] as const) {
      store.close();
      store = SqliteInferenceStore.open({ path, model: MODEL });
      expect(store.memory().keywordsLoading).toBe(true);
      expect(store.keywordCandidates(ask)).toEqual(want);
      expect(store.memory().keywordsLoading).toBe(false);
    }
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds a tenant of one chunk in a few hundred bytes, so thousands of small tenants stay small', () => {
    const index = new KeywordIndex(() => []);
    const rows = Array.from({ length: 1_000 }, (_, t): KeywordChange => ({ kind: 'add', tenant: `t${t}`, chunk: t + 1, doc: t + 1, key: `k${t}`, text: `notes of tenant ${t} about walruses and glaciers`, title: 'Notes', heading: null }));
    index.apply(rows);
    // Arrays of 16 rows and a posting list per word (1,024 rows at first took 21 KB a tenant, before its word table).
    expect(index.bytes / 1_000).toBeLessThan(1_024);
    expect(index.tenant('t999')?.search(['walrus'], { text: 1, title: 1, heading: 1 }, 5).map((h) => h.chunk)).toEqual([1_000]);
  });

  it('holds the same postings whether rows arrive one per batch or many (postings are appended sorted by term per batch)', () => {
    const random = prng(9);
    const words = Array.from({ length: 2000 }, (_, i) => `w${i.toString(36)}x`);
    const text = (n: number) => Array.from({ length: n }, () => words[Math.floor(random() * random() * words.length)] as string).join(' ');
    // Adds, re-adds of a chunk (its old row dies) and removes, enough to compact (dead rows outnumber live ones).
    const changes: KeywordChange[] = [];
    for (let i = 0; i < 6000; i++) {
      const chunk = 1 + Math.floor(random() * 2500);
      if (i > 3000 && random() < 0.6) changes.push({ kind: 'remove', tenant: 't', chunk });
      else changes.push({ kind: 'add', tenant: 't', chunk, doc: chunk % 97, key: `k${chunk}`, text: text(5 + Math.floor(random() * 60)), title: random() < 0.5 ? text(3) : null, heading: null });
    }
    const one = new KeywordIndex(() => []);
    for (const change of changes) one.apply([change]);
    const many = new KeywordIndex(() => []);
    for (let i = 0; i < changes.length; i += 700) many.apply(changes.slice(i, i + 700));
    const weights = { text: 1, title: 2, heading: 1 };
    for (let q = 0; q < 200; q++) {
      const tokens = simpleTokens(text(1 + Math.floor(random() * 4)));
      expect(many.tenant('t')?.search(tokens, weights, 20), tokens.join(' ')).toEqual(one.tenant('t')?.search(tokens, weights, 20));
    }
    expect(many.size).toBe(one.size);
    expect(many.bytes).toBe(one.bytes);
  });
});
