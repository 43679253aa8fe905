// Bad input: property-based fuzzing (fast-check) of every HTTP route and of event payloads written straight onto every
// stream, with valid documents published in between. 0 answers 5xx, 0 crashed processes, every rejected event in the DLQ
// with its reason, every valid document queryable.
import { spawn } from 'node:child_process';
import path from 'node:path';
import fc from 'fast-check';
import { headers as createHeaders } from '@nats-io/transport-node';
import { isAlive } from '../../lib/processes.ts';
import { documentInputSchema } from '../../streams/document-log.ts';
import { readDlq } from '../../streams/dlq.ts';
import { listConsumers } from '../../streams/consumer-list.ts';
import { connectNats, type NatsHandle } from '../../streams/nats.ts';
import { STREAMS } from '../../streams/provision.ts';
import { freePort } from '../../streams/server.ts';
import { REPO_ROOT, note, sleep } from '../lib/common.ts';
import { settleAndCheck } from './lib/check.ts';
import { call, StatusTally, type HttpOutcome } from './lib/http.ts';
import { natsChildPid, startUp } from './lib/procs.ts';
import type { ChaosResult, Scale } from './lib/result.ts';
import { scopedTempDir, Scope } from './lib/scope.ts';
import { docText, Ledger } from './lib/workload.ts';

const SIZES: Record<Scale['name'], { slices: number; httpRuns: number; eventRuns: number }> = {
  full: { slices: 20, httpRuns: 150, eventRuns: 40 },
  short: { slices: 4, httpRuns: 40, eventRuns: 12 },
};

// ---- values -------------------------------------------------------------------------------------------------------

const SPECIAL = ['', ' ', '.', '..', '%', '%00', '%2F', '*', '>', 'a.b', 'a b', '\u0000', '\ud800', '\u202e', '😀', 'default', 'api', '__proto__', 'constructor', 'x'.repeat(300)];
/** Query syntax of the keyword index (FTS5) and words the valid documents contain. */
const QUERY_SPECIAL = ['"', '"tides', 'NEAR(tides kilns)', 'tides OR', 'AND', 'NOT kilns', '^tides', 'text:tides', '-tides', '(', ')', '{a b}:c', 'tides*', '*', 'chaosdocvalid0001', 'revision marker'];
const str = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 2, arbitrary: fc.constantFrom(...SPECIAL) },
  { weight: 1, arbitrary: fc.constantFrom('x'.repeat(5000), 'é'.repeat(3000)) },
);
const num = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, -1, 1, 2 ** 53 + 2, 1e308, 0.5, -0));
const anyValue: fc.Arbitrary<unknown> = fc.oneof(str, num, fc.boolean(), fc.constant(null), fc.jsonValue({ maxDepth: 3 }), fc.array(str, { maxLength: 3 }));
/** Mostly a value of the expected kind, sometimes anything. */
const fieldOr = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<unknown> => fc.oneof({ weight: 3, arbitrary: arb }, { weight: 1, arbitrary: anyValue });
const record = (fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Record<string, unknown>> =>
  fc.tuple(fc.record(fields, { requiredKeys: [] }), fc.option(fc.tuple(str, anyValue), { nil: undefined })).map(([r, extra]) => (extra ? { ...r, [extra[0]]: extra[1] } : r));
const ascii = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 });

const documentArb = record({
  id: fieldOr(fc.oneof(str, fc.integer())),
  text: fieldOr(str),
  source: fieldOr(fc.oneof(str, fc.constantFrom('api', 'rss', 'a-b_c'))),
  title: fieldOr(str),
  url: fieldOr(str),
  contentType: fieldOr(fc.constantFrom('text/markdown', 'text/html', 'text/plain', 'application/pdf')),
  metadata: fieldOr(fc.dictionary(str, fc.jsonValue({ maxDepth: 4 }), { maxKeys: 5 })),
});
const filterArb = record({ source: fieldOr(fc.oneof(str, fc.array(str, { maxLength: 3 }))), docId: fieldOr(fc.oneof(str, fc.array(str, { maxLength: 3 }))), metadata: fieldOr(fc.dictionary(str, anyValue, { maxKeys: 3 })) });
const modeArb = fieldOr(fc.constantFrom('hybrid', 'keyword', 'vector'));
/** Read-your-writes waits are kept short so a run takes seconds; a timeout asked for is answered 504 by design. */
const timeoutArb = fieldOr(fc.integer({ min: -5, max: 300 }));

