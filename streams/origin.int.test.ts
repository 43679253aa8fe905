// The origin check on a real JetStream: the same verdicts whether DOCUMENTS is read a message at a time or as a range of headers.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { consumersAfterDeletes, startTestNats, type TestNats } from '../test/helpers/nats.ts';
import { publishDeletion, publishDocument } from './document-log.ts';
import type { SpandaEvent, StoredEvent } from './events/index.ts';
import { RANGE_MIN, createOriginCheck } from './origin.ts';
import { STREAMS } from './provision.ts';

let nats: TestNats;

beforeEach(async () => {
  nats = await startTestNats();
});
afterEach(async () => {
  await nats.stop();
});

/** A document.removed event (the smallest event the check reads) claiming to come from DOCUMENTS `docSeq`. */
function removal(id: string, docSeq: number, at: number): StoredEvent<SpandaEvent> {
  return {
    type: 'document.removed',
    data: { tenant: 'acme', source: 'api', id, docSeq },
    metadata: {},
    position: { stream: STREAMS.CHUNKS, seq: at, subject: `chunks.acme.api.${id}` },
  } as unknown as StoredEvent<SpandaEvent>;
}

describe('the origin check', () => {
  it('gives each event the same verdict alone (a getMessage) as among many close together (one range of headers)', async () => {
    const seqs: number[] = [];
    for (let i = 0; i < RANGE_MIN + 10; i++) seqs.push((await publishDocument(nats.handle, 'acme', { id: `d${i}`, source: 'api', text: `text ${i}`, metadata: {} })).seq);
    const deleted = (await publishDeletion(nats.handle, { tenant: 'acme', source: 'api', id: 'd3' })).seq;
    // A hole inside the range: the message at d7's sequence is gone from DOCUMENTS.
    await nats.handle.jsm.streams.deleteMessage(STREAMS.DOCUMENTS, seqs[7] as number);
    const events = [
      ...seqs.map((seq, i) => removal(`d${i}`, seq, i + 1)),
      removal('d3', deleted, seqs.length + 1), // a removal may come from a delete
      removal('d5', seqs[6] as number, seqs.length + 2), // another document's version
      removal('d9', deleted + 5, seqs.length + 3), // past the end of DOCUMENTS
    ];
    const together = await createOriginCheck(nats.handle).check(events);
    const alone: Array<unknown> = [];
    for (const event of events) alone.push((await createOriginCheck(nats.handle).check([event]))[0]);
    const reasons = (verdicts: readonly unknown[]) => verdicts.map((v) => (v instanceof Error ? v.message : 'ok'));
    expect(reasons(together)).toEqual(reasons(alone));
    const rejected = reasons(together).flatMap((r, i) => (r === 'ok' ? [] : [i]));
    const n = seqs.length;
    expect(rejected).toEqual([7, n + 1, n + 2]);
    expect(reasons(together)[7]).toMatch(/DOCUMENTS has no message there/);
    expect(reasons(together)[n + 1]).toMatch(/not on docs\.acme\.api\.d5/);
    expect(reasons(together)[n + 2]).toMatch(/past the end of DOCUMENTS/);
  });

  it("accepts an erasure only when it names the document's deletion: anything else would make the catalog forget a live document", async () => {
    const upserted = (await publishDocument(nats.handle, 'acme', { id: 'e1', source: 'api', text: 'text', metadata: {} })).seq;
    const deleted = (await publishDeletion(nats.handle, { tenant: 'acme', source: 'api', id: 'e1' })).seq;
    const erasure = (docSeq: number, at: number) =>
      ({
        type: 'document.erased',
        data: { tenant: 'acme', source: 'api', id: 'e1', docSeq },
        metadata: {},
        position: { stream: STREAMS.ERASURES, seq: at, subject: 'erasures.acme.api.e1' },
      }) as unknown as StoredEvent<SpandaEvent>;
    const verdicts = await createOriginCheck(nats.handle).check([erasure(deleted, 1), erasure(upserted, 2), erasure(deleted + 10, 3)]);
    expect(verdicts[0]).toBeUndefined();
    expect(verdicts[1]?.message).toMatch(/is a document\.upserted, not a document\.deleted/);
    expect(verdicts[2]?.message).toMatch(/past the end of DOCUMENTS/);
  });

  it('leaves no consumer on DOCUMENTS after reading a range of headers', async () => {
    const seqs: number[] = [];
    for (let i = 0; i < RANGE_MIN; i++) seqs.push((await publishDocument(nats.handle, 'acme', { id: `r${i}`, source: 'api', text: `text ${i}`, metadata: {} })).seq);
    const verdicts = await createOriginCheck(nats.handle).check(seqs.map((seq, i) => removal(`r${i}`, seq, i + 1)));
    expect(verdicts.filter((v) => v !== undefined)).toEqual([]);
    // The client would leave the range's ordered consumer on the server for 5 minutes; the check deletes it.
    expect(await consumersAfterDeletes(nats, STREAMS.DOCUMENTS)).toEqual([]);
  });
});
