// The Qdrant store against the shared conformance suite (a fake Qdrant always, a real one when QDRANT_URL is set), plus aliases and drop.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/errors.ts';
import { freePort } from '../../../streams/server.ts';
import { startFakeQdrant, type FakeQdrant } from '../../../test/fakes/qdrant.ts';
import { search } from '../../search.ts';
import type { InferenceStore, StoreOp } from '../../store.ts';
import { CONFORMANCE_MODEL, describeInferenceStoreConformance } from '../conformance.ts';
import type { StoreConfig } from '../registry.ts';
import { createQdrantClient } from './client.ts';
import { aliasTarget, qdrantStoreFactory } from './factory.ts';
import { aliasName, collectionName } from './names.ts';

const REAL_URL = process.env.QDRANT_URL;
const REAL_KEY = process.env.QDRANT_API_KEY;

/** Opens a fresh generation per call under a role unique to this run, so runs against a shared server never collide. */
function conformanceOpener(config: () => StoreConfig) {
  const role = `conformance_${randomUUID().slice(0, 8)}`;
  let n = 0;
  return async () => {
    const target = { role, generation: `g${++n}`, config: config() };
    const opened: InferenceStore[] = [];
    const openOne = async () => {
      const store = await qdrantStoreFactory.open({ ...target, model: CONFORMANCE_MODEL });
      opened.push(store);
      return store;
    };
    return {
      store: await openOne(),
      reopen: openOne,
      cleanup: async () => {
        for (const store of opened) await store.close();
        await qdrantStoreFactory.drop(target);
      },
    };
  };
}

let fake: FakeQdrant;
beforeAll(async () => {
  fake = await startFakeQdrant();
});
afterAll(async () => {
  await fake?.close();
});
const fakeConfig = (): StoreConfig => ({ dataDir: '.', qdrant: { url: fake.url } });

describeInferenceStoreConformance('qdrant (fake server)', conformanceOpener(fakeConfig), { atomicBatches: false });

if (!REAL_URL) console.info('qdrant: QDRANT_URL is not set, so the conformance suite runs against the fake Qdrant only (set QDRANT_URL=http://127.0.0.1:6333 to run it against a real server too)');
describe.skipIf(!REAL_URL)('against a real Qdrant (QDRANT_URL)', () => {
  const realConfig = (): StoreConfig => ({ dataDir: '.', qdrant: { url: REAL_URL as string, ...(REAL_KEY ? { apiKey: REAL_KEY } : {}) } });
  describeInferenceStoreConformance('qdrant (real server)', conformanceOpener(realConfig), { atomicBatches: false });
});

const doc = (docId: string, text: string): StoreOp[] => [
  {
    kind: 'chunks',
    tenant: 'acme',
    source: 'notes',
    docId,
    docSeq: 1,
    metadata: {},
    part: { index: 0, count: 1 },
    totalChunks: 1,
    chunks: [{ chunkId: '1:0', ordinal: 0, text, start: 0, end: text.length, tokens: 2 }],
  },
];

