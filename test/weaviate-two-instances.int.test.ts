// A whole node on two Weaviate instances (fakes): the indexing catalog on one, inference generations on the other.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../lib/log.ts';
import { generationRuntime, storeConfigOf } from '../cli/inference-runtime.ts';
import { INDEXING_ROLE, replayCatalog, verifyCatalog } from '../projections/catalog-serving.ts';
import type { GenerationRuntime } from '../projections/serving.ts';
import { provision } from '../streams/provision.ts';
import { startFakeWeaviate, type FakeWeaviate } from './fakes/weaviate/server.ts';
import { jsonApi } from './helpers/http.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';

let indexing: FakeWeaviate;
let inference: FakeWeaviate;
let node: TestSystem;
let runtime: GenerationRuntime;
const api = jsonApi(() => node.system.apiUrl);

beforeAll(async () => {
  [indexing, inference] = await Promise.all([startFakeWeaviate(), startFakeWeaviate()]);
  node = await startTestSystem({
    SPANDA_STORE: 'weaviate',
    SPANDA_CATALOG_STORE: 'weaviate',
    SPANDA_WEAVIATE_URL_INDEXING: indexing.url,
    SPANDA_WEAVIATE_GRPC_URL_INDEXING: indexing.grpcUrl,
    SPANDA_WEAVIATE_URL_INFERENCE: inference.url,
    SPANDA_WEAVIATE_GRPC_URL_INFERENCE: inference.grpcUrl,
    // A shared instance nobody listens on: reaching it would fail the node, so every role must use its own URL.
    WEAVIATE_URL: 'http://127.0.0.1:9',
    WEAVIATE_GRPC_URL: '127.0.0.1:9',
  });
  const { kv } = await provision(node.system.nats);
  runtime = generationRuntime(node.system.nats, kv, node.config, [], silentLogger);
});
afterAll(async () => {
  await node?.destroy();
  await Promise.all([indexing?.close(), inference?.close()]);
});

async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last: ${JSON.stringify(value).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const classes = (fake: FakeWeaviate) => [...fake.state.classes.keys()].sort();

interface Version {
  seq: number;
  deleted: boolean;
  chunked: Array<{ complete: boolean; chunkIds: string[] }>;
  embedded: Array<{ model: string; complete: boolean }>;
  removedBy: Array<{ by: string }>;
}

describe('two Weaviate instances: one for indexing, one for inference', () => {
  it('serves the catalog from the indexing instance and queries from the inference instance', async () => {
    expect((await runtime.generations.get(INDEXING_ROLE, node.system.catalog.current().id))?.spec.store.kind).toBe('weaviate');
    const text = (topic: string) => `${topic}. ${'Some words about the topic at hand, repeated for length. '.repeat(30)}`;
    const first = await api('POST', '/v1/documents', {
      documents: [
        { id: 'story', title: 'Story', text: text('volcano magma eruption') },
        { id: 'note', title: 'Note', text: text('salmon river spawning') },
      ],
    });
    expect(first.status).toBe(202);
    const second = await api('POST', '/v1/documents', { id: 'story', title: 'Story v2', text: text('glacier ice melt') });
    expect(second.status).toBe(202);
    const gone = await api('DELETE', '/v1/documents/api/note');
    expect(gone.status).toBe(202);

    const story = await until(
      () => api('GET', '/v1/documents/api/story'),
      (r) => r.status === 200 && r.json.versions.length === 2 && r.json.versions.every((v: Version) => v.chunked[0]?.complete && v.embedded[0]?.complete) && r.json.serving.applied,
    );
    const [v1, v2] = story.json.versions as Version[];
    expect(v2?.seq).toBe(second.json.accepted[0].seq);
    expect(v1?.seq).toBeLessThan(v2?.seq ?? 0);
    expect(v2?.embedded.map((e) => e.model)).toEqual(['hash-256']);
    expect(story.json.chunks).toBeGreaterThan(0);

    const note = await until(
      () => api('GET', '/v1/documents/api/note'),
      (r) => r.status === 200 && r.json.versions.length === 2 && (r.json.versions[1]?.removedBy.length ?? 0) > 0 && r.json.deleted === true,
    );
    expect(note.json.versions[1].deleted).toBe(true);

    const q = await api('POST', '/v1/query', { query: 'glacier ice melt', mode: 'keyword', k: 3, after_seq: second.json.accepted[0].seq });
    expect(q.status).toBe(200);
    expect(q.json.results[0]?.docId).toBe('story');

    // Each instance holds its own role's collections and nothing else.
    expect(classes(indexing).length).toBeGreaterThan(0);
    expect(classes(indexing).every((c) => c.startsWith('Spanda_indexing_'))).toBe(true);
    expect(classes(inference).length).toBeGreaterThan(0);
    expect(classes(inference).every((c) => c.startsWith('Spanda_inference_'))).toBe(true);
  });

  it('rebuilds the catalog on the indexing instance by replay, verifies it against the log and switches to it', async () => {
    const before = node.system.catalog.current().id;
    const catalogConfig = storeConfigOf(node.config, INDEXING_ROLE);
    const result = await replayCatalog(node.system.nats, runtime.generations, catalogConfig, { kind: 'weaviate' });
    expect(result.verified).toBe(true);
    expect(result.previous).toBe(before);
    expect((await runtime.generations.get(INDEXING_ROLE, result.generation))?.spec.store.kind).toBe('weaviate');
    await until(async () => node.system.catalog.current().id, (id) => id === result.generation);
    const verified = await verifyCatalog(node.system.nats, runtime.generations, catalogConfig);
    expect(verified).toMatchObject({ generation: result.generation, ok: true });
    expect(verified.digest).toBe(result.digest);
    expect((await api('GET', '/v1/documents/api/story')).json.versions).toHaveLength(2);

    // The store's own alias lives on the indexing instance only; both catalog generations are there.
    expect(indexing.state.aliases.get('Spanda_indexing')).toMatch(new RegExp(`^Spanda_indexing_`));
    expect([...inference.state.aliases.keys()].every((a) => !a.startsWith('Spanda_indexing'))).toBe(true);
    expect(classes(indexing).filter((c) => !c.endsWith('_State'))).toHaveLength(2);
    expect(classes(inference).every((c) => c.startsWith('Spanda_inference_'))).toBe(true);
  });
});
