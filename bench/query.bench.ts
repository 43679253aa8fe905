// Query latency over HTTP (POST /v1/query on a real socket) at 10k and 100k chunks, next to the same search on the store and the offline query embedding.
// Run: npm run bench:query   (writes bench/results/query.json; prints figures, never passes or fails)
//
// The chunks are loaded through the real pipeline (publishDocument → chunker → hash embedder → projector → SQLite) of
// a node on a private nats-server. The node serves model hash-512 (the offline model's size; the configuration is
// adjusted after loading because SPANDA_EMBEDDER names only a provider kind). Then 8 concurrent clients.
import { chunkText, DEFAULT_CHUNKER } from '../processors/chunker/chunk.ts';
import { normalizeText } from '../processors/chunker/normalize.ts';
import { createEmbeddingProvider } from '../processors/embedder/models.ts';
import type { SearchMode } from '../streams/events/index.ts';
import { documentInputSchema, publishDocument, type ValidDocumentInput } from '../streams/document-log.ts';
import { mapLimit } from '../streams/publisher.ts';
import { runChildClient } from './lib/child-client.ts';
import { fromRoot, loadAverage, measured, note, round, runBenchmark, summarize, table, writeResult, type Summary } from './lib/common.ts';
import { startNode, startPrivateNats, waitForIndex, type BenchNode } from './lib/node.ts';
import { proseDocument, proseQueries } from './lib/prose.ts';
import { prng } from '../lib/prng.ts';
import { search } from '../projections/search.ts';
import { WorkerInferenceStore } from '../projections/stores/sqlite/index.ts';

/** Chunk counts to measure at, loaded cumulatively into one node (BENCH_QUERY_SIZES=10000 for a quick look). */
const SIZES = (process.env.BENCH_QUERY_SIZES ?? '10000,100000').split(',').map(Number);
const QUERIES = Number(process.env.BENCH_QUERY_COUNT ?? 300);
const WARMUP = 30;
const K = 10;
const MODES: readonly SearchMode[] = ['keyword', 'vector', 'hybrid'];
const TENANT = 'default';
const CONCURRENCY = 64;
/** Concurrent HTTP clients for the throughput figure, and how many hybrid queries each sends. */
const CLIENTS = Number(process.env.BENCH_QUERY_CLIENTS ?? 8);
const CLIENT_QUERIES = Number(process.env.BENCH_QUERY_CLIENT_COUNT ?? 100);
const SERVING_MODEL = process.env.BENCH_QUERY_MODEL ?? 'hash-512';
/**
 * Hybrid queries the client in its own process sends back to back (the issue-12 target row): a p99 of 300 is the 3rd
 * slowest query, and it moved by 10 ms between identical runs here; of 1,000 it is the 10th.
 */
const SEPARATE_QUERIES = Number(process.env.BENCH_QUERY_SEPARATE_COUNT ?? 1000);

interface Concurrent {
  readonly clients: number;
  readonly queries: number;
  readonly seconds: number;
  readonly queriesPerSecond: number;
  readonly latencyMs: Summary;
}

/** CLIENTS clients, each sending its hybrid queries back to back on its own connection; throughput and latency. */
async function concurrentClients(apiUrl: string, queries: readonly string[]): Promise<Concurrent> {
  const times: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      for (let i = 0; i < CLIENT_QUERIES; i++) {
        const query = queries[(c * CLIENT_QUERIES + i) % queries.length] as string;
        const t = performance.now();
        const response = await fetch(`${apiUrl}/v1/query`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query, mode: 'hybrid', k: K }),
        });
        await response.json();
        if (response.status !== 200) throw new Error(`POST /v1/query answered ${response.status}`);
        times.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { clients: CLIENTS, queries: times.length, seconds: round(seconds, 2), queriesPerSecond: round(times.length / seconds, 1), latencyMs: summarize(times) };
}

const CLIENT_SCRIPT = fromRoot('bench/lib/query-client.mjs');

/** What the client in its own process measured: one client back to back, and CLIENTS at once. */
interface SeparateClient {
  readonly hybridMs: Summary;
  readonly concurrent: Concurrent;
}

