// The query path over HTTP on a real node: JSON and SSE answers, OpenAI chat completions, feedback, answer lineage per tenant.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/log.ts';
import { openAiGenerator } from '../../inference/generators/openai.ts';
import { parseSse, type ServerSentEvent } from '../../inference/sse.ts';
import { readQueryLog } from '../../inference/record.ts';
import { fakeChatServer, type FakeServer } from '../../test/fakes/llm.ts';
import { startTestSystem, type TestSystem } from '../../test/helpers/system.ts';
import { createApp } from '../app.ts';
import type { ApiDeps } from '../deps.ts';

let node: TestSystem;
let llm: FakeServer;
let extractive: ReturnType<typeof createApp>;
let llmApp: ReturnType<typeof createApp>;
let seqOf: Record<string, number> = {};

const json = (body: unknown, headers: Record<string, string> = {}) => ({ method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });

async function events(response: Response): Promise<ServerSentEvent[]> {
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const out: ServerSentEvent[] = [];
  for await (const e of parseSse(response.body as ReadableStream<Uint8Array>)) out.push(e);
  return out;
}

async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  node = await startTestSystem();
  llm = await fakeChatServer({ answer: (b) => (b.messages?.at(-1)?.content.includes('[1]') ? 'Octopuses have three hearts [1].' : 'I cannot answer from the indexed documents.') });
  const deps: ApiDeps = { nats: node.system.nats, serving: node.system.serving, maxBodyBytes: 1 << 20, logger: silentLogger, reranker: null, search: {} };
  extractive = createApp(deps);
  llmApp = createApp({ ...deps, generator: openAiGenerator({ baseUrl: `${llm.url}/v1`, model: 'fake-llama', retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 10, timeoutMs: 5000 } }) });
  const docs = [
    { id: 'octopus', title: 'Octopus', text: 'An octopus has three hearts and blue blood. Two hearts pump blood through the gills.' },
    { id: 'squid', title: 'Squid', text: 'Squid are fast swimmers with a beak and eight arms plus two tentacles.' },
  ];
  const response = await extractive.request('/v1/documents', json({ documents: docs }, { 'x-tenant': 'acme' }));
  const body = (await response.json()) as { accepted: Array<{ id: string; seq: number }> };
  seqOf = Object.fromEntries(body.accepted.map((a) => [a.id, a.seq]));
});
afterAll(async () => {
  await llm?.close();
  await node?.destroy();
});

describe('POST /v1/query', () => {
  it('answers extractively with citations, the template and the generator named', async () => {
    const response = await extractive.request('/v1/query', json({ query: 'How many hearts does an octopus have?', after_seq: seqOf.squid, k: 2 }, { 'x-tenant': 'acme' }));
    expect(response.status).toBe(200);
    const body = (await response.json()) as { answer: string; citations: number[]; generator: { kind: string }; template: { name: string; version: number }; results: Array<{ docId: string; seq: number }> };
    expect(body.answer).toMatch(/three hearts.*\[1\]/);
    expect(body.citations).toEqual([1]);
    expect(body.generator.kind).toBe('extractive');
    expect(body.template).toEqual({ name: 'grounded', version: 1 });
    expect(body.results[0]).toMatchObject({ docId: 'octopus', seq: seqOf.octopus });
  });

  it('streams retrieval, tokens, citations and done as server-sent events', async () => {
    const response = await llmApp.request('/v1/query', json({ query: 'octopus hearts', stream: true, k: 2 }, { 'x-tenant': 'acme' }));
    expect(response.status).toBe(200);
    const received = await events(response);
    const names = received.map((e) => e.event);
    expect(names[0]).toBe('retrieval');
    expect(names.filter((n) => n === 'token').length).toBeGreaterThan(2);
    expect(names.slice(-2)).toEqual(['citations', 'done']);
    const text = received.filter((e) => e.event === 'token').map((e) => (JSON.parse(e.data) as { text: string }).text).join('');
    expect(text).toBe('Octopuses have three hearts [1].');
    const citations = JSON.parse(received.at(-2)?.data ?? '{}') as { citations: number[]; results: Array<{ docId: string }> };
    expect(citations.citations).toEqual([1]);
    expect(citations.results[0]?.docId).toBe('octopus');
    expect(JSON.parse(received.at(-1)?.data ?? '{}')).toMatchObject({ generator: { kind: 'openai', model: 'fake-llama' } });
  });

  it('refuses a bad request with problem+json before any stream opens', async () => {
    const response = await extractive.request('/v1/query', json({ query: 'x', stream: true, mode: 'semantic' }));
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/problem\+json/);
  });
});

