// A node whose projection files were damaged on disk sets them aside and builds them again from the log at start.
import { readdir, open } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from './helpers/system.ts';

let node: TestSystem | undefined;
let dir: string;

afterAll(async () => {
  await node?.destroy();
});

async function api(method: string, route: string, body?: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(`${node?.system.apiUrl}${route}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: await response.json() };
}

/** Polls an async condition until it holds (or fails after `timeoutMs`). */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Overwrites `bytes` bytes from `offset` on: what a bad disk or a copy taken mid-write leaves. */
async function scribble(file: string, offset: number, bytes: number): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.write(Buffer.alloc(bytes, 0xa5), 0, bytes, offset);
  } finally {
    await handle.close();
  }
}

const TOPICS = ['volcano', 'glacier', 'desert', 'forest', 'ocean'];

beforeAll(async () => {
  node = await startTestSystem();
  dir = node.dir;
  const documents = Array.from({ length: 300 }, (_, i) => ({
    id: `doc-${i}`,
    text: `Document ${i} about the ${TOPICS[i % TOPICS.length]} and its ${'long winding '.repeat(20)}story number ${i}.`,
  }));
  const posted = await api('POST', '/v1/documents', { documents });
  expect(posted.status).toBe(202);
  const last = posted.json.accepted.at(-1).seq as number;
  expect((await api('POST', '/v1/query', { query: 'volcano', mode: 'keyword', after_seq: last })).status).toBe(200);
  // The catalog applies in later batches: wait until it tells the last document's story.
  await until(async () => (await api('GET', '/v1/documents/api/doc-299')).json.versions?.[0]?.embedded?.length === 1, 'the catalog');
  await node.stop();
  node = undefined;
});

describe('projection files damaged on disk', () => {
  it('are set aside and rebuilt from the log at the next start: every document answers again', async () => {
    const inference = path.join(dir, 'inference');
    const indexing = path.join(dir, 'indexing');
    const [served] = (await readdir(inference)).filter((f) => f.endsWith('.sqlite'));
    const [catalog] = (await readdir(indexing)).filter((f) => f.endsWith('.sqlite'));
    if (!served || !catalog) throw new Error('no projection files');
    await scribble(path.join(inference, served), 8192, 64 * 1024);
    await scribble(path.join(indexing, catalog), 8192, 32 * 1024);

    node = await startTestSystem({}, dir);
    await until(async () => (await api('POST', '/v1/query', { query: 'glacier', mode: 'keyword', k: 100 })).json.results?.length === 60, 'every glacier document');
    await until(async () => (await api('GET', '/v1/documents/api/doc-299')).json.versions?.[0]?.embedded?.length === 1, 'the rebuilt catalog');
    expect((await api('GET', '/readyz')).status).toBe(200);
    // The damaged files are kept beside the new ones for inspection.
    expect((await readdir(inference)).filter((f) => f.includes('.damaged-'))).toHaveLength(1);
    expect((await readdir(indexing)).filter((f) => f.includes('.damaged-'))).toHaveLength(1);
  });
});
