// spanda inspect events on a real JetStream: the last events of a subject, decoded, and no consumer left behind.
import { describe, expect, it } from 'vitest';
import { consumersAfterDeletes } from '../../test/helpers/nats.ts';
import { natsWithDocuments } from '../../test/helpers/nats-with-documents.ts';
import { STREAMS } from '../../streams/provision.ts';
import { readEvents } from './inspect.ts';

const nats = natsWithDocuments();

describe('inspect events', () => {
  it('reads the last events of a subject, or those from a sequence, and deletes the consumers it made', async () => {
    const last = await readEvents(nats().handle, 'docs.>', { last: 2 });
    expect(last.map((e) => e.seq)).toEqual([4, 5]);
    const from = await readEvents(nats().handle, 'docs.acme.api.d1', { fromSeq: 1 });
    expect(from.map((e) => e.seq)).toEqual([2]);
    expect(await readEvents(nats().handle, 'docs.>', { fromSeq: 99 })).toEqual([]);
    expect(await consumersAfterDeletes(nats(), STREAMS.DOCUMENTS)).toEqual([]);
  });
});
