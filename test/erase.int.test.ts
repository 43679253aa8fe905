// `spanda erase` on a running node (one document, or a whole tenant with --all): the text is nowhere in the log afterwards, the rest is untouched, and the store still verifies.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../lib/log.ts';
import { generationRuntime, INFERENCE_ROLE } from '../cli/inference-runtime.ts';
import { verifyGeneration } from '../projections/replay.ts';
import { verifyCatalog } from '../projections/catalog-serving.ts';
import { encodeEvent, eventMetadata } from '../streams/codec.ts';
import { encodeVector } from '../streams/events/index.ts';
import { readSlice } from '../streams/read.ts';
import { STREAMS, provision } from '../streams/provision.ts';
import { subjects } from '../streams/subjects.ts';
import { runCli, eventually } from './helpers/cli.ts';
import { jsonApi } from './helpers/http.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';

let node: TestSystem;

beforeAll(async () => {
  // Two models: each writes EMBEDDINGS of the document on a subject of its own.
  node = await startTestSystem({ SPANDA_MODELS: 'hash-128' });
});
afterAll(async () => {
  await node?.destroy();
});

const api = jsonApi(() => node.system.apiUrl);
const acme = { 'x-tenant': 'acme' };
const SECRET = 'walrusfeather';
const secretDoc = { tenant: 'acme', source: 'notes', id: 'hr/case 17.md' };

/** Every message of every stream whose bytes contain `word`, as "STREAM seq subject". */
async function messagesHolding(word: string): Promise<string[]> {
  const found: string[] = [];
  const needle = Buffer.from(word);
  for (const stream of Object.values(STREAMS)) {
    const last = (await node.system.nats.jsm.streams.info(stream)).state.last_seq;
    if (last === 0) continue;
    await readSlice(node.system.nats, { stream, filterSubject: '>', upTo: last }, async (messages) => {
      for (const m of messages) if (Buffer.from(m.data).includes(needle)) found.push(`${stream} ${m.seq} ${m.subject}`);
    });
  }
  return found;
}

/** Files under `dir` whose bytes contain `word`. */
async function filesHolding(dir: string, word: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    if ((await readFile(file)).includes(Buffer.from(word))) found.push(path.relative(dir, file));
  }
  return found;
}

async function subjectMessages(stream: string, subject: string): Promise<string[]> {
  const last = (await node.system.nats.jsm.streams.info(stream)).state.last_seq;
  const types: string[] = [];
  await readSlice(node.system.nats, { stream, filterSubject: subject, upTo: last }, async (messages) => {
    for (const m of messages) types.push(m.headers?.get('ce-type') ?? '(no type)');
  });
  return types;
}

