// Benchmark of the worker-hosted SQLite inference store: apply rate, open time (matrix rebuild) and search latency.
// Run: npm run bench:store   (writes bench/results/store.json; prints figures, never passes or fails)
import { mkdtemp, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore, WorkerInferenceStore } from '../projections/stores/sqlite/index.ts';
import type { InferenceStore, SearchFilter, SearchQuery, StoreOp } from '../projections/store.ts';
import { prng } from '../lib/prng.ts';
import { search } from '../projections/search.ts';

const MODEL = { id: 'bench-512', dims: 512 } as const;
// BENCH_SIZES=10000 for a quick look.
const SIZES = (process.env.BENCH_SIZES ?? '10000,100000').split(',').map(Number);
const CHUNKS_PER_DOC = 10;
const BATCH_CHUNKS = 500;
const TENANTS = ['acme', 'globex'];
const SOURCES = ['blog', 'docs', 'news'];
const LANGS = ['en', 'de', 'fr'];
const QUERIES = 200;
const WARMUP = 10;
const K = 10;

const random = prng(42);

// A vocabulary of pronounceable words with Zipf-distributed frequencies, like natural text.
const VOCABULARY_SIZE = 20_000;
const SYLLABLES = 'ka lo mi ne su ta ri po de la vu ben tor sil mar gen pol cas ter ven dor lum fra qui zen ost'.split(' ');
const vocabulary: string[] = [];
{
  const seen = new Set<string>();
  while (vocabulary.length < VOCABULARY_SIZE) {
    const n = 1 + Math.floor(random() * 4);
    let w = '';
    for (let i = 0; i < n; i++) w += SYLLABLES[Math.floor(random() * SYLLABLES.length)];
    if (!seen.has(w)) {
      seen.add(w);
      vocabulary.push(w);
    }
  }
}
const zipfCdf = new Float64Array(VOCABULARY_SIZE);
{
  let sum = 0;
  for (let r = 0; r < VOCABULARY_SIZE; r++) zipfCdf[r] = sum += 1 / (r + 1) ** 1.07;
  for (let r = 0; r < VOCABULARY_SIZE; r++) zipfCdf[r] = (zipfCdf[r] as number) / sum;
}
function word(): string {
  const u = random();
  let lo = 0;
  let hi = VOCABULARY_SIZE - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((zipfCdf[mid] as number) < u) lo = mid + 1;
    else hi = mid;
  }
  return vocabulary[lo] as string;
}
function sentence(words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(word());
  const s = out.join(' ');
  return `${s.charAt(0).toUpperCase()}${s.slice(1)}.`;
}

function unitVector(): Float32Array {
  const v = new Float32Array(MODEL.dims);
  let norm = 0;
  for (let i = 0; i < v.length; i++) {
    // Sum of uniforms: cheap, roughly Gaussian, so directions are spread over the sphere.
    const x = random() + random() + random() - 1.5;
    v[i] = x;
    norm += x * x;
  }
  const scale = 1 / Math.sqrt(norm);
  for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) * scale;
  return v;
}

/** The ops of documents [first, first + count): one chunks op and one vectors op per document. */
function documentOps(first: number, count: number): StoreOp[] {
  const ops: StoreOp[] = [];
  for (let d = first; d < first + count; d++) {
    const docSeq = d + 1;
    const ref = { tenant: TENANTS[d % TENANTS.length] as string, source: SOURCES[d % SOURCES.length] as string, docId: `doc-${d}`, docSeq };
    const chunks = Array.from({ length: CHUNKS_PER_DOC }, (_, ordinal) => {
      const text = Array.from({ length: 6 }, () => sentence(12 + Math.floor(random() * 12))).join(' ');
      return { chunkId: `${docSeq}:${ordinal}`, ordinal, text, start: ordinal * 800, end: ordinal * 800 + text.length, tokens: Math.round(text.length / 4), heading: sentence(3) };
    });
    ops.push({
      ...ref,
      kind: 'chunks',
      title: sentence(5),
      url: `https://example.com/${ref.source}/${d}`,
      metadata: { lang: LANGS[d % LANGS.length] as string, tags: [word(), word()], year: 2015 + (d % 10) },
      part: { index: 0, count: 1 },
      totalChunks: CHUNKS_PER_DOC,
      chunks,
    });
    ops.push({ ...ref, kind: 'vectors', model: MODEL.id, vectors: chunks.map((c) => ({ chunkId: c.chunkId, window: 0, vector: unitVector() })) });
  }
  return ops;
}

function keywordText(): string {
  // Mid-frequency words, the kind a user types: not the commonest (stopword-like) nor hapaxes.
  const n = 2 + Math.floor(random() * 3);
  return Array.from({ length: n }, () => vocabulary[50 + Math.floor(random() * 5000)]).join(' ');
}