/** Ids a user may give a document (what POST /v1/documents accepts), as odd as they come. */
const validIdArb = fc
  .oneof(
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
    fc.string({ minLength: 1, maxLength: 40 }),
    fc.constantFrom('a.b', 'a b', '*', '>', 'docs.>', '%2F', 'a/b', '..a', 'x'.repeat(300), 'é'.repeat(150), '😀 emoji id'),
  )
  .filter((id) => documentInputSchema.safeParse({ id, text: 'x' }).success);

// ---- requests -----------------------------------------------------------------------------------------------------

export interface FuzzRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly raw?: string;
  /** Asked to wait for a sequence (read-your-writes): a 504 is the documented answer when it is not applied in time. */
  readonly waits: boolean;
}

const segment = fc.oneof({ weight: 3, arbitrary: str.map((s) => encodeURIComponent(s.toWellFormed())) }, { weight: 1, arbitrary: ascii.map((s) => s.replace(/[/?#]/g, '')) });
const contentTypeArb = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/x-ndjson', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '', 'application/json; charset=latin1');
const headersArb = fc
  .record(
    { 'x-tenant': fc.oneof(ascii, fc.constantFrom('default', 'acme', 'a.b', '*', '>')), traceparent: fc.oneof(ascii, fc.constant('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')), authorization: ascii, accept: fc.constantFrom('text/event-stream', 'application/json', '*/*') },
    { requiredKeys: [] },
  )
  .map((h) => Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined)) as Record<string, string>);

/** A body: the structured value as JSON mostly, sometimes broken JSON or plain garbage. */
const bodyOf = (value: fc.Arbitrary<unknown>): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 6, arbitrary: value.map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 1, arbitrary: value.chain((v) => fc.nat().map((cut) => (JSON.stringify(v) ?? '').slice(0, cut % Math.max(1, (JSON.stringify(v) ?? '').length)))) },
    { weight: 1, arbitrary: str },
    { weight: 1, arbitrary: fc.constantFrom('', '{', '[]', '{"documents":[]}', 'null', '1e999', '{"a":'.repeat(2000)) },
  );

const jsonPost = (routes: fc.Arbitrary<string>, value: fc.Arbitrary<unknown>, waits = (_: string) => false): fc.Arbitrary<FuzzRequest> =>
  fc.tuple(routes, bodyOf(value), headersArb, fc.option(contentTypeArb, { freq: 4, nil: undefined })).map(([p, raw, headers, ct]) => ({
    method: 'POST',
    path: p,
    headers: { 'content-type': ct ?? 'application/json', ...headers },
    raw,
    waits: waits(raw),
  }));

const mentionsAfterSeq = (raw: string) => raw.includes('after_seq');

export function requestArb(knownQueryIds: () => string[]): fc.Arbitrary<FuzzRequest> {
  const queryId = fc.oneof(fc.constant(null).map(() => knownQueryIds()[0] ?? 'none'), str);
  const documents = fc.oneof(documentArb, record({ documents: fieldOr(fc.array(documentArb, { maxLength: 5 })) }), fc.array(documentArb, { maxLength: 3 }), anyValue);
  const queryText = fc.oneof(str, fc.constantFrom(...QUERY_SPECIAL), fc.array(fc.constantFrom(...QUERY_SPECIAL), { maxLength: 4 }).map((ws) => ws.join(' ')));
  const query = record({ query: fieldOr(queryText), k: fieldOr(fc.integer({ min: -2, max: 200 })), mode: modeArb, filter: fieldOr(filterArb), after_seq: fieldOr(fc.integer({ min: -1, max: 1e9 })), timeout_ms: timeoutArb, stream: fieldOr(fc.boolean()), max_tokens: fieldOr(fc.integer()), temperature: fieldOr(num) });
  const message = record({ role: fieldOr(fc.constantFrom('system', 'developer', 'user', 'assistant', 'tool', 'function')), content: fieldOr(fc.oneof(queryText, fc.array(record({ type: fieldOr(fc.constantFrom('text', 'image_url')), text: fieldOr(str) }), { maxLength: 3 }), fc.constant(null))) });
  const chat = record({ model: fieldOr(str), messages: fieldOr(fc.array(message, { maxLength: 4 })), stream: fieldOr(fc.boolean()), k: fieldOr(fc.integer({ min: -2, max: 200 })), mode: modeArb, filter: fieldOr(filterArb), after_seq: fieldOr(fc.integer({ min: -1, max: 1e9 })), timeout_ms: timeoutArb, n: fieldOr(fc.integer({ min: 0, max: 3 })), max_tokens: fieldOr(fc.integer()), temperature: fieldOr(num) });
  const feedback = record({ queryId: fieldOr(queryId), rating: fieldOr(fc.integer({ min: -2, max: 2 })), comment: fieldOr(str) });
  const ndjson = fc
    .array(fc.oneof({ weight: 3, arbitrary: documentArb.map((d) => JSON.stringify(d)) }, { weight: 1, arbitrary: str.map((s) => s.replace(/\n/g, ' ')) }), { maxLength: 6 })
    .chain((lines) => fc.constantFrom('\n', '\r\n').map((sep) => lines.join(sep)));
  const gets = fc.constantFrom('/v1/projections', '/v1/schemas', '/readyz', '/healthz', '/metrics', '/openapi.json', '/docs', '/asyncapi.yaml');
  const queryString = fc.option(fc.tuple(ascii, ascii).map(([k, v]) => `?${encodeURIComponent(k)}=${encodeURIComponent(v)}`), { nil: '' });
  return fc.oneof(
    jsonPost(fc.constant('/v1/documents'), documents),
    fc.tuple(ndjson, headersArb, fc.constantFrom('application/x-ndjson', 'application/jsonl', 'application/x-jsonlines')).map(([raw, headers, ct]) => ({ method: 'POST', path: '/v1/documents', headers: { ...headers, 'content-type': ct }, raw, waits: false })),
    fc.tuple(fc.constantFrom('GET', 'DELETE'), segment, segment, headersArb).map(([method, s, id, headers]) => ({ method, path: `/v1/documents/${s}/${id}`, headers, waits: false })),
    jsonPost(fc.constant('/v1/query'), query, mentionsAfterSeq),
    jsonPost(fc.constant('/v1/chat/completions'), chat, mentionsAfterSeq),
    jsonPost(fc.constant('/v1/feedback'), feedback),
    fc.tuple(fc.oneof(queryId.map((q) => encodeURIComponent(String(q).toWellFormed())), segment), headersArb).map(([id, headers]) => ({ method: 'GET', path: `/v1/answers/${id}`, headers, waits: false })),
    fc.tuple(fc.oneof(gets, segment.map((s) => `/v1/schemas/${s}`)), queryString, headersArb).map(([p, q, headers]) => ({ method: 'GET', path: `${p}${q}`, headers, waits: false })),
    fc.tuple(fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'HEAD', 'OPTIONS'), fc.array(segment, { maxLength: 4 }), headersArb, fc.option(str, { nil: undefined })).map(([method, segs, headers, raw]) => ({
      method,
      path: `/${segs.join('/')}`,
      headers,
      ...(raw !== undefined && method !== 'GET' && method !== 'HEAD' ? { raw } : {}),
      waits: false,
    })),
  );
}