describe('POST /v1/chat/completions', () => {
  it('answers as chat.completion with usage and the retrieval in an extension field', async () => {
    const response = await llmApp.request(
      '/v1/chat/completions',
      json({ model: 'anything', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'octopus hearts?' }], temperature: 0.2, top_p: 1, user: 'u1' }, { 'x-tenant': 'acme' }),
    );
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      object: string;
      id: string;
      model: string;
      choices: Array<{ message: { role: string; content: string }; finish_reason: string }>;
      usage: { total_tokens: number };
      spanda: { queryId: string; citations: number[] };
    };
    expect(body.object).toBe('chat.completion');
    expect(body.id).toBe(`chatcmpl-${body.spanda.queryId}`);
    expect(body.model).toBe('fake-llama');
    expect(body.choices[0]).toMatchObject({ message: { role: 'assistant', content: 'Octopuses have three hearts [1].' }, finish_reason: 'stop' });
    expect(body.usage.total_tokens).toBeGreaterThan(0);
    const sent = llm.requests.at(-1)?.body as { messages: Array<{ role: string; content: string }> };
    expect(sent.messages.map((m) => m.role)).toEqual(['system', 'system', 'user']);
    expect(sent.messages.at(-1)?.content).toMatch(/\[1\] Octopus/);
  });

  it('streams chat.completion.chunk objects and ends with data: [DONE]', async () => {
    const response = await llmApp.request('/v1/chat/completions', json({ messages: [{ role: 'user', content: [{ type: 'text', text: 'octopus hearts?' }] }], stream: true, stream_options: { include_usage: true } }, { 'x-tenant': 'acme' }));
    const received = await events(response);
    expect(received.at(-1)?.data).toBe('[DONE]');
    const chunks = received.slice(0, -1).map((e) => JSON.parse(e.data) as { object: string; choices: Array<{ delta: { role?: string; content?: string }; finish_reason: string | null }>; usage?: unknown });
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Octopuses have three hearts [1].');
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks.at(-1)?.usage).toBeDefined();
  });

  it('says when the extractive generator answered, and refuses a conversation without a user turn', async () => {
    const response = await extractive.request('/v1/chat/completions', json({ messages: [{ role: 'user', content: 'octopus hearts' }] }, { 'x-tenant': 'acme' }));
    expect(((await response.json()) as { model: string }).model).toBe('spanda-extractive');
    const bad = await extractive.request('/v1/chat/completions', json({ messages: [{ role: 'system', content: 'hi' }] }));
    expect(bad.status).toBe(400);
  });
});

