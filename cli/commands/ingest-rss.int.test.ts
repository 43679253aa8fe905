// `spanda ingest rss` as a user runs it (the real bin, a local feed server, a private nats-server): per-feed results and exit codes.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNats, type TestNats } from '../../test/helpers/nats.ts';
import { parseDuration } from './ingest-rss.ts';
import { runCli } from '../../test/helpers/cli.ts';

const fixture = (name: string) => readFileSync(path.resolve('connectors/rss/fixtures', name), 'utf8');


let nats: TestNats;
let server: Server;
let base: string;

beforeAll(async () => {
  const feeds: Record<string, string> = { '/medium': fixture('medium.xml'), '/substack': fixture('substack.xml'), '/broken': fixture('malformed.xml') };
  server = createServer((req, res) => {
    const body = feeds[req.url ?? ''];
    if (body === undefined) res.writeHead(404, 'Not Found').end();
    else res.writeHead(200, { 'content-type': 'application/rss+xml' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  nats = await startTestNats();
});
afterAll(async () => {
  await nats?.stop();
  await new Promise((resolve) => server?.close(resolve));
});

describe('spanda ingest rss', () => {
  it('polls each feed once, prints per-feed results, and exits 1 naming the bad feed while the others are ingested', async () => {
    const first = await runCli(['ingest', 'rss', `${base}/medium`, `${base}/broken`, `${base}/substack`, '--tenant', 'cli', '--nats-url', nats.server.url, '--json']);
    expect(first.code).toBe(1);
    const report = JSON.parse(first.stdout) as { ok: boolean; feeds: Array<{ url: string; ok: boolean; published: number; error?: string }> };
    expect(report.ok).toBe(false);
    const byUrl = new Map(report.feeds.map((f) => [f.url, f]));
    expect(byUrl.get(`${base}/medium`)).toMatchObject({ ok: true, published: 2 });
    expect(byUrl.get(`${base}/substack`)).toMatchObject({ ok: true, published: 3 });
    expect(byUrl.get(`${base}/broken`)?.error).toMatch(new RegExp(`^feed ${base}/broken: malformed XML at line \\d+`));

    const second = await runCli(['ingest', 'rss', `${base}/medium`, `${base}/substack`, '--tenant', 'cli', '--nats-url', nats.server.url]);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`ok      ${base}/medium  2 items: 0 published, 2 unchanged`);
    expect(second.stdout).toContain(`ok      ${base}/substack  3 items: 0 published, 3 unchanged`);
  });

  it('refuses bad usage with exit 2', async () => {
    expect((await runCli(['ingest', 'rss', '--nats-url', nats.server.url])).stderr).toMatch(/give at least one feed URL/);
    const wrongFlag = await runCli(['ingest', 'rss', `${base}/medium`, '--once', '--nats-url', nats.server.url]);
    expect(wrongFlag).toMatchObject({ code: 2, stderr: expect.stringMatching(/does not take --once/) });
    expect((await runCli(['ingest', 'rss', 'medium.com/feed', '--nats-url', nats.server.url])).code).toBe(2);
    expect((await runCli(['ingest', 'rss', `${base}/medium`, '--every', '5', '--nats-url', nats.server.url])).stderr).toMatch(/--every takes a duration/);
    expect((await runCli(['ingest', 'nothing'])).stderr).toMatch(/unknown connector "nothing"/);
  });

  it('parses --every durations', () => {
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('30s')).toBe(30_000);
  });
});
