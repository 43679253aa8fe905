// Changing chunk settings by replay: new settings re-chunk every document beside the old ones, the serving generation
// keeps indexing new documents meanwhile, and `spanda replay` moves serving to the new chunks with no mix of the two.
import { afterAll, describe, expect, it } from 'vitest';
import { chunkerSettings, generationRuntime, inferenceSpec, INFERENCE_ROLE } from '../cli/inference-runtime.ts';
import { silentLogger } from '../lib/log.ts';
import { replayGeneration, verifyGeneration } from '../projections/replay.ts';
import { chunkerConsumerName, chunkerFingerprint } from '../streams/events/index.ts';
import { listConsumers } from '../streams/consumer-list.ts';
import { provision } from '../streams/provision.ts';
import { jsonApi } from './helpers/http.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';

let node: TestSystem | undefined;
afterAll(async () => {
  await node?.destroy();
});

const api = jsonApi(() => node?.system.apiUrl ?? '');
const paragraph = (i: number) => `Paragraph ${i} of the field guide describes lichen ${i} on granite in some detail. `.repeat(3);
const longText = Array.from({ length: 6 }, (_, i) => paragraph(i)).join('\n\n');

describe('changing the chunk settings', () => {
  it('re-chunks beside the serving generation, keeps it current, then swaps to the new chunks by replay', async () => {
    node = await startTestSystem();
    const first = await api('POST', '/v1/documents', { id: 'guide', text: longText });
    await api('POST', '/v1/query', { query: 'lichen', after_seq: first.json.accepted[0].seq });
    const before = await api('GET', '/v1/documents/api/guide');
    expect(before.json.chunks).toBeGreaterThan(1);

    // Restart on the same log and data dir with chunks twice as large.
    const { dir, config } = node;
    await node.stop();
    node = await startTestSystem({ NATS_URL: config.natsUrl, SPANDA_CHUNK_SIZE: '2000' }, dir);
    const settings = chunkerSettings(node.config);
    // The serving generation still has the old settings and still indexes new documents.
    const late = await api('POST', '/v1/documents', { id: 'late', text: 'A late note on moss.' });
    const q = await api('POST', '/v1/query', { query: 'moss', mode: 'keyword', after_seq: late.json.accepted[0].seq, timeout_ms: 30_000 });
    expect(q.status).toBe(200);
    expect(q.json.results[0].docId).toBe('late');
    const servedBefore = q.json.generation as string;

    const runtime = generationRuntime(node.system.nats, (await provision(node.system.nats)).kv, node.config, [], silentLogger);
    const spec = await inferenceSpec(node.config, { id: 'hash-256', dims: 256 });
    expect(spec.chunker).toBe(chunkerFingerprint(settings));
    const result = await replayGeneration(runtime, spec, { vectorWeight: node.system.vectorWeight, chunkerSettings: settings });
    expect(result.verified).toBe(true);
    expect(result.previous).toBe(servedBefore);
    const deadline = Date.now() + 20_000;
    while (node.system.serving.current().id !== result.generation && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(node.system.serving.current().id).toBe(result.generation);

    const after = await api('GET', '/v1/documents/api/guide');
    expect(after.json.chunks).toBe(1);
    const hits = await api('POST', '/v1/query', { query: 'lichen granite', mode: 'keyword', k: 10 });
    // Only the new settings' chunks: ids carry its fingerprint, and one chunk per document now.
    expect(hits.json.results.filter((h: { docId: string }) => h.docId === 'guide')).toHaveLength(1);
    expect(hits.json.results[0].chunkId).toContain(`:${spec.chunker}:`);
    expect((await api('POST', '/v1/query', { query: 'moss', mode: 'keyword' })).json.results[0].docId).toBe('late');
    expect((await verifyGeneration(runtime, INFERENCE_ROLE)).ok).toBe(true);
    // The new settings' chunker has a consumer of its own; the default one keeps its name.
    const consumers: string[] = [];
    for (const c of await listConsumers(node.system.nats, 'DOCUMENTS')) consumers.push(c.name);
    expect(consumers).toEqual(expect.arrayContaining(['chunker', chunkerConsumerName(spec.chunker)]));
  });
});
