// The HTTP API as a client sees it: bad requests get a 4xx problem+json with a reason; an unreachable NATS gets 503 + Retry-After.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../lib/log.ts';
import { connectNats } from '../streams/nats.ts';
import { startTestSystem, type TestSystem } from '../test/helpers/system.ts';
import { createApp } from './app.ts';
import type { ApiDeps } from './deps.ts';
import { startApiServer, type ApiServer } from './main.ts';

let node: TestSystem;
let deps: ApiDeps;

beforeAll(async () => {
  node = await startTestSystem();
  deps = {
    nats: node.system.nats,
    serving: node.system.serving,
    maxBodyBytes: 4096,
    logger: silentLogger,
    recordQueries: false,
  };
});
afterAll(async () => {
  await node?.destroy();
});

function post(app: ReturnType<typeof createApp>, route: string, body: string, headers: Record<string, string> = {}) {
  return app.request(route, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
}

async function expectProblem(response: Response, status: number, detail: RegExp) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const body = (await response.json()) as { type: string; status: number; detail: string };
  expect(body.status).toBe(status);
  expect(body.type).toMatch(/^urn:spanda:problem:/);
  expect(body.detail).toMatch(detail);
}

describe('bad requests', () => {
  it('answers malformed JSON with 400 and the parser reason', async () => {
    await expectProblem(await post(createApp(deps), '/v1/documents', '{"id": "a", "text": '), 400, /not valid JSON/);
  });

  it('answers an oversized body with 413 and how to fix it', async () => {
    await expectProblem(await post(createApp(deps), '/v1/documents', JSON.stringify({ id: 'big', text: 'x'.repeat(10_000) })), 413, /split the batch/);
  });

  it('answers missing fields with 400 naming them', async () => {
    await expectProblem(await post(createApp(deps), '/v1/documents', JSON.stringify({ id: 'no-text' })), 400, /text/);
    await expectProblem(await post(createApp(deps), '/v1/query', JSON.stringify({ k: 3 })), 400, /query/);
  });

  it('answers an invalid tenant or source name with 400 and the naming rule', async () => {
    const app = createApp(deps);
    await expectProblem(await post(app, '/v1/documents', JSON.stringify({ id: 'a', text: 't' }), { 'x-tenant': 'Not.Valid' }), 400, /invalid tenant name/);
    await expectProblem(await post(app, '/v1/documents', JSON.stringify({ id: 'a', text: 't', source: 'has space' })), 400, /source/);
    await expectProblem(await app.request('/v1/documents/bad.source/x', { method: 'DELETE' }), 400, /invalid source name/);
  });

  it('answers a wrong content type with 415, unknown fields and modes with 400, unknown routes with 404', async () => {
    const app = createApp(deps);
    await expectProblem(await app.request('/v1/query', { method: 'POST', body: 'query=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, /content-type: application\/json/);
    await expectProblem(await app.request('/v1/query', { method: 'POST', body: '<query/>', headers: { 'content-type': 'application/xml' } }), 415, /application\/json/);
    await expectProblem(await post(app, '/v1/query', JSON.stringify({ query: 'x', mode: 'semantic' })), 400, /mode/);
    await expectProblem(await post(app, '/v1/query', JSON.stringify({ query: 'x', colour: 'red' })), 400, /colour/);
    await expectProblem(await app.request('/v2/nothing'), 404, /no route/);
    await expectProblem(await app.request('/v1/documents/a/b/c'), 404, /no route/);
    // Bytes that are not UTF-8 are refused, not stored as U+FFFD.
    const notUtf8 = Buffer.concat([Buffer.from('{"id":"u1","text":"bad '), Buffer.from([0xff]), Buffer.from(' utf8"}')]);
    await expectProblem(await app.request('/v1/documents', { method: 'POST', body: notUtf8, headers: { 'content-type': 'application/json' } }), 400, /not valid UTF-8/);
    // Percent-encoding that is not UTF-8 names no id: refused, not published as a deletion of the literal text.
    for (const [method, path] of [['DELETE', '/v1/documents/api/%FF'], ['DELETE', '/v1/documents/api/%ED%A0%80'], ['GET', '/v1/documents/api/%E0%A4']]) {
      await expectProblem(await app.request(path as string, { method: method as string }), 400, /percent-encoding that is not UTF-8/);
    }
    // JSON lines sent without a content type: the 415 names the NDJSON type; two x-tenant headers are not a tenant name.
    await expectProblem(await app.request('/v1/documents', { method: 'POST', body: '{"id":"a","text":"x"}\n{"id":"b","text":"y"}\n' }), 415, /application\/x-ndjson/);
    await expectProblem(await app.request('/v1/query', { method: 'POST', body: '{"query":"x"}', headers: { 'content-type': 'application/json', 'x-tenant': 'ta, tb' } }), 400, /send one x-tenant header/);
    // A missing id says it is required, not "Invalid input".
    await expectProblem(await post(app, '/v1/documents', '{"text":"t"}'), 400, /id: is required: the document's id in your system/);
    // "__proto__" would vanish in validation (a filter on it matched everything): refused, escaped or not.
    await expectProblem(await post(app, '/v1/query', '{"query":"x","filter":{"metadata":{"__proto__":"no-such-value"}}}'), 400, /"__proto__" is not accepted/);
    await expectProblem(await post(app, '/v1/documents', '{"id":"p","text":"t","metadata":{"a":{"\\u005f_proto__":{"x":1}}}}'), 400, /"__proto__" is not accepted/);
    // A trailing slash: not a 405 claiming the path answers the very method asked.
    await expectProblem(await app.request('/v1/projections/'), 404, /no route GET \/v1\/projections\/; drop the trailing slash: \/v1\/projections$/);
    await expectProblem(await post(app, '/v1/query/', JSON.stringify({ query: 'x' })), 404, /drop the trailing slash: \/v1\/query$/);
  });

  it('answers a known path asked with another method with 405 and the methods it answers in Allow', async () => {
    const app = createApp(deps);
    const cases: Array<[string, string, string]> = [
      ['PUT', '/v1/query', 'POST'],
      ['GET', '/v1/documents', 'POST'],
      ['PATCH', '/v1/documents/handbook/a%2Fb.md', 'DELETE, GET, HEAD'],
      ['POST', '/v1/projections', 'GET, HEAD'],
      ['DELETE', '/v1/schemas/document.upserted.v1', 'GET, HEAD'],
    ];
    for (const [method, path, allow] of cases) {
      const response = await app.request(path, { method });
      expect(response.headers.get('allow'), `${method} ${path}`).toBe(allow);
      await expectProblem(response, 405, new RegExp(`answers ${allow}, not ${method}`));
    }
  });

  it('rejects a batch that holds one bad document without publishing any of it', async () => {
    const before = (await node.system.nats.jsm.streams.info('DOCUMENTS')).state.messages;
    const response = await post(createApp(deps), '/v1/documents', JSON.stringify({ documents: [{ id: 'fine', text: 'ok' }, { id: '', text: 'bad' }] }));
    await expectProblem(response, 400, /index 1/);
    expect((await node.system.nats.jsm.streams.info('DOCUMENTS')).state.messages).toBe(before);
  });
});

describe('accepted requests', () => {
  it('returns 202 with the stream sequence of each document in a batch', async () => {
    const response = await post(createApp(deps), '/v1/documents', JSON.stringify({ documents: [{ id: 'b1', text: 'one' }, { id: 'b2', text: 'two', source: 'notes' }] }));
    expect(response.status).toBe(202);
    const body = (await response.json()) as { accepted: Array<{ id: string; source: string; seq: number }> };
    expect(body.accepted.map((a) => [a.id, a.source])).toEqual([['b1', 'api'], ['b2', 'notes']]);
    expect(body.accepted.every((a) => Number.isInteger(a.seq) && a.seq > 0)).toBe(true);
  });

  it('reads a JSON body sent as curl -d sends it (form content type) or with no content type', async () => {
    const app = createApp(deps);
    const form = await app.request('/v1/documents', { method: 'POST', body: JSON.stringify({ id: 'curl', text: 'sent with curl -d' }), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.status).toBe(202);
    const bare = await app.request('/v1/documents', { method: 'POST', body: new TextEncoder().encode(JSON.stringify({ id: 'bare', text: 'no content type' })) });
    expect(bare.status).toBe(202);
  });

  it('reports health and readiness', async () => {
    const app = createApp(deps);
    expect((await app.request('/healthz')).status).toBe(200);
    const ready = await app.request('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { nats: { ok: true }, store: { ok: true } } });
    expect(await (await app.request('/metrics')).text()).toMatch(/spanda_processor_events_total/);
  });
});

describe('when NATS is unreachable', () => {
  it('answers publishes with 503 and Retry-After instead of dropping them, and readiness fails', async () => {
    const closed = await connectNats({ url: node.system.natsUrl });
    await closed.drain();
    const app = createApp({ ...deps, nats: closed });
    const response = await post(app, '/v1/documents', JSON.stringify({ id: 'lost?', text: 'never silently dropped' }));
    await expectProblem(response, 503, /not stored|not connected/);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await app.request('/readyz')).status).toBe(503);
  });

  it('is not ready while JetStream stays silent on a live connection, and says for how long', async () => {
    let silentMs = 25_000;
    const app = createApp({ ...deps, jetstream: { silentForMs: () => silentMs } });
    const silent = await app.request('/readyz');
    expect(silent.status).toBe(503);
    expect((await silent.json()).checks.nats).toEqual({
      ok: false,
      detail: expect.stringMatching(/^JetStream at nats:\/\/127\.0\.0\.1:\d+ has not answered for 25 s; publishing fails until it does/),
    });
    silentMs = 3_000; // one slow probe is not an outage
    expect((await app.request('/readyz')).status).toBe(200);
  });

  it('asks JetStream at once when a publish goes unconfirmed, so that the next ones need not wait out their timeouts', async () => {
    const closed = await connectNats({ url: node.system.natsUrl });
    await closed.drain();
    let asked = 0;
    const app = createApp({ ...deps, nats: closed, jetstream: { silentForMs: () => 0, answersNow: async () => false, suspect: () => void asked++ } });
    await expectProblem(await post(app, '/v1/documents', JSON.stringify({ id: 'unconfirmed', text: 'not stored' })), 503, /not stored|not connected/);
    expect(asked).toBe(1);
    expect((await app.request('/v1/documents/api/unconfirmed', { method: 'DELETE' })).status).toBe(503);
    expect(asked).toBe(2);
    // Bad input is not a reason to suspect JetStream.
    expect((await post(app, '/v1/documents', JSON.stringify({ id: '', text: 'x' }))).status).toBe(400);
    expect(asked).toBe(2);
  });

  it('answers a publish with 503 at once while JetStream is silent and does not answer when asked, and publishes once it does', async () => {
    let answers = false;
    const asked: number[] = [];
    const jetstream = { silentForMs: () => 25_000, answersNow: async () => (asked.push(Date.now()), answers) };
    const app = createApp({ ...deps, jetstream });
    const documentsHead = async () => (await deps.nats.jsm.streams.info('DOCUMENTS')).state.last_seq;
    const before = await documentsHead();
    const refused = await post(app, '/v1/documents', JSON.stringify({ id: 'while-silent', text: 'JetStream is not answering' }));
    await expectProblem(refused, 503, /JetStream has not answered for 25 s, so nothing can be stored now; retry later/);
    expect(refused.headers.get('retry-after')).toBe('5');
    // A silence of seconds (a broker restarting and loading its streams) is worth a retry in a second.
    const brief = createApp({ ...deps, jetstream: { ...jetstream, silentForMs: () => 3_000 } });
    const soon = await post(brief, '/v1/documents', JSON.stringify({ id: 'while-silent', text: 'JetStream is starting' }));
    await expectProblem(soon, 503, /JetStream has not answered for 3 s, so nothing can be stored now; retry shortly \(it may be starting\)/);
    expect(soon.headers.get('retry-after')).toBe('1');
    expect((await app.request('/v1/documents/api/while-silent', { method: 'DELETE' })).status).toBe(503);
    expect(asked).toHaveLength(3);
    expect(await documentsHead()).toBe(before); // nothing was tried
    answers = true;
    const accepted = await post(app, '/v1/documents', JSON.stringify({ id: 'while-silent', text: 'JetStream answers again' }));
    expect(accepted.status).toBe(202);
    expect(await documentsHead()).toBe(before + 1);
  });
});

describe('body limit on a real socket (judged from Content-Length, counted when chunked)', () => {
  let server: ApiServer;
  beforeAll(async () => {
    server = await startApiServer(createApp(deps), { host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await server?.close();
  });

  const document = (id: string, bytes: number) => {
    const shell = JSON.stringify({ id, text: '' });
    return JSON.stringify({ id, text: 'x'.repeat(bytes - shell.length) });
  };
  /** Sends `body` chunked (no Content-Length), in pieces of 1 KB. */
  const chunked = (body: string) => {
    const bytes = new TextEncoder().encode(body);
    return new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 1024) controller.enqueue(bytes.slice(i, i + 1024));
        controller.close();
      },
    });
  };
  const send = (body: string | ReadableStream<Uint8Array>) =>
    fetch(`${server.url}/v1/documents`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' } as RequestInit);

  it('takes a body of exactly the limit, and refuses one byte more with 413 and how to fix it', async () => {
    const fits = document('limit-exact', 4096);
    expect(new TextEncoder().encode(fits).length).toBe(4096);
    expect((await send(fits)).status).toBe(202);
    await expectProblem(await send(document('limit-over', 4097)), 413, /4096-byte limit/);
  });

  it('counts a chunked body as it arrives: under the limit it is read, over it 413', async () => {
    const accepted = await send(chunked(document('limit-chunked', 3000)));
    expect(accepted.status).toBe(202);
    expect(((await accepted.json()) as { accepted: Array<{ id: string }> }).accepted[0]?.id).toBe('limit-chunked');
    await expectProblem(await send(chunked(document('limit-chunked-over', 9000))), 413, /4096-byte limit/);
  });

  it('answers bodyless requests and a malformed body as before', async () => {
    expect((await fetch(`${server.url}/v1/projections`)).status).toBe(200);
    await expectProblem(await send('{"id": "a", "text": '), 400, /not valid JSON/);
  });
});
