// Folding a batch of events into the digest store at once: the same content as one at a time, refused events skipped alone.
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../lib/errors.ts';
import type { StoreOp } from './store.ts';
import { applyEvents } from './log-digest.ts';
import { SqliteInferenceStore, type StoreMode } from './stores/sqlite/sqlite-store.ts';

const model = { id: 'm', dims: 2 };
const ref = (docId: string) => ({ tenant: 't', source: 's', docId });

function chunksOf(docId: string, docSeq: number, text: string): StoreOp[] {
  return [{ ...ref(docId), kind: 'chunks', docSeq, metadata: {}, part: { index: 0, count: 1 }, totalChunks: 1, chunks: [{ chunkId: 'c0', ordinal: 0, text, start: 0, end: text.length, tokens: 2 }] }];
}
function vectorsOf(docId: string, docSeq: number, modelId = model.id): StoreOp[] {
  return [{ ...ref(docId), kind: 'vectors', docSeq, model: modelId, vectors: [{ chunkId: 'c0', window: 0, vector: new Float32Array([0.6, 0.8]) }] }];
}

// a: two versions; b: chunks, vectors, then removed; c: vectors of another model (refused by the store); d: plain
const events: StoreOp[][] = [
  chunksOf('a', 1, 'first version'),
  vectorsOf('b', 2),
  chunksOf('b', 2, 'b text'),
  vectorsOf('c', 3, 'other-model'),
  chunksOf('a', 4, 'second version'),
  vectorsOf('a', 4),
  [{ ...ref('b'), kind: 'remove', docSeq: 5 }],
  chunksOf('d', 6, 'd text'),
  vectorsOf('d', 6),
];

function digestOf(mode: StoreMode, fill: (store: SqliteInferenceStore) => Promise<void>): Promise<string> {
  const store = SqliteInferenceStore.open({ path: ':memory:', model, mode });
  return fill(store).then(
    () => {
      const digest = store.digest();
      store.close();
      return digest;
    },
    (err: unknown) => {
      store.close();
      throw err;
    },
  );
}

const applyTo = (store: SqliteInferenceStore) => (ops: StoreOp[]) => store.apply({ ops, checkpoints: {} });

describe('applyEvents', () => {
  it('gives one event at a time, all at once and the digest mode the same content, skipping the refused event alone', async () => {
    const oneByOne = await digestOf('serve', (s) => applyEvents(events, applyTo(s)));
    const together = await digestOf('digest', (s) => applyEvents(events, applyTo(s), applyTo(s)));
    const withoutRefused = await digestOf('build', async (s) => {
      for (const [i, ops] of events.entries()) if (i !== 3) s.apply({ ops, checkpoints: {} });
    });
    expect(together).toBe(oneByOne);
    expect(together).toBe(withoutRefused);
  });

  it('falls back to one event at a time only when the batch is refused, and uses the batch otherwise', async () => {
    const callsFor = async (batch: StoreOp[][]) => {
      const calls: string[] = [];
      await digestOf('digest', async (s) => {
        const recording = (call: string) => (ops: StoreOp[]) => {
          calls.push(call);
          s.apply({ ops, checkpoints: {} });
        };
        await applyEvents(batch, recording('one'), recording('all'));
      });
      return calls;
    };
    expect(await callsFor(events.filter((_, i) => i !== 3))).toEqual(['all']);
    expect(await callsFor(events)).toEqual(['all', ...events.map(() => 'one')]);
  });

  it('stops at a store that cannot write (disk full) instead of skipping every event as refused', async () => {
    const full = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    const skipped: string[] = [];
    const failing = () => {
      throw full;
    };
    await expect(applyEvents(events, failing, failing)).rejects.toBe(full);
    const refusing = (ops: StoreOp[]) => {
      skipped.push(ops[0]?.kind ?? '');
      throw new ValidationError('refused');
    };
    await expect(applyEvents(events.slice(0, 2), refusing, refusing)).resolves.toBeUndefined();
    expect(skipped).toEqual(['chunks', 'chunks', 'vectors']);
  });
});
