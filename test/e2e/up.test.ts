// End to end, as a user drives it: `spanda up` on embedded defaults, HTTP queries, the CLI, SIGKILL and restart, SIGTERM.
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../streams/server.ts';
import { eventually, exited, runCli, startUp, type Up } from '../helpers/cli.ts';
import { tempDir } from '../helpers/nats.ts';

interface QueryResult {
  answer: string;
  results: Array<{ docId: string; source: string; chunkId: string; title: string | null; url: string | null; text: string; score: number; seq: number }>;
}

async function post(api: string, route: string, body: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(`${api}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, json: await response.json() };
}

const ask = async (api: string, query: string, mode = 'hybrid') => (await post(api, '/v1/query', { query, mode, k: 10 })).json as QueryResult;

let dataDir: string;
let natsUrl: string;
let port: number;
let up: Up | undefined;

async function natsPid(): Promise<number | undefined> {
  try {
    return Number((await readFile(path.join(dataDir, 'nats', 'nats-server.pid'), 'utf8')).trim());
  } catch {
    return undefined;
  }
}

beforeAll(async () => {
  dataDir = await tempDir('spanda-e2e-');
  natsUrl = `nats://127.0.0.1:${await freePort()}`;
  port = await freePort();
});

afterAll(async () => {
  if (up && up.child.exitCode === null) {
    up.child.kill('SIGTERM');
    await exited(up.child);
  }
  const pid = await natsPid();
  if (pid) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await rm(dataDir, { recursive: true, force: true });
});

