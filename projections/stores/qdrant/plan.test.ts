// Pure parts of the Qdrant store: the guard's planned writes, request splitting that keeps order, and cuts that never split a tie.
import { describe, expect, it } from 'vitest';
import type { StoreOp } from '../../store.ts';
import { documentPointId, pendingPointId } from './names.ts';
import { planBatch, type HeldDocument } from './plan.ts';
import { requestsOf } from './qdrant-store.ts';
import { topWithTies } from './retrieve.ts';

const ref = { tenant: 'acme', source: 'blog', docId: 'a' };
const chunks = (docSeq: number, ids: string[]): StoreOp => ({
  ...ref,
  kind: 'chunks',
  docSeq,
  metadata: { lang: 'en' },
  part: { index: 0, count: 1 },
  totalChunks: ids.length,
  chunks: ids.map((chunkId, ordinal) => ({ chunkId, ordinal, text: `text ${chunkId}`, start: 0, end: 4, tokens: 2 })),
});
const vectors = (docSeq: number, ids: string[]): StoreOp => ({
  ...ref,
  kind: 'vectors',
  docSeq,
  model: 'm',
  vectors: ids.map((chunkId) => ({ chunkId, window: 0, vector: new Float32Array([1, 0]) })),
});
const kinds = (ops: ReturnType<typeof planBatch>) =>
  ops.map((op) =>
    'upsert' in op && 'points' in op.upsert
      ? `upsert ${op.upsert.points.map((p) => (p.payload as { kind: string }).kind).join(',')}`
      : 'delete' in op && 'filter' in op.delete
        ? 'delete content'
        : `delete ${'delete' in op && 'points' in op.delete ? op.delete.points.length : '?'} ids`,
  );

describe('planBatch', () => {
  it('writes old content away before the new record, the record before its chunks, and attaches waiting vectors', () => {
    const held = new Map<string, HeldDocument>();
    expect(kinds(planBatch([vectors(2, ['2:0']), chunks(1, ['1:0']), chunks(2, ['2:0'])], held))).toEqual([
      'upsert pending,document,chunk',
      'delete content',
      'upsert document,chunk,vector',
      'delete 1 ids',
    ]);
    expect(held.get(`acme\u0000blog\u0000a`)).toMatchObject({ record: { docSeq: 2, deleted: false }, chunks: new Set(['2:0']), pending: new Map() });
  });

  it('plans nothing for a replay of what is held, or for older versions', () => {
    const held = new Map<string, HeldDocument>();
    planBatch([chunks(3, ['3:0']), { ...ref, kind: 'remove', docSeq: 4 }], held);
    expect(planBatch([chunks(3, ['3:0']), vectors(3, ['3:0']), { ...ref, kind: 'remove', docSeq: 4 }], held)).toEqual([]);
  });

  it('sends a point written twice in a row once, with its later content', () => {
    const ops = planBatch([chunks(5, ['5:0']), { ...ref, kind: 'remove', docSeq: 6 }, { ...ref, kind: 'remove', docSeq: 7 }], new Map());
    const docs = ops.flatMap((op) => ('upsert' in op && 'points' in op.upsert ? op.upsert.points : [])).filter((p) => p.id === documentPointId(ref));
    expect(docs.map((p) => (p.payload as { docSeq: number }).docSeq)).toEqual([5, 7]);
  });

  it('drops pending vectors a tombstone makes unreachable', () => {
    const held = new Map<string, HeldDocument>();
    planBatch([vectors(8, ['8:0']), vectors(12, ['12:0'])], held);
    const ops = planBatch([{ ...ref, kind: 'remove', docSeq: 10 }], held);
    expect(ops.at(-1)).toEqual({ delete: { points: [pendingPointId(ref, 8, '8:0', 0)] } });
    expect([...(held.get(`acme\u0000blog\u0000a`)?.pending.keys() ?? [])]).toEqual([`12\u000012:0\u00000`]);
  });
});

describe('requestsOf', () => {
  it('cuts long upserts into bounded requests without reordering anything', () => {
    const point = (id: number) => ({ id, vector: {}, payload: {} });
    const ops = [{ upsert: { points: [1, 2, 3].map(point) } }, { delete: { points: [9] } }, { upsert: { points: [4, 5, 6, 7].map(point) } }];
    const requests = requestsOf(ops, 3);
    expect(requests.map((r) => r.length)).toEqual([1, 2, 1]); // [1,2,3] | [del, 4,5] | [6,7]
    expect(requests.flat().flatMap((op) => ('upsert' in op && 'points' in op.upsert ? op.upsert.points.map((p) => p.id) : ['del']))).toEqual([1, 2, 3, 'del', 4, 5, 6, 7]);
  });
});

describe('topWithTies', () => {
  it('keeps every chunk tied at the cut, once per chunk with its best window, asking for more until the tie is passed', async () => {
    const points = [
      { key: 'a', score: 0.9 },
      { key: 'a', score: 0.8 },
      { key: 'b', score: 0.5 },
      { key: 'c', score: 0.5 },
      { key: 'd', score: 0.5 },
      { key: 'e', score: 0.1 },
    ];
    const asked: number[] = [];
    const fetch = async (limit: number) => {
      asked.push(limit);
      return points.slice(0, limit);
    };
    expect(await topWithTies(fetch, 2)).toEqual([
      { key: 'a', score: 0.9 },
      { key: 'b', score: 0.5 },
      { key: 'c', score: 0.5 },
      { key: 'd', score: 0.5 },
    ]);
    expect(asked).toEqual([3, 6]);
    expect(await topWithTies(fetch, 10)).toHaveLength(5);
  });
});
