// Unit tests of the per-tenant vector matrix: exact cosine ranking, best window per chunk, swap-remove, growth and ties.
import { describe, expect, it } from 'vitest';
import { prng } from '../../../lib/prng.ts';
import { normalisedCopy, quantize, QUANTIZED_MIN_ROWS, TenantMatrix, VectorIndex, type ChunkScore } from './vector-index.ts';

const DIMS = 4;
const bytes = (...xs: number[]) => new Uint8Array(new Float32Array(xs).buffer);
const q = (...xs: number[]) => normalisedCopy(new Float32Array(xs));
const sorted = (hits: { chunk: number; score: number }[]) =>
  [...hits].sort((a, b) => b.score - a.score || a.chunk - b.chunk).map((h) => [h.chunk, Math.round(h.score * 1000) / 1000]);

describe('TenantMatrix', () => {
  it('ranks chunks by cosine, whatever the length of stored and query vectors', () => {
    const m = new TenantMatrix(DIMS, 1);
    m.upsert(1, 10, 0, bytes(5, 0, 0, 0));
    m.upsert(2, 20, 0, bytes(0, 0.1, 0, 0));
    m.upsert(3, 30, 0, bytes(1, 1, 0, 0));
    expect(sorted(m.search(q(0, 3, 0, 0), 2))).toEqual([
      [20, 1],
      [30, 0.707],
    ]);
  });

  it('scores a chunk by its best window and still returns k distinct chunks', () => {
    const m = new TenantMatrix(DIMS);
    for (let w = 0; w < 5; w++) m.upsert(100 + w, 1, 7, bytes(1, w * 0.01, 0, 0));
    m.upsert(200, 2, 8, bytes(0.9, 0.5, 0, 0));
    m.upsert(300, 3, 9, bytes(0, 0, 1, 0));
    const hits = m.search(q(1, 0, 0, 0), 2);
    expect(sorted(hits).map(([chunk]) => chunk)).toEqual([1, 2]);
    // Only the rows of the allowed documents are scored, and a chunk still counts once, by its best window.
    expect(sorted(m.searchDocuments(q(0, 1, 0, 0), new Set([7, 9]), 10))).toEqual([
      [1, 0.04],
      [3, 0],
    ]);
    expect(m.searchDocuments(q(0, 1, 0, 0), new Set(), 10)).toEqual([]);
  });

  it('returns every chunk when k exceeds the rows, and nothing when empty', () => {
    const m = new TenantMatrix(DIMS);
    expect(m.search(q(1, 0, 0, 0), 5)).toEqual([]);
    m.upsert(1, 1, 0, bytes(1, 0, 0, 0));
    m.upsert(2, 2, 0, bytes(0, 1, 0, 0));
    expect(m.search(q(1, 0, 0, 0), 50)).toHaveLength(2);
  });

  it('includes every chunk tied with the last one kept', () => {
    const m = new TenantMatrix(DIMS);
    m.upsert(1, 1, 0, bytes(1, 0, 0, 0));
    for (let i = 2; i <= 30; i++) m.upsert(i, i, 0, bytes(0, 1, 0, 0));
    const hits = m.search(q(1, 1, 0, 0), 2);
    expect(hits).toHaveLength(30);
  });

  it('swaps the last row into a removed one and grows past its capacity', () => {
    const m = new TenantMatrix(DIMS, 1);
    for (let i = 0; i < 100; i++) m.upsert(i, i, 0, bytes(i % 4 === 0 ? 1 : 0, i % 4 === 1 ? 1 : 0, i % 4 === 2 ? 1 : 0, i % 4 === 3 ? 1 : 0));
    for (let i = 0; i < 100; i += 2) m.remove(i);
    m.remove(999);
    expect(m.size).toBe(50);
    const hits = m.search(q(0, 1, 0, 0), 100);
    expect(hits.filter((h) => h.score > 0.99).map((h) => h.chunk).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 25 }, (_, i) => 1 + i * 4),
    );
    // Upserting an existing vector id replaces its row.
    m.upsert(1, 1, 0, bytes(0, 0, 0, 1));
    expect(m.size).toBe(50);
    expect(m.search(q(0, 0, 0, 1), 100).find((h) => h.chunk === 1)?.score).toBeCloseTo(1, 5);
    expect(m.search(q(0, 1, 0, 0), 100).find((h) => h.chunk === 1)?.score).toBeCloseTo(0, 5);
  });
});

