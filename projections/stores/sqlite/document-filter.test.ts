// The in-memory document filter against SQL's answer (sql-filter.ts) over the same rows: odd metadata, random filters, updates and deletes.
import { describe, expect, it } from 'vitest';
import { prng } from '../../../lib/prng.ts';
import { canonicalJson } from '../../../streams/ids.ts';
import type { SearchFilter } from '../../store.ts';
import { DocumentFilterIndex, TenantDocuments } from './document-filter.ts';
import { openDatabase } from './schema.ts';
import { filterCondition } from './sql-filter.ts';

// Values whose JSON types differ but look alike (1, 1.0, true, "1"), arrays of them, objects, null, and keys a filter
// may or may not name (dots and dashes allowed; spaces, unicode, an empty key never are).
const SCALARS: readonly unknown[] = [1, 1.5, 0, -0, 2, true, false, '1', 'true', 'de', 'en', 'DE', '', 'a b', 'ü', 1e21, -3];
const KEYS = ['lang', 'n', 'tags', 'flag', 'a.b', 'x-y', 'key with space', 'ключ', ''];
const FILTER_KEYS = ['lang', 'n', 'tags', 'flag', 'a.b', 'x-y', 'missing'];

function metadataOf(random: () => number): Record<string, unknown> {
  const pick = () => SCALARS[Math.floor(random() * SCALARS.length)];
  const out: Record<string, unknown> = {};
  for (const key of KEYS) {
    const r = random();
    if (r < 0.45) continue;
    if (r < 0.75) out[key] = pick();
    else if (r < 0.88) out[key] = Array.from({ length: Math.floor(random() * 4) }, () => (random() < 0.15 ? { nested: pick() } : random() < 0.1 ? [pick()] : pick()));
    else if (r < 0.94) out[key] = { inner: pick() };
    else out[key] = null;
  }
  return out;
}

function filterOf(random: () => number): SearchFilter {
  const filter: { source?: string[]; docId?: string[]; metadata?: Record<string, unknown> } = {};
  if (random() < 0.2) filter.source = ['s0', 's1', 's2'].filter(() => random() < 0.5);
  if (random() < 0.15) filter.docId = Array.from({ length: Math.floor(random() * 4) }, () => `d${Math.floor(random() * 60)}`);
  if (random() < 0.9) {
    const metadata: Record<string, unknown> = {};
    for (const key of FILTER_KEYS) {
      if (random() < 0.7) continue;
      const values = SCALARS.filter((v) => typeof v !== 'number' || Number.isFinite(v)).filter(() => random() < 0.15);
      metadata[key] = random() < 0.5 && values.length === 1 ? values[0] : values;
    }
    filter.metadata = metadata;
  }
  return filter as SearchFilter;
}

describe('the document filter index', () => {
  it('allows exactly the documents SQL allows, loaded from the file or kept current through puts, updates and removes', () => {
    const db = openDatabase(':memory:', { id: 'm', dims: 4 });
    const insert = db.prepare(
      `INSERT INTO documents (tenant, source, doc_id, doc_seq, deleted, title, url, metadata, total_chunks) VALUES (?, ?, ?, ?, 0, NULL, NULL, ?, 0)
       ON CONFLICT (tenant, source, doc_id) DO UPDATE SET doc_seq = excluded.doc_seq, deleted = 0, metadata = excluded.metadata RETURNING id`,
    );
    const tombstone = db.prepare(`UPDATE documents SET deleted = 1, metadata = '{}' WHERE id = ?`);
    const random = prng(11);
    const kept = new TenantDocuments();
    const live: number[] = [];
    let seq = 0;
    const sqlAllowed = (tenant: string, filter: SearchFilter) => {
      const condition = filterCondition(filter);
      const ids = db.prepare(`SELECT d.id FROM documents d WHERE d.tenant = ? AND d.deleted = 0 AND ${condition.sql}`).pluck().all(tenant, ...condition.params) as number[];
      return ids.sort((a, b) => a - b);
    };
    const sorted = (set: ReadonlySet<number>) => [...set].sort((a, b) => a - b);
    let nonEmpty = 0;
    for (let round = 0; round < 8; round++) {
      for (let i = 0; i < 150; i++) {
        if (live.length > 0 && random() < 0.2) {
          const doc = live.splice(Math.floor(random() * live.length), 1)[0] as number;
          tombstone.run(BigInt(doc));
          kept.remove(doc);
          continue;
        }
        const tenant = random() < 0.8 ? 't' : 'other';
        const source = `s${Math.floor(random() * 3)}`;
        const docId = `d${Math.floor(random() * 60)}`;
        const metadata = metadataOf(random);
        const { id } = insert.get(tenant, source, docId, BigInt(++seq), canonicalJson(metadata)) as { id: number };
        if (tenant !== 't') continue;
        kept.put(id, source, docId, metadata);
        if (!live.includes(id)) live.push(id);
      }
      // Read from the file now (what a store does the first time a tenant is filtered) and kept current since the start.
      const loaded = new DocumentFilterIndex(db).tenant('t');
      expect(loaded.size).toBe(kept.size);
      for (let q = 0; q < 200; q++) {
        const filter = filterOf(random);
        const want = sqlAllowed('t', filter);
        if (want.length > 0) nonEmpty++;
        expect(sorted(kept.allowed(filter)), JSON.stringify(filter)).toEqual(want);
        expect(sorted(loaded.allowed(filter)), JSON.stringify(filter)).toEqual(want);
      }
    }
    // The filters asked are not trivially empty.
    expect(nonEmpty).toBeGreaterThan(300);
    db.close();
  });

  it('follows committed changes only for tenants it has read, and reads the others as they are when first asked', () => {
    const db = openDatabase(':memory:', { id: 'm', dims: 4 });
    const insert = db.prepare(`INSERT INTO documents (tenant, source, doc_id, doc_seq, deleted, metadata, total_chunks) VALUES (?, 's', ?, 1, 0, ?, 0) RETURNING id`);
    const add = (tenant: string, docId: string, lang: string) => (insert.get(tenant, docId, JSON.stringify({ lang })) as { id: number }).id;
    const index = new DocumentFilterIndex(db);
    const a1 = add('a', 'one', 'de');
    expect(sorted(index.tenant('a').allowed({ metadata: { lang: 'de' } }))).toEqual([a1]);
    const a2 = add('a', 'two', 'de');
    const b1 = add('b', 'one', 'de');
    index.apply([
      { kind: 'put', tenant: 'a', doc: a2, source: 's', docId: 'two', metadata: { lang: 'de' } },
      { kind: 'put', tenant: 'b', doc: b1, source: 's', docId: 'one', metadata: { lang: 'de' } },
      { kind: 'remove', tenant: 'a', doc: a1 },
    ]);
    expect(sorted(index.tenant('a').allowed({ metadata: { lang: 'de' } }))).toEqual([a2]);
    // Tenant b was never read: it is read now, from the file (where the put above was never applied to the index).
    expect(sorted(index.tenant('b').allowed({ metadata: { lang: 'de' } }))).toEqual([b1]);
    db.close();
  });
});

const sorted = (set: ReadonlySet<number>) => [...set].sort((a, b) => a - b);
