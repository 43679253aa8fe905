// Query events published in batches: held at most until the delay or flush, one failure never drops the others', and a node stopping right after an answer has recorded it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/log.ts';
import { STREAMS } from '../streams/provision.ts';
import { startTestNats, type TestNats } from '../test/helpers/nats.ts';
import { startTestSystem } from '../test/helpers/system.ts';
import { answeredEvent, publishAnswered, QueryRecorder, readAnswer } from './record.ts';

let nats: TestNats;

beforeAll(async () => {
  nats = await startTestNats();
});
afterAll(async () => {
  await nats?.stop();
});

const answered = (queryId: string) =>
  answeredEvent({ queryId, tenant: 'acme', query: `question ${queryId}`, answer: 'an answer', results: [], tookMs: 1, generator: 'extractive' });

async function queryMessages(): Promise<number> {
  return (await nats.handle.jsm.streams.info(STREAMS.QUERIES)).state.messages;
}

describe('QueryRecorder', () => {
  it('holds queued queries until the delay or flush, then publishes all of them', async () => {
    const before = await queryMessages();
    const recorder = new QueryRecorder(createLogger('test', 'silent'), 60_000);
    const ids = ['q-batch-1', 'q-batch-2', 'q-batch-3'];
    for (const id of ids) recorder.record(id, () => publishAnswered(nats.handle, answered(id)).then(() => undefined));
    await new Promise((r) => setTimeout(r, 100));
    expect(await queryMessages()).toBe(before);
    await recorder.flush();
    expect(await queryMessages()).toBe(before + ids.length);
    for (const id of ids) expect((await readAnswer(nats.handle, 'acme', id)).data.query).toBe(`question ${id}`);
  });

  it('publishes on its own after the delay, and logs a failed query without losing the others', async () => {
    const records: Array<Record<string, unknown>> = [];
    const logger = createLogger('test', 'warn', (line) => records.push(JSON.parse(line) as Record<string, unknown>), { format: 'json' });
    const recorder = new QueryRecorder(logger, 20);
    recorder.record('q-timer-1', () => publishAnswered(nats.handle, answered('q-timer-1')).then(() => undefined));
    recorder.record('q-broken', () => Promise.reject(new Error('NATS said no')));
    recorder.record('q-timer-2', () => publishAnswered(nats.handle, answered('q-timer-2')).then(() => undefined));
    const deadline = Date.now() + 5000;
    while (records.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(records.map((r) => [r.message, r.queryId, r.error])).toEqual([['query events not recorded', 'q-broken', 'NATS said no']]);
    for (const id of ['q-timer-1', 'q-timer-2']) expect((await readAnswer(nats.handle, 'acme', id)).data.answer).toBe('an answer');
  });

  it('logs one warning for many failed recordings in a row, and the count once recording works again', async () => {
    const records: Array<Record<string, unknown>> = [];
    const logger = createLogger('test', 'info', (line) => records.push(JSON.parse(line) as Record<string, unknown>), { format: 'json' });
    const recorder = new QueryRecorder(logger, 60_000);
    for (let i = 0; i < 50; i++) recorder.record(`q-down-${i}`, () => Promise.reject(new Error('NATS is not connected')));
    await recorder.flush();
    recorder.record('q-back', () => publishAnswered(nats.handle, answered('q-back')).then(() => undefined));
    await recorder.flush();
    expect(records.map((r) => [r.level, r.message, r.queryId, r.notRecordedSinceLastWarning])).toEqual([
      ['warn', 'query events not recorded', 'q-down-0', undefined],
      ['info', 'query events recorded again', undefined, 49],
    ]);
    expect((await readAnswer(nats.handle, 'acme', 'q-back')).data.query).toBe('question q-back');
  });

  it('a node that stops right after answering still records the query', async () => {
    const node = await startTestSystem({ NATS_URL: nats.server.url });
    let queryId: string;
    try {
      const response = await fetch(`${node.system.apiUrl}/v1/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-tenant': 'acme' },
        body: JSON.stringify({ query: 'anything at all' }),
      });
      expect(response.status).toBe(200);
      queryId = ((await response.json()) as { queryId: string }).queryId;
    } finally {
      await node.destroy();
    }
    const answer = await readAnswer(nats.handle, 'acme', queryId);
    expect(answer.data.query).toBe('anything at all');
  });
});