/** Runs bench/lib/query-client.mjs in a child process (plain Node) and returns what it printed. */
const childClient = (input: Record<string, unknown>) => runChildClient<{ times: number[]; seconds?: number }>(CLIENT_SCRIPT, input, 'query client');

/**
 * Hybrid queries from a client in a process of its own, as a deployment's clients are: the in-process figures above
 * also carry the client's own work (fetch, parsing, its garbage) on the server's event loop.
 */
async function separateClient(apiUrl: string, queries: readonly string[], many: readonly string[]): Promise<SeparateClient> {
  const base = { url: apiUrl, mode: 'hybrid', k: K, warmup: WARMUP };
  const one = await childClient({ ...base, queries: many.slice(WARMUP), clients: 1 });
  const concurrent = await childClient({ ...base, queries, clients: CLIENTS, perClient: CLIENT_QUERIES });
  const seconds = concurrent.seconds ?? Number.NaN;
  return {
    hybridMs: summarize(one.times),
    concurrent: {
      clients: CLIENTS,
      queries: concurrent.times.length,
      seconds: round(seconds, 2),
      queriesPerSecond: round(concurrent.times.length / seconds, 1),
      latencyMs: summarize(concurrent.times),
    },
  };
}

/** The process's RSS and, when the store runs in a worker, what its in-memory indexes hold. */
async function memoryOf(store: unknown): Promise<Record<string, number>> {
  const out: Record<string, number> = { rssMB: Math.round(process.memoryUsage().rss / 1e6) };
  if (store instanceof WorkerInferenceStore) {
    const m = await store.memory();
    Object.assign(out, { vectorIndexMB: round(m.vectorBytes / 1e6, 1), keywordIndexMB: round(m.keywordBytes / 1e6, 1), storeWorkerHeapMB: round(m.heapUsedBytes / 1e6, 1) });
  }
  return out;
}

interface ModeFigures {
  /** Client-side: fetch POST /v1/query on a kept-alive connection until the JSON body is read. */
  readonly httpMs: Summary;
  /** The API's own took_ms (embed + search + extractive answer), from the response. */
  readonly serverTookMs: Summary;
  /** store.search on the same (worker-hosted) store the API uses, with the vector embedded beforehand. */
  readonly storeMs: Summary;
  readonly meanHits: number;
}

/** GET /healthz round trips: the floor of any request on this server and client (no body, no store, no events). */
async function httpFloor(apiUrl: string, count: number): Promise<Summary> {
  const times: number[] = [];
  for (let i = 0; i < WARMUP + count; i++) {
    const started = performance.now();
    const response = await fetch(`${apiUrl}/healthz`);
    await response.json();
    if (i >= WARMUP) times.push(performance.now() - started);
  }
  return summarize(times);
}

