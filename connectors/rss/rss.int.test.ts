// The RSS connector against a local feed server (node:http) and a real nats-server: dedupe, edits, bad feeds, deletes, backoff.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KV } from '@nats-io/kv';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { silentLogger } from '../../lib/log.ts';
import { HEADER, decodeEvent } from '../../streams/codec.ts';
import { STREAMS } from '../../streams/provision.ts';
import { startTestNats, type TestNats } from '../../test/helpers/nats.ts';
import { connectorState, openConnectorBucket } from '../connector.ts';
import type { FeedTarget } from './documents.ts';
import { pollFeed, type FeedResult } from './poll.ts';
import { rssConnector } from './rss.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

interface Route {
  body: string | Buffer;
  contentType?: string;
  status?: number;
  headers?: Record<string, string>;
  /** Answer If-None-Match with 304 (ETag = hash of the body). Off: the server ignores conditional GET. */
  conditional?: boolean;
  /** Send the headers (with the full Content-Length) and half the body, then drop the connection. */
  cut?: boolean;
  /** Never answer (a server that hangs). */
  hang?: boolean;
}

const routes = new Map<string, Route>();
const hits = new Map<string, { total: number; notModified: number }>();
let server: Server;
let base: string;
let nats: TestNats;
let kv: KV;