describe('qdrant generations: alias and drop (fake server)', () => {
  const role = 'inference';
  const target = (generation: string) => ({ role, generation, config: fakeConfig() });

  it('points the role alias at the activated generation with one atomic update_aliases call', async () => {
    const first = await qdrantStoreFactory.open({ ...target('gen-a'), model: CONFORMANCE_MODEL });
    const second = await qdrantStoreFactory.open({ ...target('gen-b'), model: CONFORMANCE_MODEL });
    await first.apply({ ops: doc('old', 'served from generation a'), checkpoints: {} });
    await second.apply({ ops: doc('new', 'served from generation b'), checkpoints: {} });

    await qdrantStoreFactory.activate?.(target('gen-a'));
    const client = createQdrantClient({ url: fake.url });
    expect(await aliasTarget(client, role)).toBe(collectionName(role, 'gen-a'));

    const before = fake.requests.length;
    await qdrantStoreFactory.activate?.(target('gen-b'));
    expect(await aliasTarget(client, role)).toBe(collectionName(role, 'gen-b'));
    const switches = fake.requests.slice(before).filter((r) => r.path === '/collections/aliases');
    expect(switches).toEqual([
      {
        method: 'POST',
        path: '/collections/aliases',
        body: {
          actions: [
            { delete_alias: { alias_name: aliasName(role) } },
            { create_alias: { collection_name: collectionName(role, 'gen-b'), alias_name: aliasName(role) } },
          ],
        },
      },
    ]);
    // Activating the active generation again changes nothing.
    await qdrantStoreFactory.activate?.(target('gen-b'));
    expect(fake.requests.slice(before).filter((r) => r.path === '/collections/aliases')).toHaveLength(1);

    // Readers of the alias see the second generation's documents.
    const hits = await client.scroll(aliasName(role), { filter: { must: [{ key: 'kind', match: { value: 'chunk' } }] }, with_payload: ['docId'] });
    expect(hits.points.map((p) => p.payload?.docId)).toEqual(['new']);

    await expect(qdrantStoreFactory.activate?.(target('missing'))).rejects.toThrow(/no collection/);
    await first.close();
    await second.close();
  });

  it('drops a retired generation, refuses the served one, and tolerates one already gone', async () => {
    const store = await qdrantStoreFactory.open({ ...target('gen-c'), model: CONFORMANCE_MODEL });
    await store.apply({ ops: doc('c', 'about to be dropped'), checkpoints: { CHUNKS: 3 } });
    expect(await search(store, { tenant: 'acme', mode: 'keyword', text: 'dropped', k: 5, vectorWeight: 0 })).toHaveLength(1);
    await store.close();

    await qdrantStoreFactory.activate?.(target('gen-c'));
    await expect(qdrantStoreFactory.drop(target('gen-c'))).rejects.toBeInstanceOf(ConfigError);
    await qdrantStoreFactory.activate?.(target('gen-b'));

    await qdrantStoreFactory.drop(target('gen-c'));
    expect(fake.engine.collections.has(collectionName(role, 'gen-c'))).toBe(false);
    await qdrantStoreFactory.drop(target('gen-c'));
    // Opening it again starts an empty generation.
    const again = await qdrantStoreFactory.open({ ...target('gen-c'), model: CONFORMANCE_MODEL });
    expect(await again.checkpoints()).toEqual({});
    expect(await again.stats()).toEqual({ documents: 0, tombstones: 0, chunks: 0, vectors: 0, tenants: 0 });
    await again.close();
  });

  it('refuses to open a generation whose collection holds vectors of other dimensions', async () => {
    const store = await qdrantStoreFactory.open({ ...target('gen-d'), model: CONFORMANCE_MODEL });
    await store.close();
    await expect(qdrantStoreFactory.open({ ...target('gen-d'), model: { id: 'other', dims: 4 } })).rejects.toBeInstanceOf(ConfigError);
  });

  it('needs a Qdrant URL in the store config, an http(s) one, and names the setting when nothing answers there', async () => {
    const open = (config: StoreConfig) => qdrantStoreFactory.open({ role, generation: 'x', config, model: CONFORMANCE_MODEL });
    await expect(open({ dataDir: '.' })).rejects.toThrow(/needs a Qdrant URL: set QDRANT_URL/);
    await expect(open({ dataDir: '.' })).rejects.toBeInstanceOf(ConfigError);
    await expect(open({ dataDir: '.', qdrant: { url: 'localhost:6333' } })).rejects.toThrow(/"localhost:6333" is not an http\(s\) URL: set QDRANT_URL/);
    const closed = await freePort();
    await expect(open({ dataDir: '.', qdrant: { url: `http://127.0.0.1:${closed}` } })).rejects.toThrow(
      new RegExp(`Qdrant is unreachable \\(.*\\): fetch failed: connect ECONNREFUSED 127\\.0\\.0\\.1:${closed}; check that it runs and that QDRANT_URL names it`),
    );
  });
});
