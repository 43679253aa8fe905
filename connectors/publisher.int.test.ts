// The typed publisher against a real nats-server: dedupe by content, optimistic concurrency with expectedLastSeq, clear errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../lib/errors.ts';
import { startTestNats, type TestNats } from '../test/helpers/nats.ts';
import { ExpectedSequenceError, createDocumentPublisher } from './publisher.ts';

let nats: TestNats;
beforeAll(async () => {
  nats = await startTestNats();
});
afterAll(async () => {
  await nats?.stop();
});

describe('createDocumentPublisher', () => {
  it('publishes, deduplicates an identical re-send, and reports the current version', async () => {
    const publisher = createDocumentPublisher(nats.handle, { tenant: 'acme', producer: '/services/test' });
    const first = await publisher.upsert({ id: 'a', source: 'crm', text: 'hello' });
    expect(first).toMatchObject({ id: 'a', source: 'crm', duplicate: false });
    const again = await publisher.upsert({ id: 'a', source: 'crm', text: 'hello' });
    expect(again).toMatchObject({ seq: first.seq, duplicate: true });
    expect(await publisher.current('crm', 'a')).toMatchObject({ seq: first.seq, deleted: false, contentHash: expect.stringMatching(/^sha256:/) });
    expect(await publisher.current('crm', 'never')).toBeUndefined();
  });

  it('writes at the expected version, refuses a stale one with ExpectedSequenceError, and stores nothing then', async () => {
    const publisher = createDocumentPublisher(nats.handle, { tenant: 'acme' });
    const created = await publisher.upsert({ id: 'b', source: 'crm', text: 'v1' }, { expectedLastSeq: 0 });
    const updated = await publisher.upsert({ id: 'b', source: 'crm', text: 'v2' }, { expectedLastSeq: created.seq });
    expect(updated.seq).toBeGreaterThan(created.seq);

    const stale = publisher.upsert({ id: 'b', source: 'crm', text: 'v3 from a stale reader' }, { expectedLastSeq: created.seq });
    await expect(stale).rejects.toBeInstanceOf(ExpectedSequenceError);
    await expect(stale).rejects.toMatchObject({ expected: created.seq, actual: updated.seq, message: expect.stringMatching(/expected last sequence/) });
    expect((await publisher.current('crm', 'b'))?.seq).toBe(updated.seq);

    // A retry of the write that succeeded is a duplicate, not a conflict.
    expect(await publisher.upsert({ id: 'b', source: 'crm', text: 'v2' }, { expectedLastSeq: created.seq })).toMatchObject({ seq: updated.seq, duplicate: true });
    // "must not exist yet" on an existing document.
    await expect(publisher.upsert({ id: 'b', source: 'crm', text: 'other' }, { expectedLastSeq: 0 })).rejects.toBeInstanceOf(ExpectedSequenceError);

    await expect(publisher.delete('crm', 'b', { expectedLastSeq: created.seq })).rejects.toBeInstanceOf(ExpectedSequenceError);
    const deleted = await publisher.delete('crm', 'b', { expectedLastSeq: updated.seq });
    expect(await publisher.current('crm', 'b')).toEqual({ seq: deleted.seq, deleted: true });
  });

  it('refuses an invalid document with the issues named', async () => {
    const publisher = createDocumentPublisher(nats.handle);
    const bad = publisher.upsert({ id: 'c', text: 42 } as never);
    await expect(bad).rejects.toBeInstanceOf(ValidationError);
    await expect(bad).rejects.toThrow(/text/);
    await expect(publisher.upsert({ id: 'c', text: 'x' }, { expectedLastSeq: -1 })).rejects.toThrow(/expectedLastSeq/);
  });
});
