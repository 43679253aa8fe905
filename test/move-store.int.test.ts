// Moving the serving projection to another store by replay: SQLite → Qdrant → Weaviate (their documented wire protocols, faked locally) and back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generationRuntime, inferenceSpec, INFERENCE_ROLE } from '../cli/inference-runtime.ts';
import { silentLogger } from '../lib/log.ts';
import { replayGeneration, verifyGeneration } from '../projections/replay.ts';
import type { GenerationRuntime } from '../projections/serving.ts';
import { provision } from '../streams/provision.ts';
import { startFakeQdrant, type FakeQdrant } from './fakes/qdrant.ts';
import { startFakeWeaviate, type FakeWeaviate } from './fakes/weaviate/server.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';
import { jsonApi } from './helpers/http.ts';

let qdrant: FakeQdrant;
let weaviate: FakeWeaviate;
let node: TestSystem;
let runtime: GenerationRuntime;

beforeAll(async () => {
  qdrant = await startFakeQdrant();
  weaviate = await startFakeWeaviate();
  node = await startTestSystem({ QDRANT_URL: qdrant.url, WEAVIATE_URL: weaviate.url, WEAVIATE_GRPC_URL: weaviate.grpcUrl });
  runtime = generationRuntime(node.system.nats, (await provision(node.system.nats)).kv, node.config, [], silentLogger);
});
afterAll(async () => {
  await node?.destroy();
  await qdrant?.close();
  await weaviate?.close();
});

const api = jsonApi(() => node.system.apiUrl);

async function until(predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('moving the inference projection between stores by replay', () => {
  let lastSeq = 0;

  beforeAll(async () => {
    const docs = Array.from({ length: 12 }, (_, i) => ({ id: `m${i}`, text: `Migration note ${i} about ${i % 2 ? 'comets and orbits' : 'rivers and deltas'}.` }));
    const published = await api('POST', '/v1/documents', { documents: docs });
    lastSeq = Math.max(...published.json.accepted.map((a: { seq: number }) => a.seq));
    await api('POST', '/v1/query', { query: 'x', after_seq: lastSeq });
  });

  for (const kind of ['qdrant', 'weaviate'] as const) {
    it(`rebuilds into ${kind}, swaps, answers from it, and verifies against the log`, async () => {
      const sqliteHits = (await api('POST', '/v1/query', { query: 'comets orbits', mode: 'hybrid', k: 5 })).json.results.map((h: { docId: string }) => h.docId);
      const spec = await inferenceSpec(node.config, { id: 'hash-256', dims: 256 }, kind);
      const result = await replayGeneration(runtime, spec, { vectorWeight: node.system.vectorWeight });
      expect(result).toMatchObject({ store: kind, verified: true });
      await until(() => node.system.serving.current().id === result.generation);
      const r = await api('POST', '/v1/query', { query: 'comets orbits', mode: 'hybrid', k: 5 });
      expect(r.status).toBe(200);
      expect(r.json.generation).toBe(result.generation);
      // Same documents found as on SQLite (their BM25 statistics differ a little, so compare the set).
      expect(new Set(r.json.results.map((h: { docId: string }) => h.docId))).toEqual(new Set(sqliteHits));
      // A change after the swap reaches the new store through the node's projector.
      const added = await api('POST', '/v1/documents', { id: `late-${kind}`, text: `A late note about comets, written for ${kind}.` });
      const late = await api('POST', '/v1/query', { query: `late note ${kind}`, mode: 'keyword', k: 3, after_seq: added.json.accepted[0].seq });
      expect(late.json.results[0].docId).toBe(`late-${kind}`);
      const verify = await verifyGeneration(runtime, INFERENCE_ROLE);
      expect(verify.ok).toBe(true);
      // Back to SQLite for the next store.
      const { revision, alias } = await runtime.generations.alias(INFERENCE_ROLE);
      await runtime.generations.switchAlias(INFERENCE_ROLE, alias?.previous as string, revision);
      await until(() => node.system.serving.current().id === alias?.previous);
    });
  }
});
