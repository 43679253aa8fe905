// End to end: a node split into processes by role (one chunker, two competing embedders, projector + api) on one NATS.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STREAMS } from '../../streams/provision.ts';
import { freePort } from '../../streams/server.ts';
import { BIN, exited, runCli } from '../helpers/cli.ts';
import { startTestNats, tempDir, type TestNats } from '../helpers/nats.ts';

let nats: TestNats;
const children: ChildProcess[] = [];
const dirs: string[] = [];

/** Starts `spanda run <roles>` and resolves once it prints its banner. */
async function runRoles(roles: string[], extra: string[] = []): Promise<{ child: ChildProcess; banner: { api: string | null } }> {
  const dir = await tempDir('spanda-e2e-role-');
  dirs.push(dir);
  const child = spawn(process.execPath, [BIN, 'run', ...roles, '--json', '--nats-url', nats.server.url, '--data-dir', dir, '--embedder', 'hash', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`spanda run ${roles.join(' ')} did not start:\n${out}`)), 60_000);
    child.stdout?.on('data', () => {
      const line = out.split('\n').find((l) => l.startsWith('{"status":"running"'));
      if (line) {
        clearTimeout(timer);
        resolve({ child, banner: JSON.parse(line) as { api: string | null } });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`spanda run ${roles.join(' ')} exited with ${code}:\n${out}`));
    });
  });
}

beforeAll(async () => {
  nats = await startTestNats({ provisioned: false });
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  await Promise.all(children.map((c) => exited(c)));
  await nats?.stop();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('spanda run, one role per process', () => {
  it('lists the roles in its help and refuses an unknown one', async () => {
    const help = await runCli(['run', '--help']);
    expect(help.code).toBe(0);
    for (const role of ['chunker', 'embedder', 'projector', 'api', 'connectors']) expect(help.stdout).toContain(role);
    const bad = await runCli(['run', 'chunker', 'reranker', '--nats-url', nats.server.url]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown role "reranker"/);
  });

  it('indexes 2,000 documents with one chunker and two competing embedders: the digest equals the log, nothing embedded twice', async () => {
    const port = await freePort();
    const api = await runRoles(['projector', 'api'], ['--port', String(port)]);
    await Promise.all([runRoles(['chunker']), runRoles(['embedder']), runRoles(['embedder'])]);
    const base = api.banner.api as string;
    let lastSeq = 0;
    for (let batch = 0; batch < 2; batch++) {
      const documents = Array.from({ length: 1000 }, (_, i) => ({
        id: `doc-${batch}-${i}`,
        text: `Document ${batch}-${i} on ${['tides', 'lichens', 'ciphers', 'kilns'][i % 4]}. ${'Some filler prose for the chunker. '.repeat(30)}`,
      }));
      const r = await fetch(`${base}/v1/documents`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ documents }) });
      expect(r.status).toBe(202);
      const body = (await r.json()) as { accepted: Array<{ seq: number }> };
      lastSeq = Math.max(lastSeq, ...body.accepted.map((a) => a.seq));
    }
    const q = await fetch(`${base}/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'Document 1-999', mode: 'keyword', k: 1, after_seq: lastSeq, timeout_ms: 60_000 }),
    });
    expect(q.status).toBe(200);
    expect(((await q.json()) as { results: Array<{ docId: string }> }).results[0]?.docId).toBe('doc-1-999');

    // One EMBEDDINGS event per CHUNKS event: every input embedded once in effect (message ids dedupe any redelivery).
    const chunks = (await nats.handle.jsm.streams.info(STREAMS.CHUNKS)).state.messages;
    const embeddings = (await nats.handle.jsm.streams.info(STREAMS.EMBEDDINGS)).state.messages;
    expect(chunks).toBe(2000);
    expect(embeddings).toBe(chunks);
    const verify = await runCli(['verify', '--json', '--nats-url', nats.server.url, '--data-dir', dirs[0] as string]);
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true });
  });

  it('runs the connectors of SPANDA_CONNECTORS_FILE: an RSS feed becomes documents; a bad file is refused naming the entry', async () => {
    const feed = await readFile(path.resolve('connectors/rss/fixtures/medium.xml'), 'utf8');
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/rss+xml' });
      res.end(feed);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/feed/@someone`;
      const dir = await tempDir('spanda-e2e-connectors-');
      dirs.push(dir);
      const file = path.join(dir, 'connectors.json');
      await writeFile(file, JSON.stringify([{ kind: 'rss', feeds: [url], every: '1h', source: 'medium', tenant: 'feeds' }]));
      const before = (await nats.handle.jsm.streams.info(STREAMS.DOCUMENTS)).state.messages;
      const port = await freePort();
      const connectors = spawn(process.execPath, [BIN, 'run', 'connectors', '--nats-url', nats.server.url, '--data-dir', dir, '--port', String(port)], {
        env: { ...process.env, SPANDA_CONNECTORS_FILE: file },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(connectors);
      const deadline = Date.now() + 30_000;
      let stored = before;
      while (stored === before && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        stored = (await nats.handle.jsm.streams.info(STREAMS.DOCUMENTS)).state.messages;
      }
      expect(stored).toBeGreaterThan(before);
      const last = await nats.handle.jsm.streams.getMessage(STREAMS.DOCUMENTS, { last_by_subj: 'docs.feeds.medium.>' });
      expect(last?.subject).toMatch(/^docs\.feeds\.medium\./);
      // The process has no API, and answers for its connectors on its port.
      const status = async () => ((await (await fetch(`http://127.0.0.1:${port}/v1/connectors`)).json()) as { connectors: Array<{ name: string; state: string; published: number }> }).connectors;
      await expect.poll(status, { timeout: 10_000 }).toEqual([expect.objectContaining({ name: 'rss', state: 'running', published: 2 })]);

      await writeFile(file, JSON.stringify([{ kind: 'rss', feeds: ['not a url'] }]));
      const bad = await runCli(['run', 'connectors', '--nats-url', nats.server.url, '--data-dir', dir, '--port', String(await freePort())], { SPANDA_CONNECTORS_FILE: file });
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/invalid connectors file .*entry 0 key feeds\.0/);
    } finally {
      server.close();
    }
  });
});