describe('TenantMatrix.searchDocuments', () => {
  // Deterministic pseudo-random rows: 300 documents × 3 chunks × 2 windows.
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
  const m = new TenantMatrix(DIMS);
  const rows: Array<{ doc: number; chunk: number; v: number[] }> = [];
  let id = 0;
  for (let doc = 0; doc < 300; doc++) {
    for (let c = 0; c < 3; c++) {
      for (let w = 0; w < 2; w++) {
        const v = [rand(), rand(), rand(), rand()];
        rows.push({ doc, chunk: doc * 10 + c, v });
        m.upsert(id++, doc * 10 + c, doc, bytes(...v));
      }
    }
  }
  const brute = (query: number[], docs: Set<number>, want: number) => {
    const unitQ = q(...query);
    const best = new Map<number, number>();
    for (const r of rows) {
      if (!docs.has(r.doc)) continue;
      const norm = Math.hypot(...r.v);
      const score = r.v.reduce((s, x, i) => s + (x / norm) * (unitQ[i] as number), 0);
      best.set(r.chunk, Math.max(best.get(r.chunk) ?? -Infinity, score));
    }
    return [...best].sort((a, b) => b[1] - a[1]).slice(0, want).map(([chunk]) => chunk);
  };

  it.each([
    ['a few documents (scored directly)', 5],
    ['a third of the documents (native scan)', 100],
    ['all documents', 300],
  ])('finds exactly the best chunks of %s', (_name, every) => {
    const docs = new Set(Array.from({ length: 300 }, (_, d) => d).filter((d) => d % Math.round(300 / every) === 0));
    for (const query of [
      [1, 0, 0, 0],
      [0.3, -0.2, 0.9, 0.1],
      [-1, -1, 0.5, 0],
    ]) {
      const want = 10;
      const got = m.searchDocuments(q(...query), docs, want);
      const top = [...got].sort((a, b) => b.score - a.score).slice(0, want).map((h) => h.chunk);
      expect(top).toEqual(brute(query, docs, want));
      expect(got.every((h) => docs.has(Math.floor(h.chunk / 10)))).toBe(true);
    }
  });
});

describe('VectorIndex', () => {
  it('keeps tenants in separate matrices', () => {
    const index = new VectorIndex(DIMS);
    index.apply([
      { kind: 'upsert', tenant: 'a', vectorId: 1, chunk: 1, doc: 1, vector: bytes(1, 0, 0, 0) },
      { kind: 'upsert', tenant: 'b', vectorId: 2, chunk: 2, doc: 2, vector: bytes(1, 0, 0, 0) },
      { kind: 'remove', tenant: 'b', vectorId: 2 },
    ]);
    expect(index.tenant('a')?.size).toBe(1);
    expect(index.tenant('b')?.size).toBe(0);
    expect(index.tenant('c')).toBeUndefined();
    expect(index.size).toBe(1);
  });

  it('grows and searches the matrices of many tenants, small ones on plain arrays', () => {
    // Only a matrix past 8 MB reserves address space for a resizable buffer; 2,100 small tenants reserve none.
    const index = new VectorIndex(DIMS);
    const tenants = 2_100;
    for (let t = 0; t < tenants; t++) index.apply([{ kind: 'upsert', tenant: `t${t}`, vectorId: 1, chunk: 1, doc: 1, vector: bytes(1, 0, 0, 0) }]);
    for (const t of [0, tenants - 1]) {
      const changes = Array.from({ length: 3_000 }, (_, i) => ({ kind: 'upsert' as const, tenant: `t${t}`, vectorId: i + 2, chunk: i + 2, doc: 1, vector: i === 2_999 ? bytes(0, 0, 0, 1) : bytes(0, 1, 0, 0) }));
      index.apply(changes);
      const matrix = index.tenant(`t${t}`) as TenantMatrix;
      expect(matrix.size).toBe(3_001);
      expect(sorted(matrix.search(q(1, 0, 0, 0), 1))).toEqual([[1, 1]]);
      expect(sorted(matrix.search(q(0, 0, 0, 1), 1))).toEqual([[3_001, 1]]);
    }
    expect(index.size).toBe(tenants + 2 * 3_000);
  });
});

