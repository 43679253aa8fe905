// The Weaviate store against the fake Weaviate (always) and a real server (WEAVIATE_URL): conformance, aliases, drop.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeWeaviate, type FakeWeaviate } from '../../../test/fakes/weaviate/server.ts';
import { CONFORMANCE_MODEL, describeInferenceStoreConformance, type OpenedStore } from '../conformance.ts';
import type { StoreBatch, StoreOp } from '../../store.ts';
import type { StoreConfig } from '../registry.ts';
import { aliasTarget, weaviateStoreFactory } from './factory.ts';
import { connectWeaviate } from './connect.ts';
import { generationCollections } from './names.ts';

const ROLE = 'conformance';

function opener(config: () => StoreConfig) {
  return async (): Promise<OpenedStore> => {
    const generation = `g${randomUUID().slice(0, 8)}`;
    const options = { role: ROLE, generation, model: CONFORMANCE_MODEL, config: config() };
    const store = await weaviateStoreFactory.open(options);
    return {
      store,
      reopen: () => weaviateStoreFactory.open(options),
      cleanup: () => weaviateStoreFactory.drop(options),
    };
  };
}

let fake: FakeWeaviate;
const fakeConfig = (): StoreConfig => ({ dataDir: '.', weaviate: { url: fake.url, grpcUrl: fake.grpcUrl } });

describe('Weaviate store on the fake Weaviate', () => {
  beforeAll(async () => {
    fake = await startFakeWeaviate();
  });
  afterAll(async () => {
    await fake?.close();
  });

  describeInferenceStoreConformance('weaviate (fake)', opener(fakeConfig), { atomicBatches: false });

  it('switches the role alias between generations and refuses to drop the active one', async () => {
    const config = fakeConfig();
    const a = { role: 'inference', generation: 'v1-model.a', config };
    const b = { role: 'inference', generation: 'v2-model.b', config };
    for (const g of [a, b]) await (await weaviateStoreFactory.open({ ...g, model: CONFORMANCE_MODEL })).close();
    const client = await connectWeaviate(config.weaviate as NonNullable<StoreConfig['weaviate']>);
    try {
      expect(await aliasTarget(client, 'inference')).toBeUndefined();
      await weaviateStoreFactory.activate?.(a);
      expect(await aliasTarget(client, 'inference')).toBe(generationCollections('inference', a.generation).chunks);
      await weaviateStoreFactory.activate?.(b);
      expect(await aliasTarget(client, 'inference')).toBe(generationCollections('inference', b.generation).chunks);
      // Queries through the alias reach the active generation.
      expect(await client.collections.use('Spanda_inference').tenants.get()).toEqual({});

      await expect(weaviateStoreFactory.drop(b)).rejects.toThrow(/alias Spanda_inference points at it/);
      await weaviateStoreFactory.drop(a);
      const names = generationCollections('inference', a.generation);
      for (const name of [names.chunks, names.docs, names.state]) expect(await client.collections.exists(name)).toBe(false);
      expect(await client.collections.exists(generationCollections('inference', b.generation).chunks)).toBe(true);
      await expect(weaviateStoreFactory.activate?.(a)).rejects.toThrow(/has no collection/);
    } finally {
      await client.close();
    }
  });

  it('finishes an interrupted batch when it is replayed: same digest, documents and checkpoint as an uninterrupted store', async () => {
    const ref = await opener(fakeConfig)();
    const broken = await opener(fakeConfig)();
    const vector = (i: number) => Float32Array.from({ length: CONFORMANCE_MODEL.dims }, (_, j) => (j === i ? 1 : 0));
    const doc = (docId: string, docSeq: number, texts: string[]): StoreOp[] => [
      { kind: 'chunks', tenant: 'acme', source: 'web', docId, docSeq, metadata: { n: docSeq }, part: { index: 0, count: 1 }, totalChunks: texts.length,
        chunks: texts.map((text, ordinal) => ({ chunkId: `${docSeq}:${ordinal}`, ordinal, text, start: 0, end: text.length, tokens: 2 })) },
      { kind: 'vectors', tenant: 'acme', source: 'web', docId, docSeq, model: CONFORMANCE_MODEL.id,
        vectors: texts.map((_, ordinal) => ({ chunkId: `${docSeq}:${ordinal}`, window: 0, vector: vector(ordinal) })) },
    ];
    const first: StoreBatch = { ops: [...doc('a', 1, ['alpha one', 'alpha two', 'alpha three']), ...doc('b', 2, ['beta one'])], checkpoints: { CHUNKS: 2 } };
    const second: StoreBatch = {
      ops: [...doc('a', 3, ['alpha revised']), { kind: 'remove', tenant: 'acme', source: 'web', docId: 'b', docSeq: 4 }, ...doc('c', 5, ['gamma one', 'gamma two'])],
      checkpoints: { CHUNKS: 5 },
    };
    try {
      for (const batch of [first, second]) await ref.store.apply(batch);
      await broken.store.apply(first);
      // The documents' records fail to write while the chunk objects of the new versions land: a half-applied batch.
      fake.state.failBatchObjects = (className) => className.endsWith('_Docs');
      await expect(broken.store.apply(second)).rejects.toThrow(/injected fault/);
      fake.state.failBatchObjects = undefined;
      // Half applied now (no transactions): only the checkpoint is guaranteed not to have moved, and the replay finishes it.
      expect(await broken.store.checkpoints()).toEqual({ CHUNKS: 2 });
      await broken.store.apply(second);
      expect(await broken.store.digest()).toBe(await ref.store.digest());
      expect(await broken.store.stats()).toEqual(await ref.store.stats());
      expect(await broken.store.checkpoints()).toEqual({ CHUNKS: 5 });
      expect(await broken.store.document({ tenant: 'acme', source: 'web', docId: 'a' })).toMatchObject({ docSeq: 3, chunks: 1, vectors: 1 });
    } finally {
      fake.state.failBatchObjects = undefined;
      for (const o of [ref, broken]) {
        await o.store.close();
        await o.cleanup();
      }
    }
  });

  it('refuses to reopen a generation with another model', async () => {
    const options = { role: ROLE, generation: `g${randomUUID().slice(0, 8)}`, model: CONFORMANCE_MODEL, config: fakeConfig() };
    await (await weaviateStoreFactory.open(options)).close();
    try {
      await expect(weaviateStoreFactory.open({ ...options, model: { id: 'other', dims: 4 } })).rejects.toThrow(/was built with/);
    } finally {
      await weaviateStoreFactory.drop(options);
    }
  });
});

const realUrl = process.env.WEAVIATE_URL;
const realConfig = (): StoreConfig => ({
  dataDir: '.',
  weaviate: {
    url: realUrl as string,
    ...(process.env.WEAVIATE_GRPC_URL ? { grpcUrl: process.env.WEAVIATE_GRPC_URL } : {}),
    ...(process.env.WEAVIATE_API_KEY ? { apiKey: process.env.WEAVIATE_API_KEY } : {}),
  },
});

describe.skipIf(!realUrl)(`Weaviate store on a real Weaviate${realUrl ? '' : ' (skipped: set WEAVIATE_URL, and WEAVIATE_GRPC_URL if gRPC is not on port 50051)'}`, () => {
  describeInferenceStoreConformance('weaviate (real)', opener(realConfig), { atomicBatches: false });
});