function commonText(): string {
  // Topical queries: words among the 200 commonest, each in a large share of the chunks (thousands of matches to rank).
  const n = 2 + Math.floor(random() * 3);
  return Array.from({ length: n }, () => vocabulary[5 + Math.floor(random() * 200)]).join(' ');
}

interface Latency {
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  readonly hits: number;
}

async function measure(store: InferenceStore, make: () => SearchQuery): Promise<Latency> {
  for (let i = 0; i < WARMUP; i++) await search(store, make());
  const times: number[] = [];
  let hits = 0;
  const began = performance.now();
  for (let i = 0; i < QUERIES; i++) {
    const q = make();
    const t = performance.now();
    const result = await search(store, q);
    times.push(performance.now() - t);
    hits += result.length;
  }
  console.error(`    ${make().mode}${make().filter ? '+filter' : ''}: ${Math.round(performance.now() - began)} ms for ${QUERIES}`);
  times.sort((a, b) => a - b);
  const at = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))] as number;
  const round = (x: number) => Math.round(x * 100) / 100;
  return { p50: round(at(0.5)), p99: round(at(0.99)), mean: round(times.reduce((a, b) => a + b, 0) / times.length), hits: round(hits / QUERIES) };
}

async function run(chunks: number) {
  const dir = await mkdtemp(join(tmpdir(), 'spanda-store-bench-'));
  const path = join(dir, 'inference.db');
  try {
    const docs = chunks / CHUNKS_PER_DOC;
    const docsPerBatch = BATCH_CHUNKS / CHUNKS_PER_DOC;
    let store = await openSqliteStore({ path, model: MODEL });
    let applyMs = 0;
    for (let first = 0, seq = 0; first < docs; first += docsPerBatch) {
      const ops = documentOps(first, Math.min(docsPerBatch, docs - first));
      seq += ops.length;
      const t = performance.now();
      await store.apply({ ops, checkpoints: { CHUNKS: seq, [`EMBEDDINGS:${MODEL.id}`]: seq } });
      applyMs += performance.now() - t;
    }
    const stats = await store.stats();
    await store.close();

    const t = performance.now();
    store = await openSqliteStore({ path, model: MODEL });
    const openMs = performance.now() - t;
    const tenant = () => TENANTS[Math.floor(random() * TENANTS.length)] as string;
    const base = (mode: SearchQuery['mode'], filter?: SearchFilter, common = false): SearchQuery => ({
      tenant: tenant(),
      mode,
      k: K,
      text: mode === 'vector' ? '' : common ? commonText() : keywordText(),
      ...(mode === 'keyword' ? {} : { vector: unitVector() }),
      vectorWeight: 0.3,
      ...(filter ? { filter } : {}),
    });
    const lang: SearchFilter = { metadata: { lang: 'de' } };
    // The same documents allowed, under a filter never asked before (a store that remembered answers could not use them).
    let fresh = 0;
    const newLang = (): SearchFilter => ({ metadata: { lang: ['de', `none-${fresh++}`] } });
    // The keyword index loads after open, between requests; a keyword query meanwhile ends the load first. Asked at
    // once after open: what the first keyword query waits, the load's remaining work.
    let firstKeywordQueryMs = 0;
    let keywordsLoadedMs = openMs;
    if (store instanceof WorkerInferenceStore && (await store.memory()).keywordsLoading) {
      const started = performance.now();
      await search(store, base('keyword', undefined, true));
      firstKeywordQueryMs = performance.now() - started;
      keywordsLoadedMs = performance.now() - t;
    }
    const rssMB = Math.round(process.memoryUsage().rss / 1e6);
    const memory = store instanceof WorkerInferenceStore ? await store.memory() : undefined;
    console.error(`  applied ${chunks} chunks in ${Math.round(applyMs / 1000)} s, opened in ${Math.round(openMs)} ms, keyword index loaded after ${Math.round(keywordsLoadedMs)} ms (the first keyword query waited ${Math.round(firstKeywordQueryMs)} ms)`);
    const keyword = await measure(store, () => base('keyword'));
    const hybrid = await measure(store, () => base('hybrid'));
    const keywordFilter = await measure(store, () => base('keyword', lang));
    const keywordCommon = await measure(store, () => base('keyword', undefined, true));
    const hybridCommon = await measure(store, () => base('hybrid', undefined, true));
    const latencies = {
      keyword,
      'keyword common words': keywordCommon,
      vector: await measure(store, () => base('vector')),
      hybrid,
      'hybrid common words': hybridCommon,
      'keyword+filter': keywordFilter,
      'vector+filter': await measure(store, () => base('vector', lang)),
      'hybrid+filter': await measure(store, () => base('hybrid', lang)),
      'vector+filter, new filter each query': await measure(store, () => base('vector', newLang())),
      'hybrid+filter, new filter each query': await measure(store, () => base('hybrid', newLang())),
    };
    await store.close();
    const fileBytes = (await stat(path)).size + (await stat(`${path}-wal`).then((s) => s.size).catch(() => 0));
    return {
      chunks,
      documents: stats.documents,
      tenants: stats.tenants,
      chunksPerTenant: Math.round(chunks / TENANTS.length),
      dims: MODEL.dims,
      batchChunks: BATCH_CHUNKS,
      applyChunksPerSecond: Math.round(chunks / (applyMs / 1000)),
      applySeconds: Math.round(applyMs) / 1000,
      openMs: Math.round(openMs),
      keywordIndexLoadedMs: Math.round(keywordsLoadedMs),
      firstKeywordQueryMs: Math.round(firstKeywordQueryMs),
      rssAfterOpenMB: rssMB,
      ...(memory
        ? { vectorIndexMB: Math.round(memory.vectorBytes / 1e5) / 10, keywordIndexMB: Math.round(memory.keywordBytes / 1e5) / 10, storeWorkerHeapMB: Math.round(memory.heapUsedBytes / 1e5) / 10 }
        : {}),
      fileMB: Math.round(fileBytes / 1e5) / 10,
      k: K,
      queries: QUERIES,
      search: latencies,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const started = performance.now();
const loadNow = () => loadavg().map((l) => Math.round(l * 100) / 100);
const startLoad = loadNow();
// Worker start-up alone (thread + TypeScript loader), to read the open times against.
const emptyDir = await mkdtemp(join(tmpdir(), 'spanda-store-bench-'));
let t = performance.now();
await (await openSqliteStore({ path: join(emptyDir, 'empty.db'), model: MODEL })).close();
const emptyOpenMs = Math.round(performance.now() - t);
await rm(emptyDir, { recursive: true, force: true });

const runs: Awaited<ReturnType<typeof run>>[] = [];
for (const size of SIZES) {
  t = performance.now();
  runs.push(await run(size));
  console.error(`  ${size} chunks done in ${Math.round((performance.now() - t) / 1000)} s`);
}

const result = {
  benchmark: 'store',
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${process.platform}-${process.arch}` },
  date: new Date().toISOString(),
  load: { start: startLoad, end: loadNow() },
  notes:
    'worker-hosted store (openSqliteStore default); latency includes the message round trip; k=10, hybrid vectorWeight 0.3; filter = metadata lang (1/3 of documents), the same one every query or, in the "new filter" rows, one never asked before (the same documents allowed)',
  emptyOpenMs,
  runs,
};
await mkdir(new URL('./results/', import.meta.url), { recursive: true });
await writeFile(new URL('./results/store.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`);

const ms = (l: Latency) => `${l.p50.toFixed(1)} / ${l.p99.toFixed(1)}`;
console.log(`\nSQLite inference store, worker-hosted — ${result.machine.cpus} × ${result.machine.cpuModel}, Node ${result.machine.node}`);
console.log(`empty store open (worker start): ${emptyOpenMs} ms; search latency p50 / p99 in ms, k=${K}, ${QUERIES} queries each\n`);
const rows = [
  ['chunks', ...runs.map((r) => r.chunks.toLocaleString('en'))],
  ['apply (chunks/s, 500/batch)', ...runs.map((r) => r.applyChunksPerSecond.toLocaleString('en'))],
  ['open incl. matrix rebuild (ms)', ...runs.map((r) => String(r.openMs))],
  ['keyword index loaded, from open (ms)', ...runs.map((r) => String(r.keywordIndexLoadedMs))],
  ['first keyword query after open, ending the load (ms)', ...runs.map((r) => String(r.firstKeywordQueryMs))],
  ['file size (MB)', ...runs.map((r) => String(r.fileMB))],
  ['RSS after open (MB)', ...runs.map((r) => String(r.rssAfterOpenMB))],
  ['vector matrix / keyword index / worker heap (MB)', ...runs.map((r) => `${r.vectorIndexMB ?? '?'} / ${r.keywordIndexMB ?? '?'} / ${r.storeWorkerHeapMB ?? '?'}`)],
  ...(['keyword', 'keyword common words', 'vector', 'hybrid', 'hybrid common words', 'keyword+filter', 'vector+filter', 'hybrid+filter', 'vector+filter, new filter each query', 'hybrid+filter, new filter each query'] as const).map((mode) => [
    mode,
    ...runs.map((r) => ms(r.search[mode])),
  ]),
];
const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
for (const row of rows) console.log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('   '));
console.log(`\ntotal ${Math.round((performance.now() - started) / 1000)} s; written to bench/results/store.json`);