describe('TenantMatrix memory', () => {
  it('holds a tenant of one 512-d vector in a few rows, so thousands of small tenants stay small', () => {
    const index = new VectorIndex(512);
    const vector = new Uint8Array(new Float32Array(512).fill(0.5).buffer);
    for (let t = 0; t < 1_000; t++) index.apply([{ kind: 'upsert', tenant: `t${t}`, vectorId: t + 1, chunk: t + 1, doc: t + 1, vector }]);
    // Two rows of 512 floats and their int8 copies: 5 KB a tenant (1,024 rows at first took 2.6 MB each).
    expect(index.bytes / 1_000).toBeLessThanOrEqual(2 * 512 * 5);
    expect(index.tenant('t999')?.search(normalisedCopy(new Float32Array(512).fill(1)), 1).map((h) => h.chunk)).toEqual([1_000]);
  });

  it('gives memory back after deletes and still finds the rows that remain', () => {
    const m = new TenantMatrix(DIMS);
    for (let i = 1; i <= 10_000; i++) m.upsert(i, i, i, bytes(1, i / 10_000, 0, 0));
    const full = m.bytes;
    for (let i = 1; i <= 9_900; i++) m.remove(i);
    expect(m.size).toBe(100);
    expect(m.bytes).toBeLessThan(full / 8);
    const all = m.search(q(1, 1, 0, 0), 100).map((h) => h.chunk).sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 100 }, (_, i) => 9_901 + i));
  });
});

