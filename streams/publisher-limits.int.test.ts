// A stream at its limits (discard new) refuses publishes with a StorageLimitError naming the limit, which the API answers 507.
import { DiscardPolicy } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemFromError } from '../api/problems.ts';
import { StorageLimitError, UnavailableError } from '../lib/errors.ts';
import { startTestNats, type TestNats } from '../test/helpers/nats.ts';
import { publishDocument } from './document-log.ts';
import { STREAMS } from './provision.ts';

let nats: TestNats;
beforeAll(async () => {
  nats = await startTestNats();
});
afterAll(async () => {
  await nats?.stop();
});

const doc = (id: string) => ({ id, source: 'api', text: `document ${id}`, metadata: {} });

describe('publishing to a full stream', () => {
  it('refuses with StorageLimitError naming max_msgs, then max_bytes, and stores again once raised', async () => {
    await publishDocument(nats.handle, 'acme', doc('a'));
    await nats.handle.jsm.streams.update(STREAMS.DOCUMENTS, { max_msgs: 1, discard: DiscardPolicy.New });
    const full = await publishDocument(nats.handle, 'acme', doc('b')).catch((err: unknown) => err);
    expect(full).toBeInstanceOf(StorageLimitError);
    // Still an UnavailableError: a processor retries its input rather than dead-letter it.
    expect(full).toBeInstanceOf(UnavailableError);
    expect((full as Error).message).toMatch(/maximum messages exceeded.*the event was not stored/);
    const { problem, headers } = problemFromError(full);
    expect(problem).toMatchObject({ status: 507, type: 'urn:spanda:problem:storage-limit' });
    expect(headers['retry-after']).toBeUndefined();

    const info = await nats.handle.jsm.streams.info(STREAMS.DOCUMENTS);
    await nats.handle.jsm.streams.update(STREAMS.DOCUMENTS, { max_msgs: -1, max_bytes: info.state.bytes + 10 });
    await expect(publishDocument(nats.handle, 'acme', doc('c'))).rejects.toThrow(/maximum bytes exceeded/);

    await nats.handle.jsm.streams.update(STREAMS.DOCUMENTS, { max_bytes: -1 });
    expect((await publishDocument(nats.handle, 'acme', doc('b'))).seq).toBe(2);
  });
});
