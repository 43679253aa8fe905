// Catalog stores against the conformance suite: SQLite, Weaviate on the fake Weaviate (always) and on a real one (WEAVIATE_URL).
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnavailableError } from '../../../lib/errors.ts';
import { tempDir } from '../../../test/helpers/nats.ts';
import { waitForRowsInFileAlone } from '../../../test/helpers/sqlite-file.ts';
import { startFakeWeaviate, type FakeWeaviate } from '../../../test/fakes/weaviate/server.ts';
import { indexingSpec } from '../../catalog-serving.ts';
import { generationId } from '../../generations.ts';
import type { StoreConfig } from '../registry.ts';
import { connectWeaviate } from '../weaviate/connect.ts';
import { aliasTarget } from '../weaviate/factory.ts';
import { CONFORMANCE_BATCHES, describeCatalogStoreConformance, expectedDigest, type OpenedCatalog } from './catalog-conformance.ts';
import { catalogSchemaVersion, catalogStoreFactory } from './registry.ts';
import { catalogCollections } from './weaviate-catalog-schema.ts';
import { openWeaviateCatalogStore } from './weaviate-catalog-store.ts';
import { WorkerCatalogStore } from './worker-catalog-store.ts';

const ROLE = 'indexing';

function opener(kind: string, config: () => Promise<StoreConfig> | StoreConfig, done?: (config: StoreConfig) => Promise<void>) {
  return async (): Promise<OpenedCatalog> => {
    const factory = await catalogStoreFactory(kind);
    const options = { role: ROLE, generation: `g${randomUUID().slice(0, 8)}`, config: await config() };
    return {
      store: await factory.open(options),
      reopen: () => factory.open(options),
      cleanup: async () => {
        await factory.drop(options);
        await done?.(options.config);
      },
    };
  };
}

describeCatalogStoreConformance(
  'sqlite',
  opener('sqlite', async () => ({ dataDir: await tempDir('spanda-catalog-') }), (config) => rm(config.dataDir, { recursive: true, force: true })),
);