describe('TenantMatrix int8 preselection', () => {
  const dims = 64;
  const rows = QUANTIZED_MIN_ROWS + 5_000;

  /** Clustered rows (like embeddings of related texts) upserted as row i of `chunkOf(i)` in `docOf(i)`. */
  function clustered(seed: number, chunkOf: (i: number) => number, docOf: (i: number) => number) {
    const random = prng(seed);
    const m = new TenantMatrix(dims);
    const data: Float32Array[] = [];
    const centres = Array.from({ length: 50 }, () => Float32Array.from({ length: dims }, () => random() - 0.5));
    for (let i = 0; i < rows; i++) {
      const c = centres[Math.floor(random() * centres.length)] as Float32Array;
      const v = Float32Array.from(c, (x) => x + (random() - 0.5) * 0.4);
      data.push(normalisedCopy(v));
      m.upsert(i + 1, chunkOf(i), docOf(i), new Uint8Array(v.buffer));
    }
    const nearRow = () => normalisedCopy(Float32Array.from(data[Math.floor(random() * rows)] as Float32Array, (x) => x + (random() - 0.5) * 0.05));
    /** `got` holds the exact 10 best chunks (best window each) among the rows `counts` lets in, with exact scores. */
    const expectExactTop10 = (got: ChunkScore[], query: Float32Array, counts: (i: number) => boolean) => {
      const exact = new Map<number, number>();
      data.forEach((v, i) => {
        if (!counts(i)) return;
        let s = 0;
        for (let j = 0; j < dims; j++) s += (v[j] as number) * (query[j] as number);
        exact.set(chunkOf(i), Math.max(exact.get(chunkOf(i)) ?? -Infinity, s));
      });
      const want = [...exact].sort((a, b) => b[1] - a[1]).slice(0, 10);
      const top = [...got].sort((a, b) => b.score - a.score).slice(0, 10);
      expect(top.map((h) => h.chunk)).toEqual(want.map(([chunk]) => chunk));
      top.forEach((h, i) => expect(h.score).toBeCloseTo((want[i] as [number, number])[1], 5));
    };
    return { m, data, nearRow, expectExactTop10 };
  }

  it('finds the exact top 10 with exact scores above QUANTIZED_MIN_ROWS rows', () => {
    // Each chunk with two windows.
    const { m, nearRow, expectExactTop10 } = clustered(3, (i) => Math.floor(i / 2) + 1, () => 1);
    const removed = new Set<number>();
    const check = (queries: number) => {
      for (let t = 0; t < queries; t++) {
        const query = nearRow();
        expectExactTop10(m.search(query, 10), query, (i) => !removed.has(i + 1));
      }
    };
    check(20);
    // Deletes move the last row (and its int8 copy) into the hole: the preselection still sees the rows that remain.
    for (let id = 1; id <= rows; id += 7) {
      m.remove(id);
      removed.add(id);
    }
    expect(m.size).toBeGreaterThanOrEqual(QUANTIZED_MIN_ROWS);
    check(10);
  });

  it('finds the exact top 10 of the documents a filter allows above QUANTIZED_MIN_ROWS rows', () => {
    // 300 documents of ~83 windows; row i belongs to document i % 300, its chunk to that document.
    const docOf = (i: number) => i % 300;
    const { m, data, nearRow, expectExactTop10 } = clustered(5, (i) => Math.floor(i / 2) * 300 + docOf(i) + 1, docOf);
    // A third of the documents, and a tenth (still past the share where the direct loop is used).
    for (const share of [3, 10]) {
      const docs = new Set(Array.from({ length: 300 / share }, (_, d) => d * share));
      for (let t = 0; t < 10; t++) {
        const query = nearRow();
        expectExactTop10(m.searchDocuments(query, docs, 10), query, (i) => docs.has(docOf(i)));
      }
    }
    // A document whose few rows the count's samples may miss is still found, exactly, by the direct loop.
    const one = m.searchDocuments(normalisedCopy(data[7] as Float32Array), new Set([7]), 10);
    expect(new Set(one.map((h) => h.chunk)).size).toBe(Math.ceil((rows - 7) / 300));
    expect(one.every((h) => (h.chunk - 1) % 300 === 7)).toBe(true);
  });
});

describe('quantize', () => {
  it('rounds half up and clamps to ±127 exactly as Math.round did, including halves, -0 and the clamp edges', () => {
    const dims = 16;
    const scale = (127 * Math.sqrt(dims)) / 4; // what quantize multiplies by
    const scaled = [0, 0.5, -0.5, 0.4999, -0.5001, 1.5, -1.5, 126.5, -126.5, 127, -127, 127.4, -127.4, 127.5, -127.5, 300, -300, 63.5, -63.5, 2.5e-8];
    const random = prng(7);
    for (let i = 0; i < 2000; i++) scaled.push((random() * 2 - 1) * 140);
    for (let at = 0; at < scaled.length; at += dims) {
      const values = scaled.slice(at, at + dims);
      const row = new Float32Array(dims);
      values.forEach((v, j) => (row[j] = v / scale));
      const got = new Int8Array(dims);
      quantize(got, 0, row, 0, dims);
      const expected = new Int8Array(dims);
      row.forEach((x, j) => (expected[j] = Math.max(-127, Math.min(127, Math.round(x * scale)))));
      expect([...got]).toEqual([...expected]);
    }
  });

  it('stores a NaN component as 0 (as Math.round\'s NaN was stored)', () => {
    const out = new Int8Array(4).fill(9);
    quantize(out, 0, new Float32Array([Number.NaN, 0.1, -0.1, Number.NaN]), 0, 4);
    expect(out[0]).toBe(0);
    expect(out[3]).toBe(0);
  });
});
