// One trace id from the HTTP request through every event it causes (DOCUMENTS → CHUNKS → EMBEDDINGS, QUERIES) and the request's log line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySubject } from '../inference/record.ts';
import { STREAMS } from '../streams/provision.ts';
import { subjects } from '../streams/subjects.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';

let node: TestSystem;

beforeAll(async () => {
  node = await startTestSystem();
});
afterAll(async () => {
  await node?.destroy();
});

async function lastHeader(stream: string, subject: string, timeoutMs = 30_000): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const msg = await node.system.nats.jsm.streams.getMessage(stream, { last_by_subj: subject }).catch(() => null);
    if (msg) return msg.header?.get('traceparent');
    if (Date.now() > deadline) throw new Error(`nothing on ${subject} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const TRACE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

describe('trace context', () => {
  it('starts a trace when the request has none, returns it, and every derived event carries its trace id', async () => {
    const response = await fetch(`${node.system.apiUrl}/v1/documents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-tenant': 'tr' },
      body: JSON.stringify({ id: 'traced', source: 'docs', text: 'A traced document about tracing spans across streams.' }),
    });
    expect(response.status).toBe(202);
    const returned = response.headers.get('traceparent') ?? '';
    const [, traceId, spanId] = TRACE.exec(returned) ?? [];
    expect(traceId).toBeDefined();
    const address = { tenant: 'tr', source: 'docs', id: 'traced' };
    // The document event's parent is the request's span; the derived events keep the trace.
    expect(await lastHeader(STREAMS.DOCUMENTS, subjects.document(address))).toBe(returned);
    expect(TRACE.exec((await lastHeader(STREAMS.CHUNKS, subjects.chunks(address))) ?? '')?.[1]).toBe(traceId);
    expect(TRACE.exec((await lastHeader(STREAMS.EMBEDDINGS, subjects.embeddings(node.system.provider.info.id, address))) ?? '')?.[1]).toBe(traceId);
    expect(spanId).toMatch(/^[0-9a-f]{16}$/);
  });

  it("continues the caller's trace with a new span of its own, for queries too", async () => {
    const incoming = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const response = await fetch(`${node.system.apiUrl}/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: incoming, 'x-tenant': 'tr' },
      body: JSON.stringify({ query: 'tracing spans', mode: 'keyword' }),
    });
    expect(response.status).toBe(200);
    const returned = response.headers.get('traceparent') ?? '';
    expect(returned).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    expect(returned).not.toBe(incoming);
    const { queryId } = (await response.json()) as { queryId: string };
    for (const kind of ['received', 'answered'] as const) {
      expect(await lastHeader(STREAMS.QUERIES, querySubject('tr', queryId, kind))).toBe(returned);
    }
  });
});