describe('answers, lineage and feedback', () => {
  it('records query.received and query.answered, serves the answer with its lineage, and keeps it to its tenant', async () => {
    const response = await llmApp.request('/v1/query', json({ query: 'octopus blood', k: 2 }, { 'x-tenant': 'acme' }));
    const { queryId } = (await response.json()) as { queryId: string };
    const answer = await waitFor(async () => {
      const r = await extractive.request(`/v1/answers/${queryId}`, { headers: { 'x-tenant': 'acme' } });
      return r.status === 200 ? ((await r.json()) as Record<string, unknown>) : undefined;
    });
    expect(answer).toMatchObject({ queryId, tenant: 'acme', generator: 'openai', generatorModel: 'fake-llama', template: { name: 'grounded', version: 1 }, citations: [1] });
    const lineage = answer.lineage as Array<{ n: number; cited: boolean; docId: string; status: string; document: { stream: string; seq: number; type: string; title: string } }>;
    expect(lineage[0]).toMatchObject({ n: 1, cited: true, docId: 'octopus', status: 'current', document: { stream: 'DOCUMENTS', seq: seqOf.octopus, type: 'document.upserted', title: 'Octopus' } });

    const other = await extractive.request(`/v1/answers/${queryId}`, { headers: { 'x-tenant': 'globex' } });
    expect(other.status).toBe(404);
    expect((await extractive.request('/v1/feedback', json({ queryId, rating: 1 }, { 'x-tenant': 'globex' }))).status).toBe(404);

    const feedback = await extractive.request('/v1/feedback', json({ queryId, rating: 1, comment: 'right' }, { 'x-tenant': 'acme' }));
    expect(feedback.status).toBe(202);
    // The same feedback re-sent (a client retrying after a 503 that may have stored it) is stored once.
    const resent = await extractive.request('/v1/feedback', json({ queryId, rating: 1, comment: 'right' }, { 'x-tenant': 'acme' }));
    expect(resent.status).toBe(202);
    expect(((await resent.json()) as { seq: number }).seq).toBe(((await feedback.json()) as { seq: number }).seq);
    const again = (await (await extractive.request(`/v1/answers/${queryId}`, { headers: { 'x-tenant': 'acme' } })).json()) as { feedback: { rating: number; comment: string } };
    expect(again.feedback).toMatchObject({ rating: 1, comment: 'right' });

    const kinds: string[] = [];
    for await (const e of readQueryLog(node.system.nats, { subject: `queries.acme.${queryId}.>` })) kinds.push(e.type);
    expect(kinds).toEqual(['query.received', 'query.answered', 'feedback.given']);

    // Junk written straight onto the answer's feedback subject: the answer still reads (the junk is not shown as its
    // feedback); junk on another query's answer subject is no answer (404 saying so), never a 400 or 500.
    await node.system.nats.js.publish(`queries.acme.${queryId}.feedback`, 'not an event');
    const withJunk = await extractive.request(`/v1/answers/${queryId}`, { headers: { 'x-tenant': 'acme' } });
    expect(withJunk.status).toBe(200);
    expect(((await withJunk.json()) as { feedback: unknown }).feedback).toBeNull();
    const forged = '01JUNKJUNKJUNKJUNKJUNKJUNK';
    await node.system.nats.js.publish(`queries.acme.${forged}.answered`, '{"type":"query.answered"}');
    const junk = await extractive.request(`/v1/answers/${forged}`, { headers: { 'x-tenant': 'acme' } });
    expect(junk.status).toBe(404);
    expect(((await junk.json()) as { detail: string }).detail).toMatch(/no readable answer .* is not one/);
    expect((await extractive.request('/v1/feedback', json({ queryId: forged, rating: 1 }, { 'x-tenant': 'acme' }))).status).toBe(404);
  });

  it('marks a cited document superseded once a newer version is published', async () => {
    const response = await extractive.request('/v1/query', json({ query: 'squid tentacles', k: 1 }, { 'x-tenant': 'acme' }));
    const { queryId } = (await response.json()) as { queryId: string };
    await extractive.request('/v1/documents', json({ id: 'squid', title: 'Squid', text: 'Squid have ten limbs in all.' }, { 'x-tenant': 'acme' }));
    const answer = await waitFor(async () => {
      const r = await extractive.request(`/v1/answers/${queryId}`, { headers: { 'x-tenant': 'acme' } });
      return r.status === 200 ? ((await r.json()) as { lineage: Array<{ status: string; document: { seq: number } }> }) : undefined;
    });
    expect(answer.lineage[0]).toMatchObject({ status: 'superseded', document: { seq: seqOf.squid } });
  });
});