async function measureAt(node: BenchNode, chunks: number, queries: readonly string[]): Promise<Record<string, ModeFigures>> {
  const { system } = node;
  const out: Record<string, ModeFigures> = {};
  for (const mode of MODES) {
    const http: number[] = [];
    const took: number[] = [];
    const store: number[] = [];
    let hits = 0;
    for (let i = 0; i < queries.length; i++) {
      const query = queries[i] as string;
      // HTTP and the bare store alternate query by query, so both see the same moments of a noisy machine.
      const started = performance.now();
      const response = await fetch(`${system.apiUrl}/v1/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query, mode, k: K }),
      });
      const body = (await response.json()) as { took_ms?: number; results?: unknown[] };
      const httpMs = performance.now() - started;
      if (response.status !== 200) throw new Error(`POST /v1/query answered ${response.status}: ${JSON.stringify(body)}`);
      const vector = mode === 'keyword' ? undefined : (await system.provider.embed([query]))[0];
      const storeStarted = performance.now();
      const direct = await search(system.store, { tenant: TENANT, mode, k: K, text: query, vectorWeight: system.vectorWeight, ...(vector ? { vector } : {}) });
      const storeMs = performance.now() - storeStarted;
      if (i < WARMUP) continue;
      http.push(httpMs);
      took.push(body.took_ms ?? Number.NaN);
      store.push(storeMs);
      hits += direct.length;
    }
    out[mode] = { httpMs: summarize(http), serverTookMs: summarize(took), storeMs: summarize(store), meanHits: round(hits / http.length, 1) };
    note(`${chunks} chunks, ${mode}: HTTP p50 ${out[mode].httpMs.p50} ms, store p50 ${out[mode].storeMs.p50} ms`);
  }
  return out;
}

await runBenchmark('query', async () => {
  const startLoad = loadAverage();
  const started = performance.now();
  const nats = await startPrivateNats();
  const node = await startNode(nats.url, { SPANDA_EMBEDDER: 'hash' }, undefined, (c) => ({ ...c, models: [SERVING_MODEL] }));
  const { system } = node;
  const random = prng(2024);
  const queries = proseQueries(WARMUP + QUERIES, 77);
  const separateQueries = proseQueries(WARMUP + SEPARATE_QUERIES, 77);

  let docs = 0;
  let chunks = 0;
  let vectors = 0;
  const loads = [];
  const sizes = [];
  for (const size of SIZES) {
    // Generate documents of 1–4 KB until the store will hold `size` chunks.
    const batch: ValidDocumentInput[] = [];
    while (chunks < size) {
      const d = proseDocument(docs + 1, Math.round(1000 + random() * 3000), `doc-${docs}`);
      const input = documentInputSchema.parse({ id: d.id, source: 'bench', title: d.title, text: d.text, contentType: 'text/plain', metadata: { topic: d.topic, year: d.year } });
      const pieces = chunkText(normalizeText(input.text, input.contentType), DEFAULT_CHUNKER);
      batch.push(input);
      docs += 1;
      chunks += pieces.length;
      vectors += pieces.reduce((sum, c) => sum + system.provider.windows(c.text).filter((w) => w.trim().length > 0).length, 0);
    }
    note(`loading ${batch.length} documents through the pipeline (to ${chunks} chunks)`);
    const loadStarted = performance.now();
    const cpu = process.cpuUsage();
    await mapLimit(batch, CONCURRENCY, (doc) => publishDocument(system.nats, TENANT, doc, { producer: '/bench/query' }));
    const done = await waitForIndex(system, { documents: docs, chunks, vectors }, loadStarted, { pollMs: 100, progressEveryMs: 20_000, label: 'loading' });
    const used = process.cpuUsage(cpu);
    loads.push({
      documents: batch.length,
      chunks: chunks - (sizes.at(-1)?.chunks ?? 0),
      seconds: round(done.doneMs / 1000, 1),
      chunksPerSecond: Math.round((chunks - (sizes.at(-1)?.chunks ?? 0)) / (done.doneMs / 1000)),
      cpuSeconds: round((used.user + used.system) / 1e6, 1),
    });
    const stats = await system.store.stats();
    const healthz = await httpFloor(system.apiUrl, QUERIES);
    const modes = await measureAt(node, stats.chunks, queries);
    note(`${stats.chunks} chunks: ${CLIENTS} concurrent clients`);
    const concurrent = await concurrentClients(system.apiUrl, queries);
    note(`${stats.chunks} chunks, ${CLIENTS} clients: ${concurrent.queriesPerSecond} queries/s, p99 ${concurrent.latencyMs.p99} ms`);
    const separate = await separateClient(system.apiUrl, queries, separateQueries);
    note(`${stats.chunks} chunks, client in its own process: hybrid p50 ${separate.hybridMs.p50} / p99 ${separate.hybridMs.p99} ms; ${CLIENTS} clients ${separate.concurrent.queriesPerSecond} queries/s, p99 ${separate.concurrent.latencyMs.p99} ms`);
    sizes.push({ chunks: stats.chunks, documents: stats.documents, vectors: stats.vectors, healthzMs: healthz, modes, concurrent, separate, memory: await memoryOf(system.store) });
  }

  // A real deployment embeds every vector or hybrid query with its model: the offline model's cost per query, alone.
  const offline = createEmbeddingProvider('offline');
  let offlineEmbed: Summary;
  let hashEmbed: Summary;
  try {
    await Promise.all([offline.embed(['warm up']), offline.embed(['warm up too'])]);
    const times: number[] = [];
    const hashTimes: number[] = [];
    for (const [i, q] of queries.entries()) {
      const t = await measured(() => offline.embed([q]));
      const h = await measured(() => system.provider.embed([q]));
      if (i < WARMUP) continue;
      times.push(t.ms);
      hashTimes.push(h.ms);
    }
    offlineEmbed = summarize(times);
    hashEmbed = summarize(hashTimes, 3);
  } finally {
    await offline.close();
  }
  // Read before stopping: a stopped node serves no generation.
  const providerInfo = { id: system.provider.info.id, dims: system.provider.info.dims };
  const vectorWeight = system.vectorWeight;
  await node.stop();
  await nats.stop();

  const figures = {
    setup: {
      loading: 'real pipeline: publishDocument → chunker → hash embedder → projector → SQLite (worker-hosted store), one tenant',
      vectors: `${providerInfo.id} (${providerInfo.dims} dimensions)`,
      concurrent: `${CLIENTS} clients × ${CLIENT_QUERIES} hybrid queries, each client on its own kept-alive connection`,
      hybridVectorWeight: vectorWeight,
      k: K,
      queries: QUERIES,
      warmup: WARMUP,
      queryTexts: 'English-like keyword strings and questions about the corpus topics, some naming a rare proper noun (bench/lib/prose.ts)',
      http: 'sequential fetch on a kept-alive connection, client and server in this process (both share the 2 cores); the API also publishes query.received/answered to QUERIES after answering; healthzMs = GET /healthz round trips, the floor of any request',
      separate: `bench/lib/query-client.mjs in a child process (plain Node): ${SEPARATE_QUERIES} hybrid queries back to back after ${WARMUP} warm-up ones (the first ${QUERIES} are the queries above), then ${CLIENTS} clients × ${CLIENT_QUERIES} at once`,
    },
    loads,
    sizes,
    queryEmbedding: {
      offlineMs: offlineEmbed,
      hashMs: hashEmbed,
      note: 'one query at a time through createEmbeddingProvider(...).embed, workers started beforehand; the API pays this on every vector and hybrid query',
    },
    totalSeconds: round((performance.now() - started) / 1000, 1),
  };
  const written = await writeResult('query', startLoad, figures);

  console.log(`\nQuery latency, ms (p50 / p99), k=${K}, ${QUERIES} sequential queries per mode, ${figures.setup.vectors}\n`);
  const rows: string[][] = [];
  for (const s of sizes) {
    for (const mode of MODES) {
      const m = s.modes[mode] as ModeFigures;
      rows.push([
        `${s.chunks.toLocaleString('en')} ${mode}`,
        `${m.httpMs.p50} / ${m.httpMs.p99}`,
        `${m.serverTookMs.p50} / ${m.serverTookMs.p99}`,
        `${m.storeMs.p50} / ${m.storeMs.p99}`,
        `${round(m.httpMs.p50 - m.storeMs.p50)}`,
      ]);
    }
  }
  console.log(table(['chunks, mode', 'HTTP', 'server took_ms', 'store.search', 'HTTP − store p50'], rows));
  for (const s of sizes) console.log(`${s.chunks} chunks, client in its own process: hybrid p50 ${s.separate.hybridMs.p50} / p99 ${s.separate.hybridMs.p99} ms; ${CLIENTS} clients ${s.separate.concurrent.queriesPerSecond} queries/s, p50 ${s.separate.concurrent.latencyMs.p50} / p99 ${s.separate.concurrent.latencyMs.p99} ms`);
  for (const s of sizes) console.log(`${s.chunks} chunks, ${CLIENTS} clients: ${s.concurrent.queriesPerSecond} hybrid queries/s, p50 ${s.concurrent.latencyMs.p50} ms, p99 ${s.concurrent.latencyMs.p99} ms; memory ${JSON.stringify(s.memory)}`);
  console.log(`GET /healthz round trip p50: ${sizes.map((s) => `${s.healthzMs.p50} ms at ${s.chunks} chunks`).join(', ')}`);
  console.log(`\nquery embedding, offline model: p50 ${offlineEmbed.p50} ms, p99 ${offlineEmbed.p99} ms (hash: p50 ${hashEmbed.p50} ms)`);
  console.log(`loading: ${loads.map((l) => `${l.chunks} chunks in ${l.seconds} s (${l.chunksPerSecond}/s)`).join('; ')}`);
  console.log(`\nwritten to ${written} in ${figures.totalSeconds} s`);
});