describe('sqlite catalog in its worker', () => {
  it('checkpoints its WAL from another thread: applied facts reach the database file within a second', async () => {
    const dir = await tempDir('spanda-catalog-wal-');
    const path = join(dir, 'catalog.sqlite');
    const store = await WorkerCatalogStore.open(path);
    try {
      for (let i = 1; i <= 50; i++) {
        const op = { tenant: 'acme', source: 'notes', docId: `d${i}`, docSeq: i, seq: i, at: new Date(0).toISOString(), kind: 'published' as const, deleted: false };
        await store.apply({ ops: [op], checkpoints: { DOCUMENTS: i } });
      }
      // Far below the writer's own automatic checkpoint: facts in the file alone (copied without its WAL) were put there
      // by the checkpointer.
      expect(await waitForRowsInFileAlone(path, 'facts', 50)).toBe(50);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('catalog store registry', () => {
  it('names the kind in the generation spec; sqlite keeps the ids it always had', async () => {
    expect(indexingSpec().store).toEqual({ kind: 'sqlite', schemaVersion: catalogSchemaVersion('sqlite') });
    expect(indexingSpec('weaviate').store).toEqual({ kind: 'weaviate', schemaVersion: catalogSchemaVersion('weaviate') });
    expect(generationId(indexingSpec('weaviate'))).not.toBe(generationId(indexingSpec('sqlite')));
    expect(() => indexingSpec('qdrant')).toThrow(/unknown catalog store kind "qdrant": use one of sqlite, weaviate/);
    await expect(catalogStoreFactory('weaviate').then((f) => f.open({ role: ROLE, generation: 'g', config: { dataDir: '.' } }))).rejects.toThrow(
      /SPANDA_WEAVIATE_URL_INDEXING/,
    );
  });
});

let fake: FakeWeaviate;
const fakeConfig = (): StoreConfig => ({ dataDir: '.', weaviate: { url: fake.url, grpcUrl: fake.grpcUrl } });

describe('Weaviate catalog store on the fake Weaviate', () => {
  beforeAll(async () => {
    fake = await startFakeWeaviate();
  });
  afterAll(async () => {
    await fake?.close();
  });

  describeCatalogStoreConformance('weaviate (fake)', opener('weaviate', fakeConfig));

  it('lays a generation out as a facts collection (one object per fact identity, filterable keys) and a state collection', async () => {
    const { store, cleanup } = await opener('weaviate', fakeConfig)();
    try {
      for (const batch of CONFORMANCE_BATCHES) await store.apply(batch);
      for (const batch of CONFORMANCE_BATCHES) await store.apply(batch);
      const facts = [...fake.state.classes.values()].find((c) => c.name.startsWith('Spanda_indexing_g') && !c.name.endsWith('_State'));
      const objects = [...(facts?.shards.get('')?.values() ?? [])];
      // 19 ops, one a redelivery (same identity): 18 objects, however often the batches are replayed.
      expect(objects).toHaveLength(18);
      expect(objects.every((o) => typeof o.properties.fact === 'string' && typeof o.properties.docKey === 'string')).toBe(true);
      expect(facts?.properties.get('tenant')?.indexFilterable).toBe(true);
      expect(facts?.multiTenant).toBe(false);
    } finally {
      await store.close();
      await cleanup();
    }
  });

  it('snapshot waits for a batch in flight and gives up on a writer stuck mid-batch until its batch is replayed', async () => {
    const generation = `g${randomUUID().slice(0, 8)}`;
    const names = catalogCollections(ROLE, generation);
    const config = fakeConfig().weaviate as NonNullable<StoreConfig['weaviate']>;
    const writer = await openWeaviateCatalogStore({ client: await connectWeaviate(config), names });
    const reader = await openWeaviateCatalogStore({ client: await connectWeaviate(config), names, snapshotTimeoutMs: 300 });
    const [first, second] = CONFORMANCE_BATCHES;
    if (!first || !second) throw new Error('fixture');
    try {
      await writer.apply(first);
      // The facts of the second batch fail to land after the writer marked itself busy: it stopped mid-batch.
      fake.state.failBatchObjects = (className) => className === names.facts;
      await expect(writer.apply(second)).rejects.toThrow(/injected fault/);
      fake.state.failBatchObjects = undefined;
      expect(await reader.checkpoints()).toEqual(first.checkpoints);
      await expect(reader.snapshot()).rejects.toBeInstanceOf(UnavailableError);
      // The projector replays the batch from its checkpoint: the catalog is consistent again.
      await writer.apply(second);
      expect(await reader.snapshot()).toEqual({ checkpoints: second.checkpoints, digest: expectedDigest([first, second]) });

      // A snapshot taken while batches keep landing returns a digest that belongs to its checkpoints.
      const rest = CONFORMANCE_BATCHES.slice(2);
      const writing = (async () => {
        for (const batch of rest) await writer.apply(batch);
      })();
      const patient = await openWeaviateCatalogStore({ client: await connectWeaviate(config), names });
      try {
        const snap = await patient.snapshot();
        const applied = CONFORMANCE_BATCHES.findIndex((b) => isDeepStrictEqual(b.checkpoints, snap.checkpoints));
        expect(applied).toBeGreaterThanOrEqual(1);
        expect(snap.digest).toBe(expectedDigest(CONFORMANCE_BATCHES.slice(0, applied + 1)));
      } finally {
        await writing;
        await patient.close();
      }
    } finally {
      fake.state.failBatchObjects = undefined;
      await writer.close();
      await reader.close();
      await (await catalogStoreFactory('weaviate')).drop({ role: ROLE, generation, config: fakeConfig() });
    }
  });

  it('points the Spanda_indexing alias at the active catalog generation and refuses to drop it', async () => {
    const factory = await catalogStoreFactory('weaviate');
    const a = { role: ROLE, generation: `g${randomUUID().slice(0, 8)}`, config: fakeConfig() };
    const b = { ...a, generation: `g${randomUUID().slice(0, 8)}` };
    for (const g of [a, b]) await (await factory.open(g)).close();
    const client = await connectWeaviate(fakeConfig().weaviate as NonNullable<StoreConfig['weaviate']>);
    try {
      await factory.activate?.(a);
      expect(await aliasTarget(client, ROLE)).toBe(catalogCollections(ROLE, a.generation).facts);
      await factory.activate?.(b);
      expect(await aliasTarget(client, ROLE)).toBe(catalogCollections(ROLE, b.generation).facts);
      await expect(factory.drop(b)).rejects.toThrow(/alias Spanda_indexing points at it/);
      await factory.drop(a);
      expect(await client.collections.exists(catalogCollections(ROLE, a.generation).facts)).toBe(false);
      expect(await client.collections.exists(catalogCollections(ROLE, a.generation).state)).toBe(false);
    } finally {
      await client.alias.delete('Spanda_indexing');
      await factory.drop(b);
      await client.close();
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

describe.skipIf(!realUrl)(`Weaviate catalog store on a real Weaviate${realUrl ? '' : ' (skipped: set WEAVIATE_URL, and WEAVIATE_GRPC_URL if gRPC is not on port 50051)'}`, () => {
  describeCatalogStoreConformance('weaviate (real)', opener('weaviate', realConfig));
});
