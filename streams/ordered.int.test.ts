// One-off reads on a real JetStream: their ordered consumers are deleted on the server when the read ends, however it ends.
import { describe, expect, it } from 'vitest';
import { consumersAfterDeletes } from '../test/helpers/nats.ts';
import { natsWithDocuments } from '../test/helpers/nats-with-documents.ts';
import { listConsumers } from './consumer-list.ts';
import { ONE_OFF_INACTIVE_MS, readOnce } from './ordered.ts';
import { STREAMS } from './provision.ts';
import { readSlice } from './read.ts';

const nats = natsWithDocuments();

describe('one-off reads', () => {
  it('read with a consumer that expires 30 s after its last pull, and delete it when done', async () => {
    const during = await readOnce(nats().handle, STREAMS.DOCUMENTS, {}, async (consumer) => {
      const info = await consumer.info();
      const names = (await listConsumers(nats().handle, STREAMS.DOCUMENTS)).map((c) => c.name);
      return { threshold: info.config.inactive_threshold, names, name: info.name };
    });
    expect(during.threshold).toBe(ONE_OFF_INACTIVE_MS * 1_000_000); // nanoseconds on the wire
    expect(during.names).toEqual([during.name]);
    expect(await consumersAfterDeletes(nats(), STREAMS.DOCUMENTS)).toEqual([]);
  });

  it('delete the consumer when the read fails, and pass the failure on', async () => {
    await expect(
      readOnce(nats().handle, STREAMS.DOCUMENTS, {}, async () => {
        throw new Error('the reader gave up');
      }),
    ).rejects.toThrow('the reader gave up');
    expect(await consumersAfterDeletes(nats(), STREAMS.DOCUMENTS)).toEqual([]);
  });

  it('readSlice reads the whole slice and leaves no consumer behind', async () => {
    const seqs: number[] = [];
    const read = await readSlice(nats().handle, { stream: STREAMS.DOCUMENTS, filterSubject: 'docs.>', upTo: 5, batchSize: 2 }, async (batch) => {
      seqs.push(...batch.map((m) => m.seq));
    });
    expect(read).toBe(5);
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    expect(await consumersAfterDeletes(nats(), STREAMS.DOCUMENTS)).toEqual([]);
  });
});
