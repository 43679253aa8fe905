// Per-key document quotas on a real node: a batch over the quota gets 429 (or 400 when it never fits) and publishes nothing; NDJSON waits for it, and stops if the key is revoked meanwhile.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from '../test/helpers/system.ts';
import { writeKeysFile } from '../test/helpers/keys-file.ts';
import { Kvm } from '@nats-io/kv';
import { DiscardPolicy } from '@nats-io/jetstream';
import { STREAMS } from '../streams/provision.ts';
import { sha256 } from './auth.ts';

const LIMITED = 'limited-0123456789abcdef0123456789';
const OTHER = 'other-0123456789abcdef0123456789ab';
const LIMIT = { perSecond: 20, burst: 3 };
/** Refills one document in 100 s: within a test, only a refund gives tokens back. */
const SLOWLY = 'slowly-0123456789abcdef0123456789a';
const BUCKET = 'quota-test-keys';

let node: TestSystem;
let api: string;

beforeAll(async () => {
  const file = await writeKeysFile(
    [
      { key: LIMITED, tenant: 'importer', scopes: ['publish', 'query'], documentLimit: LIMIT },
      { key: OTHER, tenant: 'other', scopes: ['publish', 'query'] },
      { key: SLOWLY, tenant: 'slowly', scopes: ['publish', 'query'], documentLimit: { perSecond: 0.01, burst: 3 } },
    ],
    'spanda-quota-',
  );
  node = await startTestSystem({ SPANDA_API_KEYS_FILE: file, SPANDA_API_KEYS_BUCKET: BUCKET });
  api = node.system.apiUrl;
});
afterAll(async () => {
  await node?.destroy();
});

const docs = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}`, source: 'import', text: `document ${prefix} ${i}` }));

async function post(key: string, body: unknown, contentType = 'application/json'): Promise<{ status: number; headers: Headers; body: { detail?: string; accepted?: unknown[] } }> {
  const response = await fetch(`${api}/v1/documents`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': contentType }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: response.status, headers: response.headers, body: (await response.json()) as { detail?: string; accepted?: unknown[] } };
}

async function exists(key: string, id: string): Promise<boolean> {
  const response = await fetch(`${api}/v1/documents/import/${id}`, { headers: { authorization: `Bearer ${key}` } });
  await response.body?.cancel();
  return response.status === 200;
}

describe('document quota of an API key', () => {
  it('refuses a batch larger than the quota allows at once, and a batch over what is left, publishing none of it', async () => {
    const tooLarge = await post(LIMITED, { documents: docs('large', 4) });
    expect(tooLarge.status).toBe(400);
    expect(tooLarge.body.detail).toMatch(/a batch of 4 documents is more than this API key may publish at once \(3, at 20 documents per second\); send at most 3 per request/);

    expect((await post(LIMITED, { documents: docs('first', 3) })).status).toBe(202);
    const over = await post(LIMITED, { documents: docs('over', 2) });
    expect(over.status).toBe(429);
    expect(over.headers.get('retry-after')).toBe('1');
    expect(over.body.detail).toMatch(/may publish 20 documents per second .* stream them as NDJSON/);
    // Another tenant's key is not slowed down by this one's quota.
    expect((await post(OTHER, { documents: docs('other', 3) })).status).toBe(202);
    expect((await post(OTHER, docs('other-one', 1)[0])).status).toBe(202);

    expect(await exists(LIMITED, 'first-0')).toBe(true);
    expect(await exists(LIMITED, 'large-0')).toBe(false);
    expect(await exists(LIMITED, 'over-0')).toBe(false);
  });

  it('lets an NDJSON upload wait for the quota instead of failing: every line is published, at the key rate', async () => {
    const lines = docs('stream', 9).map((d) => JSON.stringify(d)).join('\n');
    const started = performance.now();
    const response = await fetch(`${api}/v1/documents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${LIMITED}`, 'content-type': 'application/x-ndjson' },
      body: `${lines}\n{"id": "bad"\n`,
    });
    const results = (await response.text()).trim().split('\n').map((l) => JSON.parse(l) as { line: number; seq?: number; error?: unknown });
    const elapsedMs = performance.now() - started;
    expect(response.status).toBe(200);
    expect(results.slice(0, 9).every((r) => typeof r.seq === 'number')).toBe(true);
    expect(results[9]).toMatchObject({ line: 10, error: { status: 400 } });
    // At most 3 tokens were there at the start: the other 6 take at least 6 / 20 s to come.
    expect(elapsedMs).toBeGreaterThanOrEqual(280);
  });
});

describe('a paced NDJSON upload whose key is revoked while it waits for the quota', () => {
  it('publishes nothing after the wait and says the key was revoked', async () => {
    const SLOW = 'slow-importer-0123456789abcdef0123';
    const kv = await new Kvm(node.system.nats.js).open(BUCKET);
    // One document every 2 s: the second line waits for its token.
    await kv.put(sha256(SLOW).toString('hex'), JSON.stringify({ tenant: 'slow', scopes: ['publish', 'query'], documentLimit: { perSecond: 0.5, burst: 1 } }));
    for (let i = 0; (await fetch(`${api}/v1/documents/import/none`, { headers: { authorization: `Bearer ${SLOW}` } })).status === 401; i++) {
      if (i > 100) throw new Error('the node did not learn the key from its bucket');
      await new Promise((r) => setTimeout(r, 50));
    }
    const upload = fetch(`${api}/v1/documents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SLOW}`, 'content-type': 'application/x-ndjson' },
      body: docs('revoked', 3).map((d) => JSON.stringify(d)).join('\n'),
    });
    await new Promise((r) => setTimeout(r, 500));
    await kv.delete(sha256(SLOW).toString('hex'));
    const results = (await (await upload).text()).trim().split('\n').map((l) => JSON.parse(l) as { line: number; seq?: number; error?: { status: number } });
    expect(results[0]).toMatchObject({ line: 1, seq: expect.any(Number) });
    expect(results[1]).toMatchObject({ line: 2, error: { status: 401 } });
    expect(results).toHaveLength(2);
  });
});

describe('documents JetStream refused to store', () => {
  it('are given back to the quota, so the re-send is not throttled as well', async () => {
    const jsm = node.system.nats.jsm;
    const before = await jsm.streams.info(STREAMS.DOCUMENTS);
    // DOCUMENTS full (discard new): every publish is refused with a storage-limit error.
    await jsm.streams.update(STREAMS.DOCUMENTS, { max_msgs: before.state.messages, discard: DiscardPolicy.New });
    try {
      const refused = await post(SLOWLY, { documents: docs('full', 3) });
      expect(refused.status).toBe(507);
      const line = await post(SLOWLY, `${JSON.stringify(docs('full-line', 1)[0])}\n`, 'application/x-ndjson');
      expect(line.status).toBe(200);
      expect(line.body).toMatchObject({ line: 1, error: { status: 507 } });
      const deletion = await fetch(`${api}/v1/documents/import/full-0`, { method: 'DELETE', headers: { authorization: `Bearer ${SLOWLY}` } });
      expect(deletion.status).toBe(507);
    } finally {
      await jsm.streams.update(STREAMS.DOCUMENTS, { max_msgs: before.config.max_msgs, discard: before.config.discard });
    }
    // All three documents are still there to publish (the quota refills one in 100 s, so none came back by time).
    expect((await post(SLOWLY, { documents: docs('full', 3) })).status).toBe(202);
    await expect.poll(() => exists(SLOWLY, 'full-2'), { timeout: 10_000 }).toBe(true);
    expect((await post(SLOWLY, docs('one-more', 1)[0])).status).toBe(429);
  });
});
