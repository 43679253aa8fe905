// A publish that JetStream stops acknowledging, against a real nats-server hung with SIGSTOP: a 503 once asking gets no answer, and the re-send is deduplicated.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../lib/log.ts';
import { watchJetStream, type JetStreamWatch } from '../streams/jetstream-watch.ts';
import { STREAMS } from '../streams/provision.ts';
import { startTestNats, type TestNats } from '../test/helpers/nats.ts';
import { until } from '../test/helpers/eventually.ts';
import { hangProcess } from '../test/helpers/processes.ts';
import { startTestSystem, type TestSystem } from '../test/helpers/system.ts';
import { startNatsServer, type NatsServerProcess } from '../streams/server.ts';
import { createApp } from './app.ts';

let nats: TestNats;
let node: TestSystem;
let watch: JetStreamWatch;
let app: ReturnType<typeof createApp>;
let stopped = false;
/** The server started again on the same port and store after the one of startTestNats was killed. */
let restarted: NatsServerProcess | undefined;

beforeAll(async () => {
  nats = await startTestNats();
  node = await startTestSystem({ NATS_URL: nats.server.url });
  // The watch's own probe is a minute away: only the publishes themselves can find the silence.
  watch = watchJetStream(node.system.nats, { intervalMs: 60_000, timeoutMs: 500 });
  app = createApp({ nats: node.system.nats, serving: node.system.serving, jetstream: watch, maxBodyBytes: 1 << 20, logger: silentLogger, recordQueries: false });
}, 60_000);
afterAll(async () => {
  if (stopped) process.kill(nats.server.pid, 'SIGCONT');
  watch?.stop();
  await node?.destroy();
  await restarted?.stop();
  await nats?.stop();
});

const post = (body: unknown) => app.request('/v1/documents', { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
const messagesOn = async (subject: string) => (await node.system.nats.jsm.streams.info(STREAMS.DOCUMENTS, { subjects_filter: subject })).state.subjects?.[subject] ?? 0;

const hungBatch = [
  { id: 'while-hung', text: 'sent while nats-server is stopped' },
  { id: 'also-hung', text: 'and another one' },
];

describe('a publish JetStream does not acknowledge', () => {
  it('gets a 503 with Retry-After once JetStream does not answer when asked, and its re-send is stored once', async () => {
    expect((await post({ id: 'before', text: 'JetStream answers' })).status).toBe(202);
    expect(watch.silentForMs()).toBe(0);

    await hangProcess(nats.server.pid);
    stopped = true;
    const refused = await post({ documents: hungBatch });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    const problem = (await refused.json()) as { detail: string };
    // Not the publish's own 10 s timeout: the question asked after 2 s without an acknowledgement.
    expect(problem.detail).toMatch(/JetStream has not acknowledged the event after 2 s and does not answer when asked; it may not be stored/);
    const deletion = await app.request('/v1/documents/api/before', { method: 'DELETE' });
    expect(deletion.status).toBe(503);
    // A route that only reads from JetStream (a recorded answer) says the same rather than a 500.
    for (const path of ['/v1/answers/01M93VF3RCME0MST9T1X9A3KTV']) {
      const read = await app.request(path);
      expect(read.status, path).toBe(503);
      expect(read.headers.get('retry-after'), path).toBe('5');
      expect(((await read.json()) as { detail: string }).detail, path).toMatch(/NATS JetStream did not answer \(.+\): the broker is down, restarting or overloaded/);
    }
    expect(watch.silentForMs()).toBeGreaterThan(0);

    process.kill(nats.server.pid, 'SIGCONT');
    stopped = false;
    await until(async () => (await watch.answersNow()) || undefined, 'JetStream to answer again');
    // What the client had sent was in the socket and got stored once the server ran again: the re-send is a duplicate.
    const resent = await post({ documents: hungBatch });
    expect(resent.status).toBe(202);
    const accepted = ((await resent.json()) as { accepted: Array<{ id: string; duplicate?: boolean }> }).accepted;
    expect(accepted.map((a) => [a.id, a.duplicate ?? false])).toEqual([
      ['while-hung', true],
      ['also-hung', true],
    ]);
    expect(await messagesOn('docs.default.api.while-hung')).toBe(1);
    expect(await messagesOn('docs.default.api.also-hung')).toBe(1);
  }, 60_000);
});

describe('a publish while the connection to NATS is down (a broker restarting)', () => {
  it("gets a 503 with the reconnecting client's Retry-After of 1 s, not the silent JetStream's 5 s, and publishes once it is back", async () => {
    const port = Number(new URL(nats.server.url).port);
    nats.server.kill();
    await nats.server.exited;
    await until(async () => !node.system.nats.connected() || undefined, 'the client to notice the broker is gone');
    // The watch counts a silence, as it does after a publish went unconfirmed.
    watch.suspect();
    const refused = await post({ id: 'while-down', text: 'sent while nats-server is down' });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { detail: string }).detail).toMatch(/is not connected; the event was not stored, retry shortly/);

    restarted = await startNatsServer({ dataDir: nats.dir, port });
    await until(async () => (node.system.nats.connected() && (await watch.answersNow())) || undefined, 'the client to reconnect');
    const resent = await post({ id: 'while-down', text: 'sent while nats-server is down' });
    expect(resent.status).toBe(202);
    expect(await messagesOn('docs.default.api.while-down')).toBe(1);
  }, 60_000);
});