/** What an answer must be: never 5xx (a read-your-writes timeout asked for may be 504), errors as problem+json. */
export function judge(req: FuzzRequest, o: HttpOutcome): 'ok' | 'server-error' | 'no-answer' | 'not-problem-json' {
  if (o.status <= 0) return 'no-answer';
  if (o.status >= 500 && !(o.status === 504 && req.waits)) return 'server-error';
  const ct = o.headers?.get('content-type') ?? '';
  // 431 and 414 come from Node's HTTP parser before the app sees the request.
  if (o.status >= 400 && o.status !== 431 && o.status !== 414 && req.method !== 'HEAD' && !ct.includes('application/problem+json')) return 'not-problem-json';
  return 'ok';
}

// ---- events -------------------------------------------------------------------------------------------------------

const token = fc.oneof(fc.constantFrom('default', 'api', 'acme'), fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/));
const b64floats = (dims: fc.Arbitrary<number>) => dims.chain((d) => fc.array(fc.oneof(fc.float(), fc.constant(0)), { minLength: d, maxLength: d }).map((xs) => Buffer.from(new Float32Array(xs).buffer).toString('base64')));

export interface InjectedEvent {
  readonly stream: string;
  readonly subject: string;
  readonly ceType: string | undefined;
  readonly data: Uint8Array;
  /** Not an event at all (bytes that are not JSON, no or an unknown ce-type): it must be dead-lettered. */
  readonly hopeless: boolean;
  /** Published with JetStream publish directives (Nats-Expected-Stream), stored with it: its DLQ entry must not carry them. */
  readonly directives: boolean;
}

