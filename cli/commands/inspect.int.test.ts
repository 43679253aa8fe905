// spanda inspect on a real JetStream: the last events of a subject, decoded; a consumer's backlog by tenant; no consumer left behind.
import { describe, expect, it } from 'vitest';
import { consumersAfterDeletes } from '../../test/helpers/nats.ts';
import { natsWithDocuments } from '../../test/helpers/nats-with-documents.ts';
import { STREAMS } from '../../streams/provision.ts';
import { publishDocument } from '../../streams/document-log.ts';
import { backlogByTenant } from './inspect-backlog.ts';
import { consumerSummaries, readEvents } from './inspect.ts';
import { AckPolicy } from '@nats-io/jetstream';

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

  it('returns the last events of wide filters over several tenants and ends, however the server counts what is pending', async () => {
    const { handle } = nats();
    for (let i = 0; i < 30; i++) await publishDocument(handle, ['t1', 't2', 'acme'][i % 3] as string, { id: `w${i}`, source: ['api', 'rss'][i % 2] as string, text: `wide ${i}`, metadata: {} });
    const head = (await handle.jsm.streams.info(STREAMS.DOCUMENTS)).state.last_seq;
    // Gaps, as spanda erase leaves them: older servers count deleted messages among a wildcard filter's pending.
    for (const seq of [head - 20, head - 17, head - 15, head - 14, head - 2, head - 1]) await handle.jsm.streams.deleteMessage(STREAMS.DOCUMENTS, seq, true);
    const kept = Array.from({ length: head }, (_, i) => i + 1).filter((seq) => ![head - 20, head - 17, head - 15, head - 14, head - 2, head - 1].includes(seq));
    for (const [filter, last] of [['docs.>', 3], ['docs.*.>', 3], ['docs.>', 12], ['docs.*.rss.>', 4]] as const) {
      const events = await readEvents(handle, filter, { last });
      expect(events.length, filter).toBe(last);
      if (filter !== 'docs.*.rss.>') expect(events.map((e) => e.seq), filter).toEqual(kept.slice(-last));
    }
    expect((await readEvents(handle, 'docs.>', { fromSeq: head - 4, last: 100 })).map((e) => e.seq)).toEqual([head - 4, head - 3, head]);
  });

  it('says what a subject looks like when given something else (a space, an empty token, a wildcard inside a token)', async () => {
    for (const bad of ['docs.> extra', 'docs.> ', 'docs..>', 'docs.>.x', 'docs.a*.b']) {
      await expect(readEvents(nats().handle, bad, { last: 1 }), bad).rejects.toThrow(/is not a subject: dot-separated tokens/);
    }
    await expect(readEvents(nats().handle, 'nothing.here', { last: 1 })).rejects.toThrow(/no stream holds subject "nothing.here"; subjects start with docs\., chunks\., embeddings\., erasures\./);
  });
});

describe('inspect backlog', () => {
  it("counts by tenant what each durable consumer has left after its ack floor, and only that", async () => {
    const { handle } = nats();
    for (const id of ['b1', 'b2']) await publishDocument(handle, 'beta', { id, source: 'api', text: `beta ${id}`, metadata: {} });
    expect(await backlogByTenant(handle, await consumerSummaries(handle, STREAMS.DOCUMENTS))).toEqual([]);
    await handle.jsm.consumers.add(STREAMS.DOCUMENTS, { durable_name: 'chunker-test', filter_subject: 'docs.>', ack_policy: AckPolicy.Explicit });
    const all = await backlogByTenant(handle, await consumerSummaries(handle, STREAMS.DOCUMENTS));
    expect(all).toEqual([
      { stream: STREAMS.DOCUMENTS, consumer: 'chunker-test', lag: 7, counted: 7, truncated: false, tenants: [{ tenant: 'acme', messages: 5 }, { tenant: 'beta', messages: 2 }] },
    ]);
    // The stage works through the first three (acme's): only what is after its ack floor is left.
    const consumer = await handle.js.consumers.get(STREAMS.DOCUMENTS, 'chunker-test');
    for await (const m of await consumer.fetch({ max_messages: 3, expires: 2000 })) await m.ackAck();
    const left = await backlogByTenant(handle, await consumerSummaries(handle, STREAMS.DOCUMENTS));
    expect(left[0]?.tenants).toEqual([{ tenant: 'acme', messages: 2 }, { tenant: 'beta', messages: 2 }]);
    const capped = await backlogByTenant(handle, await consumerSummaries(handle, STREAMS.DOCUMENTS), 3);
    expect(capped[0]).toMatchObject({ counted: 3, truncated: true, tenants: [{ tenant: 'acme', messages: 2 }, { tenant: 'beta', messages: 1 }] });
    await handle.jsm.consumers.delete(STREAMS.DOCUMENTS, 'chunker-test');
    expect(await consumersAfterDeletes(nats(), STREAMS.DOCUMENTS)).toEqual([]);
  });
});