function serve(path: string, route: Route): string {
  routes.set(path, route);
  return `${base}${path}`;
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    const route = routes.get(path);
    const count = hits.get(path) ?? { total: 0, notModified: 0 };
    count.total += 1;
    hits.set(path, count);
    if (!route) {
      res.writeHead(404, 'Not Found').end('no such feed');
      return;
    }
    if (route.hang) return;
    const etag = `"${createHash('sha256').update(route.body).digest('hex').slice(0, 16)}"`;
    if (route.conditional && req.headers['if-none-match'] === etag) {
      count.notModified += 1;
      res.writeHead(304).end();
      return;
    }
    res.writeHead(route.status ?? 200, {
      'content-type': route.contentType ?? 'application/rss+xml; charset=utf-8',
      ...(route.conditional ? { etag } : {}),
      ...route.headers,
      ...(route.cut ? { 'content-length': String(Buffer.byteLength(route.body)) } : {}),
    });
    if (route.cut) {
      const half = Buffer.from(route.body).subarray(0, Math.floor(Buffer.byteLength(route.body) / 2));
      res.write(half, () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.end(route.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  nats = await startTestNats();
  kv = await openConnectorBucket(nats.handle);
});
afterAll(async () => {
  await nats?.stop();
  await new Promise((resolve) => server?.close(resolve));
});
beforeEach(() => {
  routes.clear();
  hits.clear();
});

const state = () => connectorState(kv, 'rss');
const poll = (target: FeedTarget, deleteMissing = false) => pollFeed(target, { nats: nats.handle, state: state(), logger: silentLogger, deleteMissing });

async function lastSeq(): Promise<number> {
  return (await nats.handle.jsm.streams.info(STREAMS.DOCUMENTS)).state.last_seq;
}

/** Every DOCUMENTS event after `after`, decoded by the codec (zod registry) and checked against the published JSON Schema file. */
async function eventsAfter(after: number) {
  const out = [];
  const last = await lastSeq();
  for (let seq = after + 1; seq <= last; seq++) {
    const msg = await nats.handle.jsm.streams.getMessage(STREAMS.DOCUMENTS, { seq });
    if (!msg) continue;
    const type = msg.header.get(HEADER.type);
    const version = msg.header.get(HEADER.schemaVersion) || '1';
    const published = JSON.parse(fixtureSchema(`${type}.v${version}.json`)) as Parameters<typeof z.fromJSONSchema>[0];
    const check = z.fromJSONSchema(published).safeParse(msg.json());
    expect(check.success, `${type} at ${seq} against streams/schemas/${type}.v${version}.json: ${check.error?.message}`).toBe(true);
    out.push(decodeEvent({ subject: msg.subject, data: msg.data, headers: msg.header }, { stream: STREAMS.DOCUMENTS, seq }));
  }
  return out;
}

function fixtureSchema(file: string): string {
  return readFileSync(new URL(`../../streams/schemas/${file}`, import.meta.url), 'utf8');
}

describe('RSS connector', () => {
  it('ingests Medium and Substack feeds; a second poll publishes nothing, with or without conditional GET', async () => {
    const medium: FeedTarget = { url: serve('/feed/@ada', { body: fixture('medium.xml'), conditional: true }), tenant: 'acme', source: 'medium' };
    const substack: FeedTarget = { url: serve('/substack/feed', { body: fixture('substack.xml') }), tenant: 'acme', source: 'substack' };
    const before = await lastSeq();

    expect(await poll(medium)).toMatchObject({ ok: true, status: 'updated', items: 2, published: 2, unchanged: 0 });
    expect(await poll(substack)).toMatchObject({ ok: true, status: 'updated', items: 3, published: 3 });
    const events = await eventsAfter(before);
    expect(events).toHaveLength(5);
    expect(events.every((e) => e.type === 'document.upserted' && e.metadata.source === '/connectors/rss')).toBe(true);
    const first = events.find((e) => e.type === 'document.upserted' && e.data.id === 'https://medium.com/p/4f1e2d3c5b6a');
    expect(first?.data).toMatchObject({
      tenant: 'acme',
      source: 'medium',
      title: 'Event sourcing for search: the log is the index',
      contentType: 'text/html',
      metadata: { author: 'Ada Lovelace', tags: ['event-sourcing', 'search', 'nats'], published: '2026-11-23T08:00:00.000Z' },
    });

    const afterFirst = await lastSeq();
    expect(await poll(medium)).toMatchObject({ ok: true, status: 'not-modified', published: 0 });
    expect(hits.get('/feed/@ada')?.notModified).toBe(1);
    // This server ignores If-None-Match: the whole feed comes back and the item hashes keep it from publishing.
    expect(await poll(substack)).toMatchObject({ ok: true, status: 'unchanged', items: 3, published: 0, unchanged: 3 });
    expect(await lastSeq()).toBe(afterFirst);
  });

  it('publishes exactly one new version of an edited item, and nothing for markup-only churn', async () => {
    const body = fixture('substack.xml');
    const feed: FeedTarget = { url: serve('/edits/feed', { body }), tenant: 'edits', source: 'substack' };
    await poll(feed);
    const before = await lastSeq();

    routes.set('/edits/feed', { body: body.replace('<p>An event a processor', '<p class="lead">An event a processor') });
    expect(await poll(feed)).toMatchObject({ published: 0, unchanged: 3 });
    expect(await lastSeq()).toBe(before);

    routes.set('/edits/feed', { body: body.replace('Nothing is dropped silently', 'Nothing is ever dropped silently') });
    expect(await poll(feed)).toMatchObject({ ok: true, status: 'updated', published: 1, unchanged: 2 });
    const events = await eventsAfter(before);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'document.upserted', data: { id: 'https://streamingnotes.substack.com/p/dead-letters-are-data' } });
    expect(events[0]?.type === 'document.upserted' && events[0].data.text).toContain('Nothing is ever dropped silently');

    expect(await poll(feed)).toMatchObject({ published: 0 });
    expect(await lastSeq()).toBe(before + 1);
  });

  it('reports a malformed feed, an HTML page and a 404 by URL while the other feeds are ingested', async () => {
    const good = serve('/blog/atom.xml', { body: fixture('atom.xml'), contentType: 'application/atom+xml' });
    const broken = serve('/broken/feed', { body: fixture('malformed.xml') });
    const page = serve('/moved', { body: fixture('not-a-feed.html'), contentType: 'text/html' });
    const missing = `${base}/gone/feed`;
    const medium = serve('/other/@ada', { body: fixture('medium.xml') });
    const results: FeedResult[] = [];
    const before = await lastSeq();
    const running = await rssConnector({ feeds: [broken, good, page, missing, medium], tenant: 'mixed', source: 'blogs', onResult: (r) => results.push(r) }).start({
      nats: nats.handle,
      kv,
      logger: silentLogger,
    });
    const outcome = await running.done;
    expect(outcome).toEqual({ ok: false, error: '3 of 5 feeds failed or were ingested only in part; the other feeds were ingested' });
    // With no feed ingested, the outcome does not speak of others.
    const alone = await rssConnector({ feeds: [missing], tenant: 'mixed', source: 'blogs' }).start({ nats: nats.handle, kv, logger: silentLogger });
    expect(await alone.done).toEqual({ ok: false, error: '1 of 1 feeds failed or were ingested only in part' });
    const byUrl = new Map(results.map((r) => [r.url, r]));
    expect(byUrl.get(broken)).toMatchObject({ ok: false, status: 'failed', error: expect.stringMatching(new RegExp(`^feed ${broken}: malformed XML at line \\d+`)) });
    expect(byUrl.get(page)?.error).toBe(`feed ${page}: not an RSS or Atom feed: the server sent an HTML page (is this the site's address rather than its feed's?)`);
    expect(byUrl.get(missing)).toMatchObject({ status: 'failed', httpStatus: 404, error: `feed ${missing}: HTTP 404 Not Found` });
    expect(byUrl.get(good)).toMatchObject({ ok: true, published: 2 });
    expect(byUrl.get(medium)).toMatchObject({ ok: true, published: 2 });
    expect(running.status()).toMatchObject({ name: 'rss', state: 'stopped', published: 4 });
    const events = await eventsAfter(before);
    expect(events.map((e) => (e.type === 'document.upserted' ? e.data.source : '')).sort()).toEqual(['blogs', 'blogs', 'blogs', 'blogs']);
  });

  it('keeps items that left the feed unless deleteMissing, then deletes each once', async () => {
    const body = fixture('medium.xml');
    const feed: FeedTarget = { url: serve('/deletes/feed', { body }), tenant: 'deletes', source: 'medium' };
    await poll(feed);
    const withoutSecond = body.replace(/<item>\s*<title><!\[CDATA\[Hybrid[\s\S]*?<\/item>/, '');
    expect(withoutSecond).not.toContain('9a8b7c6d5e4f');
    routes.set('/deletes/feed', { body: withoutSecond });
    const before = await lastSeq();
    expect(await poll(feed)).toMatchObject({ ok: true, items: 1, deleted: 0 });
    expect(await lastSeq()).toBe(before);

    expect(await poll(feed, true)).toMatchObject({ ok: true, items: 1, deleted: 1, published: 0 });
    const events = await eventsAfter(before);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'document.deleted', data: { tenant: 'deletes', source: 'medium', id: 'https://medium.com/p/9a8b7c6d5e4f' } });
    expect(await poll(feed, true)).toMatchObject({ deleted: 0 });
    expect(await lastSeq()).toBe(before + 1);
  });

  it('polls every interval, backing off a failing feed (honouring Retry-After) without slowing the others', async () => {
    const good = serve('/every/good', { body: fixture('medium.xml'), conditional: true });
    const busy = serve('/every/busy', { body: 'slow down', status: 503, headers: { 'retry-after': '30' }, contentType: 'text/plain' });
    const running = await rssConnector({ feeds: [good, busy], tenant: 'every', everyMs: 100 }).start({ nats: nats.handle, kv, logger: silentLogger });
    await new Promise((r) => setTimeout(r, 1200));
    // One feed of two answers: the connector runs (the failing feed is in its details).
    expect(running.status().state).toBe('running');
    await running.stop();
    expect(await running.done).toEqual({ ok: true });
    expect(hits.get('/every/good')?.total).toBeGreaterThanOrEqual(4);
    expect(hits.get('/every/good')?.notModified).toBeGreaterThanOrEqual(3);
    expect(hits.get('/every/busy')?.total).toBe(1);
    expect(running.status()).toMatchObject({ state: 'stopped', lastError: `feed ${busy}: HTTP 503 Service Unavailable` });
  });

  it('stops at once while a feed hangs, not after its fetch times out', async () => {
    const hanging = serve('/hang', { body: '', hang: true });
    const running = await rssConnector({ feeds: [hanging], tenant: 'hang', everyMs: 60_000 }).start({ nats: nats.handle, kv, logger: silentLogger });
    await expect.poll(() => hits.get('/hang')?.total ?? 0).toBe(1);
    const stopped = Date.now();
    await running.stop();
    await running.done;
    // The fetch's own timeout is 30 s; a connectors-file edit or a shutdown must not wait for it.
    expect(Date.now() - stopped).toBeLessThan(5_000);
  });

  it('says retrying while every feed fails, and running once one answers', async () => {
    const down = serve('/down/a', { body: 'gone', status: 500, contentType: 'text/plain' });
    const running = await rssConnector({ feeds: [down], tenant: 'down', everyMs: 1000, maxBackoffMs: 1000 }).start({ nats: nats.handle, kv, logger: silentLogger });
    try {
      await expect.poll(() => running.status().state, { timeout: 5000 }).toBe('retrying');
      expect(running.status().lastError).toBe(`feed ${down}: HTTP 500 Internal Server Error`);
      routes.set('/down/a', { body: fixture('atom.xml') });
      await expect.poll(() => running.status().state, { timeout: 10_000 }).toBe('running');
    } finally {
      await running.stop();
    }
  });

  it('keeps the last good version of an item still in the feed that fails validation, even with deleteMissing', async () => {
    const body = fixture('medium.xml');
    const feed: FeedTarget = { url: serve('/invalid/feed', { body }), tenant: 'invalid', source: 'medium' };
    await poll(feed);
    routes.set('/invalid/feed', { body: body.replace('https://medium.com/@ada/hybrid-retrieval-9a8b7c6d5e4f?source=rss-3f2a9c1b7d4e------2', 'javascript:void(0)') });
    const before = await lastSeq();
    const result = await poll(feed, true);
    expect(result).toMatchObject({ ok: false, status: 'unchanged', items: 2, unchanged: 1, published: 0, deleted: 0 });
    expect(result.errors).toEqual([{ id: 'https://medium.com/p/9a8b7c6d5e4f', index: 1, error: expect.stringMatching(/is not a valid document: url: must not be a javascript:/) }]);
    expect(await lastSeq()).toBe(before);
    // Once it is fixed, nothing is republished: the stored version is still the item's latest.
    routes.set('/invalid/feed', { body });
    expect(await poll(feed, true)).toMatchObject({ ok: true, unchanged: 2, published: 0, deleted: 0 });
    expect(await lastSeq()).toBe(before);
  });

  it('decodes windows-1252 and ISO-8859-1 feeds as windows-1252 (smart quotes, dashes, euro)', async () => {
    const title = 'Smart \u201cquotes\u201d \u2013 dash \u20ac \u2122';
    const cp1252 = Buffer.from([...'Smart ', 0x93, ...'quotes', 0x94, ...' ', 0x96, ...' dash ', 0x80, ...' ', 0x99].flatMap((c) => (typeof c === 'number' ? [c] : [...Buffer.from(c, 'latin1')])));
    const feedXml = (encoding: string) =>
      Buffer.concat([
        Buffer.from(`<?xml version="1.0" encoding="${encoding}"?><rss version="2.0"><channel><title>Enc</title><item><guid>urn:enc:${encoding}</guid><title>`),
        cp1252,
        Buffer.from('</title><description>x</description></item></channel></rss>'),
      ]);
    const byProlog: FeedTarget = { url: serve('/enc/prolog', { body: feedXml('windows-1252'), contentType: 'application/rss+xml' }), tenant: 'enc', source: 'rss' };
    const byHeader: FeedTarget = { url: serve('/enc/header', { body: feedXml('x-unknown'), contentType: 'application/rss+xml; charset=ISO-8859-1' }), tenant: 'enc', source: 'rss' };
    const before = await lastSeq();
    expect(await poll(byProlog)).toMatchObject({ ok: true, published: 1 });
    expect(await poll(byHeader)).toMatchObject({ ok: true, published: 1 });
    const titles = (await eventsAfter(before)).map((e) => (e.type === 'document.upserted' ? e.data.title : undefined));
    expect(titles).toEqual([title, title]);
  });

  it('says running while its only feed is read, reporting the items it refused', async () => {
    const item = (guid: string, title: string) => `<item>${guid}<title>${title}</title><description>text of ${title}</description></item>`;
    const body = `<rss version="2.0"><channel><title>Partly bad</title>${item('<guid>urn:p:1</guid>', 'one')}${item('<guid>urn:p:1</guid>', 'again')}${item('', 'no id')}</channel></rss>`;
    const url = serve('/partly/bad', { body });
    const running = await rssConnector({ feeds: [url], tenant: 'partly', everyMs: 60_000 }).start({ nats: nats.handle, kv, logger: silentLogger });
    try {
      await expect.poll(() => hits.get('/partly/bad')?.total ?? 0, { timeout: 5000 }).toBe(1);
      await expect.poll(() => (running.status().details?.feeds as FeedResult[] | undefined)?.[0]?.status, { timeout: 5000 }).toBe('updated');
      const status = running.status();
      expect(status.state).toBe('running');
      const [result] = status.details?.feeds as FeedResult[];
      expect(result).toMatchObject({ ok: false, status: 'updated', failures: 0, published: 1 });
      expect(result?.errors.map((e) => e.error)).toEqual([
        'item urn:p:1 appears more than once in the feed; only its first occurrence was used',
        'an item ("no id") has neither a guid/id nor a link, so it has no stable id',
      ]);
    } finally {
      await running.stop();
    }
  });

  it('says the connection closed before the whole feed was read when the server drops it mid-body', async () => {
    const url = serve('/cut', { body: fixture('medium.xml'), cut: true });
    const result = await poll({ url, tenant: 'cut', source: 'rss' });
    expect(result).toMatchObject({ ok: false, status: 'failed' });
    expect(result.error).toMatch(new RegExp(`^feed ${url}: the connection closed before the whole feed was read \\(got \\d+ of \\d+ bytes`));
  });
});