const EVENT_TYPES: Record<string, string[]> = {
  DOCUMENTS: ['document.upserted', 'document.deleted'],
  CHUNKS: ['document.chunked', 'document.removed'],
  EMBEDDINGS: ['document.embedded', 'document.removed'],
  ERASURES: ['document.erased'],
  QUERIES: ['query.received', 'query.answered', 'feedback.given'],
  DLQ: ['document.upserted', 'document.chunked'],
};

export function eventArb(model: { id: string; dims: number }, docSeqs: () => number[]): fc.Arbitrary<InjectedEvent> {
  const docSeq = fieldOr(fc.oneof(fc.constant(0).map(() => docSeqs()[Math.floor(Math.random() * Math.max(1, docSeqs().length))] ?? 1), fc.integer({ min: -1, max: 1e9 })));
  const address = { tenant: fieldOr(token), source: fieldOr(token), id: fieldOr(str) };
  const contentHash = fieldOr(fc.constantFrom(`sha256:${'0'.repeat(64)}`, 'sha256:xyz'));
  const part = fieldOr(record({ index: fieldOr(fc.integer({ min: -1, max: 3 })), count: fieldOr(fc.integer({ min: 0, max: 3 })) }));
  const chunk = record({ chunkId: fieldOr(str), ordinal: fieldOr(fc.integer({ min: -1, max: 5 })), text: fieldOr(str), start: fieldOr(fc.nat()), end: fieldOr(fc.nat()), tokens: fieldOr(fc.nat()) });
  const payloads: Record<string, fc.Arbitrary<unknown>> = {
    DOCUMENTS: record({ ...address, text: fieldOr(str), title: fieldOr(str), metadata: fieldOr(fc.dictionary(str, fc.jsonValue({ maxDepth: 4 }), { maxKeys: 4 })), contentHash }),
    CHUNKS: record({ ...address, docSeq, document: fieldOr(record({ metadata: fieldOr(fc.dictionary(str, anyValue, { maxKeys: 2 })), contentHash })), chunker: fieldOr(record({ name: fieldOr(str), version: fieldOr(fc.integer()), size: fieldOr(fc.integer()), overlap: fieldOr(fc.integer()) })), part, totalChunks: fieldOr(fc.integer({ min: -1, max: 5 })), chunks: fieldOr(fc.array(chunk, { maxLength: 3 })) }),
    EMBEDDINGS: record({ ...address, docSeq, model: fieldOr(record({ id: fieldOr(fc.constantFrom(model.id, 'other')), dims: fieldOr(fc.constantFrom(model.dims, 3, 0, -1)), normalized: fieldOr(fc.boolean()) })), part, vectors: fieldOr(fc.array(record({ chunkId: fieldOr(str), window: fieldOr(fc.integer({ min: -1, max: 2 })), vector: fieldOr(fc.oneof(b64floats(fc.constantFrom(model.dims, 3)), str)) }), { maxLength: 3 })) }),
    ERASURES: record({ ...address, docSeq }),
    QUERIES: record({ tenant: fieldOr(token), queryId: fieldOr(str), query: fieldOr(str), rating: fieldOr(fc.integer()), hits: fieldOr(fc.array(anyValue, { maxLength: 2 })) }),
    DLQ: fc.jsonValue({ maxDepth: 3 }),
  };
  const subjectOf: Record<string, fc.Arbitrary<string>> = {
    DOCUMENTS: fc.tuple(token, token, token).map(([t, s, d]) => `docs.${t}.${s}.${d}`),
    CHUNKS: fc.tuple(token, token, token).map(([t, s, d]) => `chunks.${t}.${s}.${d}`),
    EMBEDDINGS: fc.tuple(fc.constantFrom(model.id, 'other-model'), token, token, token).map(([m, t, s, d]) => `embeddings.${m}.${t}.${s}.${d}`),
    ERASURES: fc.tuple(token, token, token).map(([t, s, d]) => `erasures.${t}.${s}.${d}`),
    QUERIES: fc.tuple(token, token, fc.constantFrom('received', 'answered', 'feedback')).map(([t, q, k]) => `queries.${t}.${q}.${k}`),
    DLQ: token.map((s) => `dlq.${s}`),
  };
  const encoder = new TextEncoder();
  return fc.constantFrom(...Object.keys(payloads)).chain((stream) =>
    fc
      .tuple(
        subjectOf[stream] as fc.Arbitrary<string>,
        fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...(EVENT_TYPES[stream] as string[])) }, { weight: 1, arbitrary: fc.constantFrom(undefined, 'document.exploded', '') }),
        fc.oneof(
          { weight: 6, arbitrary: (payloads[stream] as fc.Arbitrary<unknown>).map((v) => ({ bytes: encoder.encode(JSON.stringify(v) ?? 'null'), json: true })) },
          { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ bytes: Uint8Array.from([0xff, ...bytes]), json: false })) },
          { weight: 1, arbitrary: fc.constantFrom('{"tenant":', '', 'null', '[]', '"x"').map((t) => ({ bytes: encoder.encode(t), json: t !== '{"tenant":' && t !== '' })) },
        ),
        fc.boolean(),
      )
      .map(([subject, ceType, body, directives]) => ({
        stream,
        subject,
        ceType,
        data: body.bytes,
        hopeless: !body.json || ceType === undefined || !(EVENT_TYPES[stream] as string[]).includes(ceType),
        directives,
      })),
  );
}

