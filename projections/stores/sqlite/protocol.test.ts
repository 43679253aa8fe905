// Unit tests of the worker protocol: errors keep their class across the thread boundary, batches pack and unpack intact.
import { describe, expect, it } from 'vitest';
import { ConfigError, SpandaError, UnavailableError, ValidationError } from '../../../lib/errors.ts';
import type { StoreBatch } from '../../store.ts';
import { deserializeError, packBatch, serializeError, unpackBatch } from './protocol.ts';

const roundTrip = (err: unknown) => deserializeError(structuredClone(serializeError(err)));

describe('error serialisation', () => {
  it('re-creates Spanda errors with their class, message and details', () => {
    const validation = roundTrip(new ValidationError('bad key', ['filter.metadata: invalid key']));
    expect(validation).toBeInstanceOf(ValidationError);
    expect(validation).toMatchObject({ message: 'bad key', issues: ['filter.metadata: invalid key'], code: 'validation' });
    expect(roundTrip(new ConfigError('rebuild'))).toBeInstanceOf(ConfigError);
    expect(roundTrip(new UnavailableError('later', 9))).toMatchObject({ retryAfterSeconds: 9 });
    const custom = roundTrip(new SpandaError('store-thing', 'odd'));
    expect(custom).toBeInstanceOf(SpandaError);
    expect(custom).toMatchObject({ code: 'store-thing', message: 'odd' });
  });

  it('keeps foreign errors as plain errors with their name and code', () => {
    const sqlite = Object.assign(new Error('constraint failed'), { name: 'SqliteError', code: 'SQLITE_CONSTRAINT' });
    const back = roundTrip(sqlite);
    expect(back).not.toBeInstanceOf(SpandaError);
    expect(back).toMatchObject({ name: 'SqliteError', code: 'SQLITE_CONSTRAINT', message: 'constraint failed' });
    expect(roundTrip('a string')).toMatchObject({ message: 'a string' });
  });
});

describe('batch packing', () => {
  it('puts every vector in one fresh buffer and gives the same batch back', () => {
    const shared = new Float32Array([1, 2, 3, 4, 5, 6]);
    const batch: StoreBatch = {
      ops: [
        { kind: 'remove', tenant: 't', source: 's', docId: 'a', docSeq: 3 },
        {
          kind: 'vectors',
          tenant: 't',
          source: 's',
          docId: 'b',
          docSeq: 4,
          model: 'm',
          vectors: [
            { chunkId: '4:0', window: 0, vector: shared.subarray(0, 3) },
            { chunkId: '4:0', window: 1, vector: shared.subarray(3, 6) },
          ],
        },
      ],
      checkpoints: { CHUNKS: 4 },
    };
    const packed = packBatch(batch);
    expect(packed.floats.buffer).not.toBe(shared.buffer);
    const back = unpackBatch(structuredClone(packed, { transfer: [packed.floats.buffer as ArrayBuffer] }));
    expect(back.checkpoints).toEqual({ CHUNKS: 4 });
    expect(back.ops[0]).toEqual(batch.ops[0]);
    const vectors = back.ops[1]?.kind === 'vectors' ? back.ops[1].vectors : [];
    expect(vectors.map((v) => [v.chunkId, v.window, [...v.vector]])).toEqual([
      ['4:0', 0, [1, 2, 3]],
      ['4:0', 1, [4, 5, 6]],
    ]);
    // The caller's buffer is untouched.
    expect([...shared]).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
