// Routes over HTTP against a real node: ids a URL path can address, empty filter lists, and what /readyz tells anyone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/log.ts';
import { startTestSystem, type TestSystem } from '../../test/helpers/system.ts';
import { staticServing } from '../../projections/serving.ts';
import { createApp } from '../app.ts';
import type { ApiDeps } from '../deps.ts';

let node: TestSystem;
let deps: ApiDeps;

beforeAll(async () => {
  node = await startTestSystem();
  deps = {
    nats: node.system.nats,
    serving: node.system.serving,
    maxBodyBytes: 64 * 1024,
    logger: silentLogger,
    recordQueries: false,
  };
});
afterAll(async () => {
  await node?.destroy();
});

type App = ReturnType<typeof createApp>;

const post = (app: App, route: string, body: unknown) =>
  app.request(route, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

const documentPath = (source: string, id: string) => `/v1/documents/${source}/${encodeURIComponent(id)}`;

async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last: ${JSON.stringify(value).slice(0, 400)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface DocumentStateBody {
  id: string;
  seq: number;
  deleted: boolean;
  chunks: number;
}

async function documentState(app: App, source: string, id: string): Promise<{ status: number; body: DocumentStateBody }> {
  const response = await app.request(documentPath(source, id));
  return { status: response.status, body: (await response.json()) as DocumentStateBody };
}

const documentsInLog = async () => (await node.system.nats.jsm.streams.info('DOCUMENTS')).state.messages;

describe('document ids in the URL path', () => {
  it('refuses "." and ".." on publish with 400 saying why and what to do, and stores nothing', async () => {
    const app = createApp(deps);
    const before = await documentsInLog();
    for (const id of ['.', '..']) {
      const response = await post(app, '/v1/documents', { id, text: 'unreachable once stored' });
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const problem = (await response.json()) as { detail: string };
      expect(problem.detail).toMatch(/id: must not be "\." or "\.\."/);
      expect(problem.detail).toMatch(/dot-segments/);
      expect(problem.detail).toMatch(/choose another id/);
    }
    const batch = await post(app, '/v1/documents', { documents: [{ id: 'fine', text: 'ok' }, { id: '..', text: 'bad' }] });
    expect(batch.status).toBe(400);
    expect(((await batch.json()) as { detail: string }).detail).toMatch(/index 1.*dot-segments/);
    expect(await documentsInLog()).toBe(before);
  });

  it('refuses a url that would run script where a UI shows it as a link, and takes other schemes and relative paths', async () => {
    const app = createApp(deps);
    const before = await documentsInLog();
    for (const url of ['javascript:alert(1)', 'JavaScript:alert(1)', ' java\tscript:alert(1)', 'vbscript:msgbox(1)', 'data:text/html,<script>alert(1)</script>']) {
      const response = await post(app, '/v1/documents', { id: 'linked', text: 'a page', url });
      expect(response.status, url).toBe(400);
      expect(((await response.json()) as { detail: string }).detail).toMatch(/url: must not be a javascript:, vbscript: or data: URL/);
    }
    expect(await documentsInLog()).toBe(before);
    for (const url of ['https://example.com/a?b=javascript:1', 's3://bucket/key.pdf', '/docs/intro.md', 'file:///srv/a.txt']) {
      expect((await post(app, '/v1/documents', { id: `linked-${url.length}`, text: 'a page', url })).status, url).toBe(202);
    }
  });

  // "/" must arrive percent-encoded (a literal one would split the path); the id is decoded exactly once.
  it.each([['notes/2024/a b.md'], ['...'], ['.hidden'], ['100%25 literal %'], [' ']])('reads and deletes the id %j sent percent-encoded', async (id) => {
    const app = createApp(deps);
    const published = await post(app, '/v1/documents', { id, source: 'ids', text: `a document whose id is ${JSON.stringify(id)}` });
    expect(published.status).toBe(202);
    const indexed = await eventually(() => documentState(app, 'ids', id), (s) => s.status === 200 && s.body.chunks > 0);
    expect(indexed.body).toMatchObject({ id, deleted: false });

    const deleted = await app.request(documentPath('ids', id), { method: 'DELETE' });
    expect(deleted.status).toBe(202);
    const { seq } = (await deleted.json()) as { seq: number };
    expect(seq).toBeGreaterThan(indexed.body.seq);
    const gone = await eventually(() => documentState(app, 'ids', id), (s) => s.status === 200 && s.body.deleted);
    expect(gone.body).toMatchObject({ id, seq, deleted: true, chunks: 0 });
  });
});

describe('query filters with empty lists', () => {
  it('answers 200 with zero results for an empty source, docId or metadata value list (as the README says)', async () => {
    const app = createApp(deps);
    expect((await post(app, '/v1/documents', { id: 'kiwi', source: 'fruit', text: 'Kiwifruit ripen faster next to apples.', metadata: { colour: 'green' } })).status).toBe(202);
    const ask = async (filter?: unknown) => {
      const response = await post(app, '/v1/query', { query: 'kiwifruit ripen apples', mode: 'keyword', ...(filter !== undefined ? { filter } : {}) });
      return { status: response.status, body: (await response.json()) as { results: Array<{ docId: string }>; detail?: string } };
    };
    // The same query without the empty list finds the document, so zero results below are the filter's doing.
    await eventually(() => ask({ docId: 'kiwi' }), (a) => a.status === 200 && a.body.results.length > 0);
    for (const filter of [{ docId: [] }, { source: [] }, { metadata: { colour: [] } }, { source: 'fruit', docId: [] }]) {
      const answer = await ask(filter);
      expect({ filter, status: answer.status, detail: answer.body.detail, results: answer.body.results }).toEqual({ filter, status: 200, detail: undefined, results: [] });
    }
  });
});

describe('/readyz', () => {
  it('tells anyone whether each check passed, but not how much data the store holds', async () => {
    const response = await createApp(deps).request('/readyz');
    expect(response.status).toBe(200);
    const text = await response.text();
    const body = JSON.parse(text) as { status: string; checks: Record<string, unknown> };
    expect(body.status).toBe('ready');
    expect(body.checks).toEqual({ nats: { ok: true }, store: { ok: true }, projection: { ok: true, detail: expect.any(String) } });
    expect(text).not.toMatch(/\d+ (documents|chunks|vectors)/);
  });

  it('shows the store counts when the deployment enables readyzDetail', async () => {
    const body = (await (await createApp({ ...deps, readyzDetail: true }).request('/readyz')).json()) as { checks: { store: { ok: boolean; detail?: string } } };
    expect(body.checks.store.ok).toBe(true);
    expect(body.checks.store.detail).toMatch(/^\d+ documents, \d+ chunks, \d+ vectors$/);
  });

  it('says while the store still loads its keyword index (ready: it answers meanwhile), with counts only where counts are shown', async () => {
    const g = node.system.serving.current();
    // The store's own stats while loading (sqlite-store.ts; keyword-index.test.ts checks the store reports it).
    const loading = { ...g.store, stats: async () => ({ ...(await g.store.stats()), keywordIndexLoading: { chunks: 3 } }) };
    const app = (detail: boolean) => createApp({ ...deps, readyzDetail: detail, serving: staticServing({ ...g, store: loading }) });
    for (const detail of [false, true]) {
      const response = await app(detail).request('/readyz');
      expect(response.status).toBe(200);
      const body = (await response.json()) as { status: string; checks: { store: { ok: boolean; detail?: string } } };
      expect(body.status).toBe('ready');
      expect(body.checks.store.ok).toBe(true);
      expect(body.checks.store.detail).toContain('the first keyword query finishes it');
      if (detail) expect(body.checks.store.detail).toMatch(/^\d+ documents, \d+ chunks, \d+ vectors; keyword index loading \(3 of \d+ chunks\)/);
      else expect(body.checks.store.detail).not.toMatch(/\d+ (documents|chunks|vectors)|\d+ of \d+/);
    }
  });
});