async function inject(handle: NatsHandle, e: InjectedEvent): Promise<number> {
  const h = createHeaders();
  h.set('ce-specversion', '1.0');
  if (e.ceType !== undefined) h.set('ce-type', e.ceType);
  h.set('content-type', 'application/json');
  if (e.directives) h.set('Nats-Expected-Stream', e.stream);
  return (await handle.js.publish(e.subject, e.data, { headers: h })).seq;
}

// ---- the run ------------------------------------------------------------------------------------------------------

/** `spanda dlq list --json` as a user runs it, after garbage was written onto the DLQ itself. */
function dlqList(natsUrl: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'spanda.js'), 'dlq', 'list', '--json', '--nats-url', natsUrl], { cwd: REPO_ROOT, stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code ?? -1);
    });
  });
}

async function quiet(handle: NatsHandle, api: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    let pending = 0;
    for (const stream of [STREAMS.DOCUMENTS, STREAMS.CHUNKS, STREAMS.EMBEDDINGS]) {
      for (const c of await listConsumers(handle, stream)) if (c.config.durable_name) pending += c.num_pending + c.num_ack_pending;
    }
    const ready = await call(api, 'GET', '/readyz', { timeoutMs: 10_000 });
    if (pending === 0 && (ready.body as { projection?: { caughtUp?: boolean } } | undefined)?.projection?.caughtUp) return true;
    await sleep(1000);
  }
  return false;
}