describe('spanda erase', () => {
  it('purges every version, the answers that cited it and its DLQ entries, keeps the deletion, and the store still verifies', async () => {
    const publish = async (id: string, text: string): Promise<number> => {
      const r = await api('POST', '/v1/documents', { documents: [{ id, source: 'notes', title: 'Case notes', text }] }, acme);
      expect(r.status).toBe(202);
      return r.json.accepted[0].seq;
    };
    const firstSeq = await publish(secretDoc.id, `The ${SECRET} complaint was filed on Monday by the night shift.`);
    // Vectors of a model no node embeds with any more (dropped after a migration): its embedder will never write the
    // removal, and erase must not wait for it.
    const retired = encodeEvent({
      type: 'document.embedded',
      data: { ...secretDoc, docSeq: firstSeq, model: { id: 'hash-64', dims: 64, normalized: true, maxTokens: 512 }, part: { index: 0, count: 1 }, vectors: [{ chunkId: `${firstSeq}:x:0`, window: 0, vector: encodeVector(new Float32Array(64).fill(0.125)) }] },
      metadata: eventMetadata('document.embedded', { source: '/processors/embedder/hash-64' }),
    });
    await node.system.nats.js.publish(subjects.embeddings('hash-64', secretDoc), retired.data, { headers: retired.headers });
    await publish(secretDoc.id, `The ${SECRET} complaint was filed on Monday; the review is on Friday.`);
    await publish('kept.md', 'The narwhal survey counted tusks along the northern coast.');
    const ask = (query: string, k = 3) => api('POST', '/v1/query', { query, k }, acme);
    // Asked without the word itself, so the only copies of it are the document's and those of answers that cite it.
    const cited = await eventually(() => ask('complaint filed night shift'), (r) => r.status === 200 && r.json.results.some((h: { docId: string }) => h.docId === secretDoc.id));
    // One passage: an answer citing only the other document (the vector side ranks every document of the tenant).
    const kept = await eventually(() => ask('narwhal survey tusks', 1), (r) => r.status === 200 && r.json.results.length === 1 && r.json.results[0].docId === 'kept.md');
    await eventually(() => api('GET', `/v1/answers/${cited.json.queryId}`, undefined, acme), (r) => r.status === 200);
    // A forged answer citing it whose payload names the query "*": what is erased follows the subject, never the payload
    // (a "*" there would have matched every query of the tenant).
    const forged = encodeEvent({
      type: 'query.answered',
      data: { queryId: '*', tenant: 'acme', query: 'q', answer: 'a', results: [{ chunkId: 'c', docId: secretDoc.id, source: 'notes', seq: 1, score: 1 }], tookMs: 1, generator: 'g' },
      metadata: eventMetadata('query.answered', { source: '/forged', subject: '*' }),
    });
    await node.system.nats.js.publish('queries.acme.forged1.answered', forged.data, { headers: forged.headers });
    // Junk written straight onto the document's CHUNKS subject is dead-lettered with its bytes.
    await node.system.nats.js.publish(subjects.chunks(secretDoc), `junk about ${SECRET}`);
    await eventually(() => messagesHolding(SECRET), (found) => found.some((f) => f.startsWith(`${STREAMS.DLQ} `)));
    // Both models have embedded both versions, and the serving store holds the latest.
    for (const model of ['hash-256', 'hash-128']) await eventually(() => subjectMessages(STREAMS.EMBEDDINGS, subjects.embeddings(model, secretDoc)), (types) => types.length >= 2);
    await eventually(() => api('GET', `/v1/documents/notes/${encodeURIComponent(secretDoc.id)}`, undefined, acme), (r) => r.status === 200 && r.json.serving.applied && r.json.vectors > 0);
    expect((await messagesHolding(SECRET)).length).toBeGreaterThan(5);

    const refused = await runCli(['erase', 'notes', secretDoc.id, '--tenant', 'acme', '--nats-url', node.config.natsUrl]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/add --yes/);

    const run = await runCli(['erase', 'notes', secretDoc.id, '--tenant', 'acme', '--yes', '--json', '--wait', '30', '--nats-url', node.config.natsUrl]);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ tenant: 'acme', source: 'notes', id: secretDoc.id, unprocessed: [], notRunning: [subjects.embeddings('hash-64', secretDoc)], queries: 2, dlqEntries: 1 });
    expect(await subjectMessages(STREAMS.EMBEDDINGS, subjects.embeddings('hash-64', secretDoc))).toEqual([]);
    expect(report.purged.documents).toBe(2);
    expect(report.purged.chunks).toBeGreaterThanOrEqual(3); // two versions and the junk
    expect(report.purged.embeddings).toBeGreaterThanOrEqual(5); // two versions, two models, and the retired model's
    expect(run.stderr).toMatch(/the indexing catalog forgets its earlier versions/);

    // The text is nowhere in the log, nor in nats-server's store files (each message erased, not only dropped from the
    // index); what is left on the document's subjects is the deletion and its removals.
    expect(await messagesHolding(SECRET)).toEqual([]);
    expect(await filesHolding(path.join(node.dir, 'nats'), SECRET)).toEqual([]);
    expect(await subjectMessages(STREAMS.DOCUMENTS, subjects.document(secretDoc))).toEqual(['document.deleted']);
    expect(await subjectMessages(STREAMS.CHUNKS, subjects.chunks(secretDoc))).toEqual(['document.removed']);
    for (const model of ['hash-256', 'hash-128']) {
      expect(await subjectMessages(STREAMS.EMBEDDINGS, subjects.embeddings(model, secretDoc)), model).toEqual(['document.removed']);
    }
    // Not served, its answer gone; the other document and its answer untouched.
    const after = await ask('complaint filed night shift');
    expect(after.json.results.map((h: { docId: string }) => h.docId)).not.toContain(secretDoc.id);
    expect((await api('GET', `/v1/answers/${cited.json.queryId}`, undefined, acme)).status).toBe(404);
    expect((await api('GET', `/v1/answers/${kept.json.queryId}`, undefined, acme)).status).toBe(200);
    expect((await ask('narwhal survey tusks')).json.results.map((h: { docId: string }) => h.docId)).toContain('kept.md');

    // The serving store (which saw every version) still equals the digest of the log that is left.
    const { kv } = await provision(node.system.nats);
    const runtime = generationRuntime(node.system.nats, kv, node.config, [], silentLogger);
    const verified = await verifyGeneration(runtime, INFERENCE_ROLE);
    expect(verified).toMatchObject({ ok: true, differing: [] });
    // So does the indexing catalog, once it has applied the erasure: it forgets the erased versions (titles included).
    await eventually(() => verifyCatalog(node.system.nats, runtime.generations, node.config.dataDir), (v) => v.ok, 10_000);

    // Erasing it again finds nothing more to purge and says the deletion is the same.
    const again = JSON.parse((await runCli(['erase', 'notes', secretDoc.id, '--tenant', 'acme', '--yes', '--json', '--nats-url', node.config.natsUrl])).stdout);
    expect(again).toMatchObject({ deletionSeq: report.deletionSeq, purged: { documents: 0, chunks: 0, embeddings: 0 }, queries: 0, dlqEntries: 0 });
  }, 120_000);

  it('--all erases a whole tenant: every document and query, the deletions kept, another tenant untouched', async () => {
    const secret = 'pangolinledger';
    const globex = { 'x-tenant': 'globex' };
    const initech = { 'x-tenant': 'initech' };
    const longId = `contracts/${'x'.repeat(300)}.md`; // a hashed subject token: the id comes from the event's header
    const publish = async (headers: Record<string, string>, id: string, text: string) => {
      const r = await api('POST', '/v1/documents', { documents: [{ id, source: 'files', text }] }, headers);
      expect(r.status).toBe(202);
    };
    await publish(globex, 'a.md', `The ${secret} audit found two missing invoices.`);
    await publish(globex, 'a.md', `The ${secret} audit found three missing invoices.`);
    await publish(globex, longId, `Clause nine of the ${secret} contract covers renewals.`);
    await publish(globex, 'gone.md', `An old ${secret} memo that was deleted before.`);
    await publish(initech, 'stays.md', 'The okapi enclosure needs a new water trough.');
    expect((await api('DELETE', '/v1/documents/files/gone.md', undefined, globex)).status).toBe(202);
    const asked = await eventually(() => api('POST', '/v1/query', { query: 'missing invoices audit', k: 3 }, globex), (r) => r.status === 200 && r.json.results.length > 0);
    const kept = await eventually(() => api('POST', '/v1/query', { query: 'okapi water trough', k: 1 }, initech), (r) => r.status === 200 && r.json.results[0]?.docId === 'stays.md');
    await eventually(() => api('GET', `/v1/answers/${asked.json.queryId}`, undefined, globex), (r) => r.status === 200);
    await node.system.nats.js.publish('chunks.globex.files.junk', `junk about ${secret}`);
    await eventually(() => api('GET', `/v1/documents/files/${encodeURIComponent(longId)}`, undefined, globex), (r) => r.status === 200 && r.json.serving.applied && r.json.vectors > 0);
    await eventually(() => messagesHolding(secret), (found) => found.some((f) => f.startsWith(`${STREAMS.DLQ} `)));

    const url = ['--nats-url', node.config.natsUrl];
    for (const [args, reason] of [
      [['erase', '--all', '--yes', ...url], /--all needs --tenant/],
      [['erase', '--all', '--tenant', 'globex', ...url], /add --yes/],
      [['erase', 'files', 'a.md', '--all', '--tenant', 'globex', '--yes', ...url], /give no source or id/],
      [['erase', '--all', '--tenant', '*', '--yes', ...url], /tenant/],
    ] as const) {
      const refused = await runCli([...args]);
      expect(refused.code, args.join(' ')).toBe(2);
      expect(refused.stderr).toMatch(reason);
    }
    expect((await messagesHolding(secret)).length).toBeGreaterThan(5);

    const run = await runCli(['erase', '--all', '--tenant', 'globex', '--yes', '--json', '--wait', '30', ...url]);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ tenant: 'globex', documents: 3, deletionsPublished: 2, unprocessed: [], unaddressable: [], queries: 1, dlqEntries: 1, erasures: 3 });
    expect(report.purged.documents).toBe(4); // a.md twice, the long id, gone.md's upsert
    expect(report.purged.queries).toBeGreaterThanOrEqual(2);

    expect(await messagesHolding(secret)).toEqual([]);
    expect(await filesHolding(path.join(node.dir, 'nats'), secret)).toEqual([]);
    for (const id of ['a.md', longId, 'gone.md']) {
      const address = { tenant: 'globex', source: 'files', id };
      expect(await subjectMessages(STREAMS.DOCUMENTS, subjects.document(address)), id).toEqual(['document.deleted']);
      expect(await subjectMessages(STREAMS.CHUNKS, subjects.chunks(address)), id).toEqual(['document.removed']);
    }
    expect(await subjectMessages(STREAMS.QUERIES, 'queries.globex.>')).toEqual([]);
    // The other tenant's document and answer are untouched.
    expect((await api('GET', `/v1/answers/${kept.json.queryId}`, undefined, initech)).status).toBe(200);
    expect((await api('POST', '/v1/query', { query: 'okapi water trough', k: 1 }, initech)).json.results[0]?.docId).toBe('stays.md');

    const { kv } = await provision(node.system.nats);
    const runtime = generationRuntime(node.system.nats, kv, node.config, [], silentLogger);
    expect(await verifyGeneration(runtime, INFERENCE_ROLE)).toMatchObject({ ok: true, differing: [] });
    await eventually(() => verifyCatalog(node.system.nats, runtime.generations, node.config.dataDir), (v) => v.ok, 10_000);
    // The catalog tells only the deletion of each document now.
    const lineage = await api('GET', '/v1/documents/files/a.md', undefined, globex);
    expect(lineage.json.versions.map((v: { seq: number; deleted: boolean }) => v.deleted)).toEqual([true]);
    // What is left is the trace of the erasure: the versions before the deletion were erased.
    expect(lineage.json.erasures).toEqual([{ before: lineage.json.versions[0].seq, at: expect.any(String), streamSeq: expect.any(Number) }]);

    const again = JSON.parse((await runCli(['erase', '--all', '--tenant', 'globex', '--yes', '--json', ...url])).stdout);
    expect(again).toMatchObject({ documents: 3, deletionsPublished: 0, purged: { documents: 0, chunks: 0, embeddings: 0, queries: 0 }, queries: 0, dlqEntries: 0 });
    // Nothing of the tenant is served any more (asked last: the question is a new query of the tenant).
    expect((await api('POST', '/v1/query', { query: 'missing invoices audit', k: 3 }, globex)).json.results).toEqual([]);
  }, 120_000);

  it('POST /v1/documents/:source/:id/erase does the same over HTTP, and refuses bad input with 400', async () => {
    const secret = 'tapirreceipt';
    const r = await api('POST', '/v1/documents', { id: 'http note.md', source: 'notes', text: `The ${secret} was lost twice.` }, acme);
    expect(r.status).toBe(202);
    await eventually(() => api('GET', `/v1/documents/notes/${encodeURIComponent('http note.md')}`, undefined, acme), (d) => d.status === 200 && d.json.serving.applied && d.json.vectors > 0);
    for (const [path, reason] of [
      ['/v1/documents/notes/x/erase?wait=abc', /wait/],
      ['/v1/documents/notes/x/erase?wait=301', /wait/],
      ['/v1/documents/notes/x/erase?sure=1', /sure/],
      ['/v1/documents/Not%20A%20Source/x/erase', /source/],
    ] as const) {
      const refused = await api('POST', path, undefined, acme);
      expect(refused.status, path).toBe(400);
      expect(JSON.stringify(refused.json)).toMatch(reason);
    }
    const erased = await api('POST', `/v1/documents/notes/${encodeURIComponent('http note.md')}/erase?wait=30`, undefined, acme);
    expect(erased.status).toBe(200);
    expect(erased.json).toMatchObject({ tenant: 'acme', source: 'notes', id: 'http note.md', complete: true, unprocessed: [], purged: { documents: 1 } });
    expect(await messagesHolding(secret)).toEqual([]);
    const after = await api('GET', `/v1/documents/notes/${encodeURIComponent('http note.md')}`, undefined, acme);
    expect(after.json.versions.map((v: { deleted: boolean }) => v.deleted)).toEqual([true]);
  }, 120_000);
});
