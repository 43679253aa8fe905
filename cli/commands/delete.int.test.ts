// `spanda delete` as a user runs it (the real bin against a private nats-server): the deletion lands in DOCUMENTS at the printed seq.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEvent, encodeEvent, eventMetadata } from '../../streams/codec.ts';
import { documentInputSchema, publishDocument } from '../../streams/document-log.ts';
import { freePort } from '../../streams/server.ts';
import { subjects } from '../../streams/subjects.ts';
import { startTestNats, type TestNats } from '../../test/helpers/nats.ts';
import { runCli } from '../../test/helpers/cli.ts';

let nats: TestNats;

beforeAll(async () => {
  nats = await startTestNats();
});
afterAll(async () => {
  await nats?.stop();
});

async function eventAt(seq: number) {
  const msg = await nats.handle.jsm.streams.getMessage('DOCUMENTS', { seq });
  if (!msg) throw new Error(`no DOCUMENTS message at ${seq}`);
  return decodeEvent({ subject: msg.subject, data: msg.data, headers: msg.header }, { stream: 'DOCUMENTS', seq });
}

describe('spanda delete', () => {
  it('publishes document.deleted for the document and prints the DOCUMENTS sequence', async () => {
    // An id with "/" and spaces: no percent-encoding on the command line.
    const id = 'notes/2024/a b.md';
    const published = await publishDocument(nats.handle, 'acme', documentInputSchema.parse({ id, source: 'handbook', text: 'to be deleted' }));

    const run = await runCli(['delete', 'handbook', id, '--tenant', 'acme', '--nats-url', nats.server.url, '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as { tenant: string; source: string; id: string; seq: number };
    expect(out).toEqual({ tenant: 'acme', source: 'handbook', id, seq: published.seq + 1 });
    const event = await eventAt(out.seq);
    expect({ type: event.type, data: event.data, producer: event.metadata.source }).toEqual({
      type: 'document.deleted',
      data: { tenant: 'acme', source: 'handbook', id },
      producer: '/cli',
    });

    // Deleting again stores nothing new and says so.
    const again = await runCli(['delete', 'handbook', id, '--tenant', 'acme', '--nats-url', nats.server.url]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`deleted handbook/${id} (tenant acme): DOCUMENTS sequence ${out.seq} (already deleted; nothing new stored)\n`);
    expect((await nats.handle.jsm.streams.info('DOCUMENTS')).state.last_seq).toBe(out.seq);
  });

  it('stores no second deletion of a document deleted outside the duplicate window, and names an id the log never held', async () => {
    // A deletion published without a message id stands for one older than JetStream's two-minute duplicate window.
    const address = { tenant: 'acme', source: 'handbook', id: 'old.md' };
    await publishDocument(nats.handle, 'acme', documentInputSchema.parse({ id: 'old.md', source: 'handbook', text: 'gone long ago' }));
    const { headers, data } = encodeEvent({
      type: 'document.deleted',
      data: address,
      metadata: eventMetadata('document.deleted', { source: '/elsewhere', subject: 'old.md' }),
    });
    const earlier = await nats.handle.js.publish(subjects.document(address), data, { headers });
    const again = await runCli(['delete', 'handbook', 'old.md', '--tenant', 'acme', '--nats-url', nats.server.url, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ ...address, seq: earlier.seq, duplicate: true });
    expect((await nats.handle.jsm.streams.info('DOCUMENTS')).state.last_seq).toBe(earlier.seq);

    const typo = await runCli(['delete', 'handbook', 'old.mdd', '--tenant', 'acme', '--nats-url', nats.server.url]);
    expect(typo.code).toBe(0);
    expect(typo.stdout).toMatch(/^deleted handbook\/old\.mdd \(tenant acme\): DOCUMENTS sequence \d+\nnote: the log held no version of handbook\/old\.mdd/);
    const typoJson = await runCli(['delete', 'handbook', 'other.mdd', '--tenant', 'acme', '--nats-url', nats.server.url, '--json']);
    expect(JSON.parse(typoJson.stdout)).toMatchObject({ id: 'other.mdd', neverPublished: true });
  });

  it('answers missing arguments, a bad source name or an over-long id with exit 2 and the usage, storing nothing', async () => {
    const before = (await nats.handle.jsm.streams.info('DOCUMENTS')).state.messages;
    const url = nats.server.url;
    const [missing, bad, dots] = await Promise.all([
      runCli(['delete', 'handbook', '--nats-url', url]),
      runCli(['delete', 'Hand.Book', 'x', '--nats-url', url]),
      runCli(['delete', 'handbook', 'x'.repeat(4097), '--nats-url', url]),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/give a source and a document id[\s\S]*usage: spanda delete <source> <id>/);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid source name "Hand\.Book"[\s\S]*usage: spanda delete/);
    expect(dots.code).toBe(2);
    expect(dots.stderr).toMatch(/invalid document id "x+": .*4096/);
    expect((await nats.handle.jsm.streams.info('DOCUMENTS')).state.messages).toBe(before);
  });

  it('exits 1 with the reason when NATS is unreachable', async () => {
    const run = await runCli(['delete', 'handbook', 'x', '--nats-url', `nats://127.0.0.1:${await freePort()}`]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^spanda: cannot reach NATS at nats:\/\/127\.0\.0\.1:\d+ .*spanda up/);
  });
});