export async function fuzzScenario(scale: Scale): Promise<ChaosResult> {
  const size = SIZES[scale.name];
  const scope = new Scope();
  const failures: string[] = [];
  const tally = new StatusTally();
  const ledger = new Ledger();
  const verdicts: Record<string, number> = { ok: 0, 'server-error': 0, 'no-answer': 0, 'not-problem-json': 0 };
  const counterexamples: string[] = [];
  const notProblemJson: string[] = [];
  const injected: InjectedEvent[] = [];
  const injectedSeqs = new Map<string, InjectedEvent>();
  const queryIds: string[] = [];
  try {
    const dataDir = await scopedTempDir(scope, 'spanda-chaos-fuzz-');
    const natsPort = await freePort();
    const natsUrl = `nats://127.0.0.1:${natsPort}`;
    const node = await startUp(scope, 'node', dataDir, { natsPort });
    const nodePid = node.pid;
    const natsPid = await natsChildPid(dataDir);
    const handle = await connectNats({ url: natsUrl, name: 'spanda-chaos-fuzz', connectTimeoutMs: 10_000 });
    scope.add(() => handle.drain());
    const projection = (await call(node.api, 'GET', '/v1/projections')).body as { serving?: { model?: string } };
    const modelId = projection.serving?.model ?? 'hash-256';
    const dims = Number(/(\d+)$/.exec(modelId)?.[1] ?? 256);

    // The valid documents take odd but valid ids (any Unicode, dots, wildcards, spaces, ids long enough to be hashed
    // in their subject): each must still be published, indexed, read back and queried by its id.
    const validIds = [...new Set(fc.sample(validIdArb, { numRuns: size.slices * 4 + 4, seed: scale.seed }))];
    let valid = 0;
    const publishValid = async () => {
      const id = validIds[valid] ?? `valid${String(valid).padStart(4, '0')}`;
      valid++;
      const o = await call(node.api, 'POST', '/v1/documents', { body: { id, text: docText(id, 1) }, timeoutMs: 30_000 });
      tally.record('POST /v1/documents (valid)', o);
      if (o.status === 202) ledger.record({ id, kind: 'upsert', version: 1 }, (o.body as { accepted: Array<{ seq: number }> }).accepted[0]?.seq ?? 0);
      else failures.push(`a valid document was refused: ${o.status} ${JSON.stringify(o.body).slice(0, 200)}`);
      const q = await call(node.api, 'POST', '/v1/query', { body: { query: 'tides', mode: 'keyword', k: 1 } });
      const qid = (q.body as { queryId?: string } | undefined)?.queryId;
      if (qid) queryIds.unshift(qid);
    };
    const docSeqs = () => [...ledger.finals().values()].map((a) => a.seq);

    const httpProperty = fc.asyncProperty(requestArb(() => queryIds), async (req) => {
      const o = await call(node.api, req.method, req.path, { headers: req.headers, ...(req.raw !== undefined ? { raw: req.raw } : {}), timeoutMs: 30_000 });
      tally.record(`${req.method} ${req.path.slice(0, 60)}`, o);
      const verdict = judge(req, o);
      verdicts[verdict] = (verdicts[verdict] ?? 0) + 1;
      if (verdict === 'not-problem-json' && notProblemJson.length < 10) notProblemJson.push(`${req.method} ${req.path.slice(0, 80)} → ${o.status} ${o.headers?.get('content-type') ?? ''}`);
      return verdict === 'ok' || verdict === 'not-problem-json';
    });
    const eventProperty = fc.asyncProperty(eventArb({ id: modelId, dims }, docSeqs), async (e) => {
      const seq = await inject(handle, e);
      injected.push(e);
      injectedSeqs.set(`${e.stream}:${seq}`, e);
      if (e.stream === STREAMS.QUERIES) {
        // Garbage where an answer is read back from: GET /v1/answers/:id must still answer 4xx, not 5xx.
        const [, tenant, id] = e.subject.split('.');
        const o = await call(node.api, 'GET', `/v1/answers/${encodeURIComponent(id ?? '')}`, { headers: { 'x-tenant': tenant ?? 'default' } });
        tally.record('GET /v1/answers/:id (injected)', o);
        if (o.status >= 500 || o.status <= 0) return false;
      }
      return true;
    });

    for (let slice = 0; slice < size.slices; slice++) {
      await publishValid();
      const h = await fc.check(httpProperty, { numRuns: size.httpRuns, seed: scale.seed * 1000 + slice, endOnFailure: false, maxSkipsPerRun: 1 });
      if (h.failed && counterexamples.length < 10) counterexamples.push(`http (seed ${h.seed}, path ${h.counterexamplePath}): ${JSON.stringify(h.counterexample).slice(0, 600)}`);
      await publishValid();
      const ev = await fc.check(eventProperty, { numRuns: size.eventRuns, seed: scale.seed * 1000 + slice, endOnFailure: true });
      if (ev.failed && counterexamples.length < 10) counterexamples.push(`event (seed ${ev.seed}): ${JSON.stringify(ev.counterexample).slice(0, 600)}${ev.errorInstance ? ` ${String(ev.errorInstance)}` : ''}`);
      note(`fuzz: slice ${slice + 1}/${size.slices}: ${tally.total} requests, ${injected.length} events injected, ${verdicts['server-error']} 5xx so far`);
    }
    await publishValid();

    // Everything settles: the processors and the projection went through every injected event.
    const settled = await quiet(handle, node.api, 180_000);
    if (!settled) failures.push('the consumers did not settle within 180 s of the last injected event');
    const verdict = await settleAndCheck(node.api, ledger);
    if (verdict.lost > 0) failures.push(`${verdict.lost} valid documents not queryable (${verdict.examples.slice(0, 3).join('; ')})`);

    // The indexing catalog (the one reader of ERASURES) applies in lingering batches apart from the inference
    // projection quiet() waits for: give it up to 30 s to dead-letter what cannot be valid.
    const hopeless = [...injectedSeqs].filter(([, e]) => e.hopeless && e.stream !== STREAMS.QUERIES && e.stream !== STREAMS.DLQ).map(([key]) => key);
    let entries = await readDlq(handle);
    for (const deadline = Date.now() + 30_000; Date.now() < deadline && !hopeless.every((key) => entries.some((e) => `${e.stream}:${e.seq}` === key)); ) {
      await sleep(500);
      entries = await readDlq(handle);
    }
    const dlqCode = await dlqList(natsUrl);
    if (dlqCode !== 0) failures.push(`spanda dlq list --json exited ${dlqCode} with garbage on the DLQ stream`);
    const inDlq = new Map(entries.map((e) => [`${e.stream}:${e.seq}`, e]));
    let deadLettered = 0;
    let accepted = 0;
    const missing: string[] = [];
    for (const [key, e] of injectedSeqs) {
      if (e.stream === STREAMS.QUERIES || e.stream === STREAMS.DLQ) continue;
      const entry = inDlq.get(key);
      if (entry) {
        deadLettered++;
        if (entry.reason.trim() === '') failures.push(`${key} is in the DLQ without a reason`);
      } else if (e.hopeless) missing.push(`${key} (${e.subject}, ce-type ${String(e.ceType)})`);
      else accepted++;
    }
    if (missing.length > 0) failures.push(`${missing.length} events that cannot be valid are not in the DLQ: ${missing.slice(0, 3).join('; ')}`);
    const validInDlq = entries.filter((e) => !injectedSeqs.has(`${e.stream}:${e.seq}`) && e.stream === STREAMS.DOCUMENTS);
    if (validInDlq.length > 0) failures.push(`${validInDlq.length} valid documents dead-lettered: ${validInDlq.slice(0, 2).map((e) => e.reason).join('; ')}`);

    const nodeAlive = node.running && node.pid === nodePid && node.starts === 1;
    const natsAlive = natsPid !== undefined && isAlive(natsPid) && (await natsChildPid(dataDir)) === natsPid;
    if (!nodeAlive) failures.push(`spanda up crashed:\n${node.output().slice(-2000)}`);
    if (!natsAlive) failures.push('the nats-server child was restarted or died');
    const serverErrors = verdicts['server-error'] ?? 0;
    if (serverErrors > 0) failures.push(`${serverErrors} answers 5xx: ${[...counterexamples, ...tally.examples].slice(0, 5).join('\n    ')}`);
    if ((verdicts['no-answer'] ?? 0) > 0) failures.push(`${verdicts['no-answer']} requests got no answer`);
    if (counterexamples.length > 0 && serverErrors === 0) failures.push(`properties failed: ${counterexamples.slice(0, 3).join('\n    ')}`);

    const byStream: Record<string, number> = {};
    for (const e of injected) byStream[e.stream] = (byStream[e.stream] ?? 0) + 1;
    return {
      scenario: 'fuzz',
      description: 'fast-check: every HTTP route (JSON, NDJSON, paths, headers) and events on DOCUMENTS, CHUNKS, EMBEDDINGS, ERASURES, QUERIES, DLQ; valid documents in between',
      faults: tally.total - valid + injected.length,
      events: ledger.events + injected.length,
      lost: verdict.lost,
      duplicated: verdict.duplicated,
      resurrected: verdict.resurrected,
      http5xx: serverErrors,
      figures: {
        requests: tally.total,
        statuses: tally.counts,
        verdicts,
        notProblemJson,
        injected: byStream,
        deadLettered,
        acceptedAsValid: accepted,
        dlqEntries: entries.length,
        validDocuments: ledger.events,
        crashedProcesses: (nodeAlive ? 0 : 1) + (natsAlive ? 0 : 1),
        counterexamples,
        examples: tally.examples,
      },
      failures,
    };
  } finally {
    await scope.close();
  }
}