describe('spanda up on embedded defaults', () => {
  it('starts its own nats-server and answers questions about the sample corpus with citations', async () => {
    up = await startUp(['--port', String(port), '--nats-url', natsUrl, '--data-dir', dataDir]);
    expect(up.banner).toMatchObject({ ownsNats: true, model: 'use-lite-512' });
    const result = await eventually(() => ask(up!.api, 'What is hybrid search and how are the rankings fused?'), (r) => r.results.some((h) => h.source === 'sample'));
    expect(result.results[0]?.source).toBe('sample');
    expect(result.results.some((h) => h.docId === 'hybrid-search.md')).toBe(true);
    expect(result.answer).toMatch(/\[\d\]/);
    // The command as people type it: `curl -X POST …/v1/query -d '{"query":"…"}'` sends no JSON content type.
    const curlStyle = await fetch(`${up.api}/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: JSON.stringify({ query: 'What is hybrid search?' }),
    });
    expect(curlStyle.status).toBe(200);
    expect(((await curlStyle.json()) as QueryResult).results.some((h) => h.source === 'sample')).toBe(true);
  });

  it('makes a new document queryable, removes it on delete, and keeps no chunks of a longer old version', async () => {
    const api = up!.api;
    const text = Array.from({ length: 8 }, (_, i) => `Section ${i}: the okapi is a forest giraffe of the Congo with striped legs, note${i}.`).join('\n\n');
    const published = await post(api, '/v1/documents', { id: 'okapi', title: 'Okapi', text, url: 'https://example.org/okapi' });
    expect(published.status).toBe(202);
    const started = Date.now();
    const found = await eventually(() => ask(api, 'okapi forest giraffe'), (r) => r.results.some((h) => h.docId === 'okapi'));
    process.stdout.write(`[e2e] new document queryable after ${Date.now() - started} ms\n`);
    expect(found.results.find((h) => h.docId === 'okapi')).toMatchObject({ url: 'https://example.org/okapi', seq: published.json.accepted[0].seq });

    await post(api, '/v1/documents', { id: 'okapi', title: 'Okapi', text: 'The okapi is a forest giraffe.' });
    const shorter = await eventually(() => ask(api, 'okapi forest giraffe striped legs', 'keyword'), (r) => r.results.some((h) => h.docId === 'okapi' && !h.text.includes('Section')));
    expect(shorter.results.filter((h) => h.docId === 'okapi')).toHaveLength(1);

    const deleted = await fetch(`${api}/v1/documents/api/okapi`, { method: 'DELETE' });
    expect(deleted.status).toBe(202);
    for (const mode of ['hybrid', 'keyword', 'vector']) await eventually(() => ask(api, 'okapi forest giraffe', mode), (r) => !r.results.some((h) => h.docId === 'okapi'));
  });

  it('publishes, queries and inspects from the CLI', async () => {
    const file = path.join(dataDir, 'docs.jsonl');
    await writeFile(
      file,
      [JSON.stringify({ id: 'cli-1', text: 'Tardigrades survive the vacuum of space.' }), '{ broken json', JSON.stringify({ id: 'cli-2', text: 'Lichens are fungi living with algae.' })].join('\n'),
    );
    const published = await runCli(['publish', file, '--nats-url', natsUrl, '--json']);
    expect(published.code).toBe(1); // one line was invalid: reported, the others published
    expect(JSON.parse(published.stdout)).toMatchObject({ published: 2, invalid: [{ origin: 'docs.jsonl:2' }] });

    const streams = await runCli(['inspect', 'streams', '--nats-url', natsUrl, '--json']);
    const names = (JSON.parse(streams.stdout) as Array<{ name: string; messages: number }>).map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['DOCUMENTS', 'CHUNKS', 'EMBEDDINGS', 'QUERIES', 'DLQ']));
    const consumers = JSON.parse((await runCli(['inspect', 'consumers', '--nats-url', natsUrl, '--json'])).stdout) as Array<{ name: string }>;
    expect(consumers.map((c) => c.name)).toEqual(expect.arrayContaining(['chunker', 'embedder-use-lite-512']));
    const events = JSON.parse((await runCli(['inspect', 'events', 'docs.default.files.>', '--last', '2', '--nats-url', natsUrl, '--json'])).stdout) as Array<{ type: string; data: { id: string } }>;
    expect(events.map((e) => [e.type, e.data.id])).toEqual([['document.upserted', 'cli-1'], ['document.upserted', 'cli-2']]);

    const answer = await eventually(
      async () => JSON.parse((await runCli(['query', 'tardigrades in space', '--url', up!.api, '--json'])).stdout) as QueryResult,
      (r) => r.results.some((h) => h.docId === 'cli-1'),
    );
    expect(answer.results.find((h) => h.docId === 'cli-1')?.source).toBe('files');
    const human = await runCli(['query', 'tardigrades in space', '--url', up!.api]);
    expect(human.stdout).toMatch(/\[1\]/);
  });

  it('resumes after SIGKILL without losing, duplicating or resurrecting anything', async () => {
    const api = up!.api;
    await post(api, '/v1/documents', { id: 'ghost', text: 'The ghost orchid blooms in Florida swamps.' });
    await eventually(() => ask(api, 'ghost orchid', 'keyword'), (r) => r.results.some((h) => h.docId === 'ghost'));
    await fetch(`${api}/v1/documents/api/ghost`, { method: 'DELETE' });
    const batch = Array.from({ length: 40 }, (_, i) => ({ id: `batch-${i}`, text: `Pangolin fact ${i}: pangolins are covered in keratin scales, item${i}.` }));
    const accepted = await post(api, '/v1/documents', { documents: batch });
    expect(accepted.status).toBe(202);
    const orphan = await natsPid();
    up!.child.kill('SIGKILL');
    await exited(up!.child);

    const restarted = Date.now();
    up = await startUp(['--port', String(port), '--nats-url', natsUrl, '--data-dir', dataDir]);
    expect(await natsPid()).not.toBe(orphan);
    const all = await eventually(
      () => post(up!.api, '/v1/query', { query: 'pangolins keratin scales', mode: 'keyword', k: 100 }),
      (r) => new Set((r.json as QueryResult).results.map((h) => h.docId).filter((id) => id.startsWith('batch-'))).size === 40,
      120_000,
    );
    // Inputs the killed node held come back after the consumers' ack wait (DEFAULT_ACK_WAIT_MS, 10 s), well inside this test's wait.
    process.stdout.write(`[e2e] everything accepted before SIGKILL queryable ${Date.now() - restarted} ms after restart\n`);
    const hits = (all.json as QueryResult).results.filter((h) => h.docId.startsWith('batch-'));
    expect(new Set(hits.map((h) => h.chunkId)).size).toBe(hits.length); // nothing applied twice
    expect((await ask(up!.api, 'ghost orchid Florida', 'keyword')).results.some((h) => h.docId === 'ghost')).toBe(false);
  });

  it('stops gracefully on SIGTERM, taking its nats-server with it', async () => {
    const pid = await natsPid();
    up!.child.kill('SIGTERM');
    expect(await exited(up!.child)).toBe(0);
    expect(pid).toBeDefined();
    expect(() => process.kill(pid!, 0)).toThrow();
  });

  it('explains how to install nats-server when it is missing', async () => {
    const result = await runCli(['up', '--port', String(await freePort()), '--nats-url', `nats://127.0.0.1:${await freePort()}`, '--data-dir', dataDir], {
      NATS_SERVER_BIN: path.join(dataDir, 'no-such-nats-server'),
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/apt-get install nats-server/);
  });
});
