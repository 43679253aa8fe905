// End-to-end pipeline throughput (publish → chunk → embed → project) against raw JetStream, the offline model in and out of the pipeline, time to queryable.
// Run: npm run bench:pipeline   (writes bench/results/pipeline.json; prints figures, never passes or fails)
//
// Everything runs on private nats-servers (free port, temp dir) with a whole node in this process. The machine is
// shared, so rates are reported as ratios to baselines measured in the same run on the same server: raw JetStream
// publish/consume for the hash pipeline, the bare offline embedder pool for the offline pipeline.
import { chunkText, DEFAULT_CHUNKER } from '../processors/chunker/chunk.ts';
import { normalizeText } from '../processors/chunker/normalize.ts';
import { createEmbeddingProvider } from '../processors/embedder/models.ts';
import type { EmbeddingProvider } from '../processors/embedder/provider.ts';
import { documentInputSchema, publishDocument, type ValidDocumentInput } from '../streams/document-log.ts';
import { mapLimit } from '../streams/publisher.ts';
import { loadAverage, measured, note, round, runBenchmark, sleep, summarize, table, writeResult, type Summary } from './lib/common.ts';
import { jetstreamBaseline, processCpuMs, streamSizes, type Baseline } from './lib/jetstream.ts';
import { processorDeliveries, startNode, startPrivateNats, waitForIndex, type BenchNode, type Deliveries, type IndexTarget } from './lib/node.ts';
import { proseCorpus, proseDocument } from './lib/prose.ts';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
/** Documents pushed through the hash pipeline (BENCH_PIPELINE_DOCS to change). */
const HASH_DOCS = env('BENCH_PIPELINE_DOCS', 2000);
/** Documents through each fresh node before the measured batch (BENCH_PIPELINE_WARMUP_DOCS). */
const WARMUP_DOCS = env('BENCH_PIPELINE_WARMUP_DOCS', 3000);
/** Documents pushed through the offline pipeline: the model embeds ~30 windows/s on 2 cores. */
const OFFLINE_DOCS = env('BENCH_PIPELINE_OFFLINE_DOCS', 150);
const TTQ_DOCS = env('BENCH_PIPELINE_TTQ_DOCS', 20);
/** Hash pipeline rounds, each on a fresh server and node between two JetStream baselines. */
const ROUNDS = env('BENCH_PIPELINE_ROUNDS', 3);
/** Offline pipeline rounds, each between two runs of the bare pool. */
const OFFLINE_ROUNDS = env('BENCH_PIPELINE_OFFLINE_ROUNDS', 2);
/** The baseline publishes and consumes the documents' payloads this many times over (a longer, steadier measurement). */
const BASELINE_REPEAT = 3;
const MIN_BYTES = 1000;
const MAX_BYTES = 4000;
/** Publishes in flight, as POST /v1/documents uses for a batch. */
const CONCURRENCY = 64;
const TENANT = 'default';
/** Time-to-queryable: idle time before each document and the interval of the polling queries. */
const TTQ_IDLE_MS = 500;
const TTQ_POLL_MS = 5;

function toInput(d: { id: string; title: string; text: string; topic: string; year: number }, source: string): ValidDocumentInput {
  return documentInputSchema.parse({ id: d.id, source, title: d.title, text: d.text, contentType: 'text/plain', metadata: { topic: d.topic, year: d.year } });
}

/** The bytes of a document.upserted payload for this input (the baseline publishes the same sizes). */
function payloadOf(doc: ValidDocumentInput): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ tenant: TENANT, ...doc, contentHash: `sha256:${'0'.repeat(64)}` }));
}

/** What the store must hold once the pipeline is done, computed with the same chunker settings and the model's windowing. */
function expectedIndex(docs: readonly ValidDocumentInput[], provider: EmbeddingProvider): IndexTarget & { windowTexts: string[] } {
  let chunks = 0;
  const windowTexts: string[] = [];
  for (const doc of docs) {
    for (const chunk of chunkText(normalizeText(doc.text, doc.contentType), DEFAULT_CHUNKER)) {
      chunks += 1;
      windowTexts.push(...provider.windows(chunk.text).filter((w) => w.trim().length > 0));
    }
  }
  return { documents: docs.length, chunks, vectors: windowTexts.length, windowTexts };
}

/** One timed pass of documents through a node; bench/report.ts reads these from bench/results/pipeline.json. */
export interface PipelineRun {
  readonly documents: number;
  readonly chunks: number;
  readonly vectors: number;
  readonly bytes: number;
  readonly publishSeconds: number;
  readonly publishDocsPerSecond: number;
  readonly chunksAppliedSeconds: number;
  readonly seconds: number;
  readonly docsPerSecond: number;
  readonly chunksPerSecond: number;
  readonly vectorsPerSecond: number;
  readonly cpuMsPerDocument: { readonly node: number; readonly natsServer: number | null };
  /** Redeliveries mean inputs handled twice: a rate with any is not the pipeline's clean rate. */
  readonly deliveries: Record<string, Deliveries>;
  readonly load: { readonly start: readonly number[]; readonly end: readonly number[] };
}

async function pipelineRun(
  node: BenchNode,
  natsPid: number,
  docs: readonly ValidDocumentInput[],
  target: IndexTarget,
  label: string,
  trace?: Array<[number, number]>,
  /** What the store already holds (a warm-up pass before this one). */
  held: IndexTarget = { documents: 0, chunks: 0, vectors: 0 },
): Promise<PipelineRun> {
  const startLoad = loadAverage();
  const natsCpu = processCpuMs(natsPid);
  const cpu = process.cpuUsage();
  const since = performance.now();
  await mapLimit(docs, CONCURRENCY, (doc) => publishDocument(node.system.nats, TENANT, doc, { producer: '/bench/pipeline' }));
  const publishMs = performance.now() - since;
  const total = { documents: held.documents + target.documents, chunks: held.chunks + target.chunks, vectors: held.vectors + target.vectors };
  const done = await waitForIndex(node.system, total, since, { pollMs: 50, progressEveryMs: 20_000, label, ...(trace ? { trace } : {}) });
  const used = process.cpuUsage(cpu);
  const natsUsed = natsCpu !== undefined ? (processCpuMs(natsPid) ?? natsCpu) - natsCpu : undefined;
  const seconds = done.doneMs / 1000;
  const deliveries = await processorDeliveries(node.system.nats);
  return {
    documents: docs.length,
    chunks: target.chunks,
    vectors: target.vectors,
    bytes: docs.reduce((sum, d) => sum + Buffer.byteLength(d.text), 0),
    publishSeconds: round(publishMs / 1000, 3),
    publishDocsPerSecond: Math.round(docs.length / (publishMs / 1000)),
    chunksAppliedSeconds: round(done.chunksAppliedMs / 1000, 3),
    seconds: round(seconds, 3),
    docsPerSecond: round(docs.length / seconds, 1),
    chunksPerSecond: round(target.chunks / seconds, 1),
    vectorsPerSecond: round(target.vectors / seconds, 1),
    cpuMsPerDocument: {
      node: round((used.user + used.system) / 1000 / docs.length, 2),
      natsServer: natsUsed !== undefined ? round(natsUsed / docs.length, 2) : null,
    },
    deliveries,
    load: { start: startLoad, end: loadAverage() },
  };
}

async function postJson(url: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, json: await response.json() };
}

interface TimeToQueryable {
  readonly documents: number;
  readonly pollMs: number;
  /** POST /v1/documents until its 202. */
  readonly publishAckMs: Summary;
  /** From the 202 until POST /v1/query (keyword) returns the document. */
  readonly keywordVisibleMs: Summary;
  /** From the 202 until GET /v1/documents shows its vectors applied (vector and hybrid search find it). */
  readonly vectorsAppliedMs: Summary;
}

/** Publishes single documents one at a time into an idle node and polls the API until each is searchable. */
async function timeToQueryable(apiUrl: string, label: string, count: number): Promise<TimeToQueryable> {
  const ack: number[] = [];
  const keyword: number[] = [];
  const vectors: number[] = [];
  for (let i = 0; i < count; i++) {
    await sleep(TTQ_IDLE_MS);
    const marker = `ttqmarker${label}${i}x`;
    const d = proseDocument(900_000 + i, 1500, `ttq-${label}-${i}`);
    const started = performance.now();
    const published = await postJson(`${apiUrl}/v1/documents`, { id: d.id, source: 'ttq', title: d.title, text: `${d.text}\n\nCatalogue ${marker}.`, contentType: 'text/plain' });
    const acked = performance.now();
    if (published.status !== 202) throw new Error(`POST /v1/documents answered ${published.status}: ${JSON.stringify(published.json)}`);
    ack.push(acked - started);
    for (;;) {
      const q = await postJson(`${apiUrl}/v1/query`, { query: marker, mode: 'keyword', k: 5 });
      const results = (q.json as { results?: Array<{ docId: string }> }).results ?? [];
      if (results.some((r) => r.docId === d.id)) break;
      if (performance.now() - acked > 60_000) throw new Error(`${d.id} was not searchable within 60 s`);
      await sleep(TTQ_POLL_MS);
    }
    keyword.push(performance.now() - acked);
    for (;;) {
      const response = await fetch(`${apiUrl}/v1/documents/ttq/${encodeURIComponent(d.id)}`);
      const state = (await response.json()) as { vectors?: number };
      if (response.status === 200 && (state.vectors ?? 0) > 0) break;
      if (performance.now() - acked > 120_000) throw new Error(`${d.id} had no vectors within 120 s`);
      await sleep(TTQ_POLL_MS);
    }
    vectors.push(performance.now() - acked);
  }
  return { documents: count, pollMs: TTQ_POLL_MS, publishAckMs: summarize(ack, 1), keywordVisibleMs: summarize(keyword, 1), vectorsAppliedMs: summarize(vectors, 1) };
}

interface BarePool {
  readonly windows: number;
  readonly seconds: number;
  readonly windowsPerSecond: number;
  readonly cpuMsPerWindow: number;
  readonly startMs: number;
}

/** The offline pool alone (createEmbeddingProvider('offline').embed) on the pipeline's window texts, workers started first. */
async function barePool(texts: readonly string[]): Promise<BarePool> {
  const provider = createEmbeddingProvider('offline');
  try {
    const start = await measured(() => Promise.all([provider.embed(['warm up']), provider.embed(['warm up too'])]));
    const run = await measured(() => provider.embed(texts));
    return {
      windows: texts.length,
      seconds: round(run.ms / 1000, 2),
      windowsPerSecond: round(texts.length / (run.ms / 1000), 1),
      cpuMsPerWindow: round(run.cpuMs / texts.length, 1),
      startMs: Math.round(start.ms),
    };
  } finally {
    await provider.close();
  }
}

const mean2 = (a: number, b: number) => (a + b) / 2;

interface HashRound {
  readonly round: number;
  readonly before: Baseline;
  readonly after: Baseline;
  /** The warm-up batch through the fresh node (its threads still compiling). */
  readonly cold: PipelineRun;
  readonly run: PipelineRun;
  readonly baseline: { readonly publishPerSecond: number; readonly consumePerSecond: number; readonly ceilingDocsPerSecond: number };
  /** publishDocument into the same server with no node consuming. */
  readonly publishAloneDocsPerSecond: number;
  readonly ratios: {
    readonly publishAloneVsJetStreamPublish: number;
    readonly publishVsJetStreamPublish: number;
    readonly docsVsJetStreamConsume: number;
    readonly docsVsJetStreamCeiling: number;
  };
}

await runBenchmark('pipeline', async () => {
  const startLoad = loadAverage();
  const started = performance.now();

  // Hash embedder: the pipeline's own cost (JetStream hops, decoding, chunking, SQLite), the model being nearly free.
  // Rounds on fresh servers and nodes, each between two baselines; the round with the median ratio is the headline.
  const hashDocs = proseCorpus(HASH_DOCS, MIN_BYTES, MAX_BYTES, 1, 'doc').map((d) => toInput(d, 'bench'));
  const hashTarget = expectedIndex(hashDocs, createEmbeddingProvider('hash'));
  const warmDocs = proseCorpus(WARMUP_DOCS, MIN_BYTES, MAX_BYTES, 3, 'warm').map((d) => toInput(d, 'bench'));
  const warmTarget = expectedIndex(warmDocs, createEmbeddingProvider('hash'));
  const payloads = Array.from({ length: BASELINE_REPEAT }, () => hashDocs.map(payloadOf)).flat();
  const rounds: HashRound[] = [];
  let ttqHash: TimeToQueryable | undefined;
  let sizes: Awaited<ReturnType<typeof streamSizes>> = {};
  for (let r = 1; r <= ROUNDS; r++) {
    const nats = await startPrivateNats();
    note(`hash round ${r}: ${hashDocs.length} documents, ${hashTarget.chunks} chunks; JetStream baseline first`);
    // A fresh server and client run their first thousands of messages much slower (JIT, store files): warm both first.
    await jetstreamBaseline(nats.handle, payloads.slice(0, 500), `warmup${r}`, CONCURRENCY);
    const before = await jetstreamBaseline(nats.handle, payloads, `before${r}`, CONCURRENCY);
    const node = await startNode(nats.url, { SPANDA_EMBEDDER: 'hash' });
    // The node's threads compile their hot code during the first thousands of documents (measured: the second batch of
    // 3,000 through a fresh node ran 1.3-1.4x faster than the first, the third faster again): a warm-up batch of other
    // documents goes through first, so the measured batch is the rate a running node sustains, as the JetStream
    // baseline (warmed above) is. The warm-up batch's own rate is kept as the fresh node's figure.
    const cold = await pipelineRun(node, nats.server.pid, warmDocs, warmTarget, `hash warm-up round ${r}`);
    note(`hash round ${r}: warm-up ${cold.docsPerSecond} documents/s on the fresh node; now the measured batch`);
    const run = await pipelineRun(node, nats.server.pid, hashDocs, hashTarget, `hash pipeline round ${r}`, undefined, warmTarget);
    note(`hash round ${r}: ${run.docsPerSecond} documents/s; JetStream baseline again, then publishDocument alone`);
    const after = await jetstreamBaseline(nats.handle, payloads, `after${r}`, CONCURRENCY);
    if (r === 1) {
      sizes = await streamSizes(nats.handle, ['DOCUMENTS', 'CHUNKS', 'EMBEDDINGS']);
      await sleep(1000);
      ttqHash = await timeToQueryable(node.system.apiUrl, 'hash', TTQ_DOCS);
    }
    await node.stop();
    // publishDocument with nothing consuming: the publish path's own cost, next to raw publishing of the same bytes.
    const solo = hashDocs.map((d) => ({ ...d, id: `solo-${d.id}` }));
    const soloStarted = performance.now();
    await mapLimit(solo, CONCURRENCY, (doc) => publishDocument(nats.handle, TENANT, doc, { producer: '/bench/pipeline' }));
    const publishAloneDocsPerSecond = Math.round(solo.length / ((performance.now() - soloStarted) / 1000));
    await nats.stop();
    const publishPerSecond = mean2(before.publish.perSecond, after.publish.perSecond);
    const consumePerSecond = mean2(before.consume.perSecond, after.consume.perSecond);
    // Each document costs at least 3 acked publishes (DOCUMENTS, CHUNKS, EMBEDDINGS) and 4 consumed messages (chunker,
    // embedder, and the projector's two sources): the rate JetStream alone would allow if those costs simply added up.
    const ceilingDocsPerSecond = 1 / (3 / publishPerSecond + 4 / consumePerSecond);
    rounds.push({
      round: r,
      before,
      after,
      cold,
      run,
      baseline: { publishPerSecond: Math.round(publishPerSecond), consumePerSecond: Math.round(consumePerSecond), ceilingDocsPerSecond: Math.round(ceilingDocsPerSecond) },
      publishAloneDocsPerSecond,
      ratios: {
        publishAloneVsJetStreamPublish: round(publishAloneDocsPerSecond / publishPerSecond, 3),
        publishVsJetStreamPublish: round(run.publishDocsPerSecond / publishPerSecond, 3),
        docsVsJetStreamConsume: round(run.docsPerSecond / consumePerSecond, 3),
        docsVsJetStreamCeiling: round(run.docsPerSecond / ceilingDocsPerSecond, 3),
      },
    });
  }
  const byRatio = [...rounds].sort((a, b) => a.ratios.docsVsJetStreamConsume - b.ratios.docsVsJetStreamConsume);
  const median = byRatio[Math.floor(byRatio.length / 2)] as HashRound;
  const { before, after, run: hash } = median;
  const publishBaseline = median.baseline.publishPerSecond;
  const consumeBaseline = median.baseline.consumePerSecond;
  const jetstreamCeiling = median.baseline.ceilingDocsPerSecond;
  if (!ttqHash) throw new Error('no hash round ran');

  // Offline embedder: the same pipeline, the model now the bottleneck; compared with the bare pool on the same windows.
  const offlineDocs = proseCorpus(OFFLINE_DOCS, MIN_BYTES, MAX_BYTES, 2, 'odoc').map((d) => toInput(d, 'bench'));
  const windowsOf = createEmbeddingProvider('offline');
  const offlineTarget = expectedIndex(offlineDocs, windowsOf);
  await windowsOf.close();
  note(`offline: ${offlineDocs.length} documents, ${offlineTarget.chunks} chunks, ${offlineTarget.vectors} windows; bare pool first`);
  // Bare pool, pipeline, bare pool, pipeline, bare pool: each pipeline round is compared with the pool runs on either side.
  const bare: BarePool[] = [await barePool(offlineTarget.windowTexts)];
  const offlineRounds: Array<PipelineRun & { readonly windowsVsBarePool: number; readonly trace: Array<[number, number]> }> = [];
  let ttqOffline: TimeToQueryable | undefined;
  for (let r = 1; r <= OFFLINE_ROUNDS; r++) {
    const natsOffline = await startPrivateNats();
    const node = await startNode(natsOffline.url, { SPANDA_EMBEDDER: 'offline' });
    await Promise.all([node.system.provider.embed(['warm up']), node.system.provider.embed(['warm up too'])]);
    const trace: Array<[number, number]> = [];
    const run = await pipelineRun(node, natsOffline.server.pid, offlineDocs, offlineTarget, `offline pipeline round ${r}`, trace);
    if (r === 1) {
      await sleep(1000);
      ttqOffline = await timeToQueryable(node.system.apiUrl, 'offline', TTQ_DOCS);
    }
    await node.stop();
    await natsOffline.stop();
    note(`offline pipeline round ${r}: ${run.vectorsPerSecond} windows/s; bare pool again`);
    bare.push(await barePool(offlineTarget.windowTexts));
    const around = mean2((bare[r - 1] as BarePool).windowsPerSecond, (bare[r] as BarePool).windowsPerSecond);
    offlineRounds.push({ ...run, windowsVsBarePool: round(run.vectorsPerSecond / around, 3), trace });
  }
  if (!ttqOffline) throw new Error('no offline round ran');
  const offlineMedian = [...offlineRounds].sort((a, b) => a.windowsVsBarePool - b.windowsVsBarePool)[Math.floor((offlineRounds.length - 1) / 2)] as (typeof offlineRounds)[number];
  const { trace: _trace, windowsVsBarePool: _ratio, ...offline } = offlineMedian;
  const bareRate = bare.reduce((sum, b) => sum + b.windowsPerSecond, 0) / bare.length;

  const perDoc = (name: string) => {
    const s = sizes[name];
    // Read after round 1's measured batch: the stream holds the warm-up batch too.
    return s ? { messages: s.messages, bytes: s.bytes, bytesPerDocument: Math.round(s.bytes / (warmDocs.length + hashDocs.length)) } : null;
  };
  const figures = {
    settings: {
      documentBytes: [MIN_BYTES, MAX_BYTES],
      concurrency: CONCURRENCY,
      chunker: { size: DEFAULT_CHUNKER.size, overlap: DEFAULT_CHUNKER.overlap },
      tenant: TENANT,
      note: 'deterministic English-like prose (bench/lib/prose.ts); a private nats-server per phase; node in this process (API, chunker, embedder, projector, SQLite store worker)',
    },
    jetstreamBaseline: {
      payloads: 'the same documents as JSON payloads, CloudEvents-sized headers and a message id, file storage',
      rounds: [before, after] satisfies Baseline[],
      medianOfRounds: median.round,
      publishPerSecond: Math.round(publishBaseline),
      consumePerSecond: Math.round(consumeBaseline),
      ceilingDocsPerSecond: Math.round(jetstreamCeiling),
      ceilingNote: 'documents/s if each document cost only 3 acked publishes and 4 acked consumes at the baseline rates',
    },
    hash: {
      ...hash,
      publishAloneDocsPerSecond: median.publishAloneDocsPerSecond,
      ratios: median.ratios,
      freshNode: {
        note: `the warm-up batch (${warmDocs.length} other documents) through the just-started node, before the measured batch`,
        documents: median.cold.documents,
        docsPerSecond: median.cold.docsPerSecond,
        chunksPerSecond: median.cold.chunksPerSecond,
        cpuMsPerDocument: median.cold.cpuMsPerDocument,
      },
      rounds: rounds.map((r) => ({
        round: r.round,
        freshNodeDocsPerSecond: r.cold.docsPerSecond,
        docsPerSecond: r.run.docsPerSecond,
        publishDocsPerSecond: r.run.publishDocsPerSecond,
        publishAloneDocsPerSecond: r.publishAloneDocsPerSecond,
        baseline: r.baseline,
        ratios: r.ratios,
        load: r.run.load,
      })),
      streams: { DOCUMENTS: perDoc('DOCUMENTS'), CHUNKS: perDoc('CHUNKS'), EMBEDDINGS: perDoc('EMBEDDINGS') },
    },
    offline: {
      ...offline,
      barePool: { runs: bare, windowsPerSecond: round(bareRate, 1) },
      ratios: { windowsVsBarePool: offlineMedian.windowsVsBarePool },
      rounds: offlineRounds.map((r) => ({ vectorsPerSecond: r.vectorsPerSecond, windowsVsBarePool: r.windowsVsBarePool, seconds: r.seconds, deliveries: r.deliveries, load: r.load, trace: r.trace })),
      note: 'bare pool, pipeline, bare pool, pipeline, bare pool; each round is divided by the mean of the pool runs on either side; the headline is the lower-median round; trace = [seconds, vectors applied] about every second',
    },
    timeToQueryable: { hash: ttqHash, offline: ttqOffline, note: `documents of ~1.5 KB published one at a time via POST /v1/documents into an idle node, ${TTQ_IDLE_MS} ms apart; polled every ${TTQ_POLL_MS} ms` },
    totalSeconds: round((performance.now() - started) / 1000, 1),
  };
  const written = await writeResult('pipeline', startLoad, figures);

  console.log(`\nPipeline throughput, median of ${ROUNDS} rounds (${hash.documents} documents of ${MIN_BYTES}–${MAX_BYTES} bytes, hash embedder, ${CONCURRENCY} publishes in flight)\n`);
  console.log(
    table(
      ['measure', 'rate', 'ratio'],
      [
        ['JetStream publish, msgs/s (before / after)', `${before.publish.perSecond} / ${after.publish.perSecond}`, '1'],
        ['JetStream consume+ack, msgs/s (before / after)', `${before.consume.perSecond} / ${after.consume.perSecond}`, '1'],
        ['publishDocument alone (nothing consuming), docs/s', String(median.publishAloneDocsPerSecond), median.ratios.publishAloneVsJetStreamPublish.toFixed(3)],
        ['pipeline publish (publishDocument while the node works), docs/s', String(hash.publishDocsPerSecond), figures.hash.ratios.publishVsJetStreamPublish.toFixed(3)],
        ['pipeline end to end, docs/s', String(hash.docsPerSecond), figures.hash.ratios.docsVsJetStreamConsume.toFixed(3)],
        ['pipeline end to end, chunks/s', String(hash.chunksPerSecond), ''],
        ['JetStream-only ceiling (3 pub + 4 consume), docs/s', String(Math.round(jetstreamCeiling)), figures.hash.ratios.docsVsJetStreamCeiling.toFixed(3)],
      ],
    ),
  );
  console.log(`CPU per document: node ${hash.cpuMsPerDocument.node} ms, nats-server ${hash.cpuMsPerDocument.natsServer ?? '?'} ms`);
  console.log(`\nOffline model (${offline.documents} documents, ${offline.vectors} windows)\n`);
  console.log(
    table(
      ['measure', 'windows/s', 'ratio'],
      [
        ['bare pool (each run)', bare.map((b) => b.windowsPerSecond).join(' / '), '1'],
        ...offlineRounds.map((r, i) => [`inside the pipeline, round ${i + 1}`, String(r.vectorsPerSecond), r.windowsVsBarePool.toFixed(3)]),
      ],
    ),
  );
  console.log(`\nTime to queryable (ms after the 202, ${TTQ_DOCS} single documents into an idle node)\n`);
  console.log(
    table(
      ['embedder', '202 p50', 'keyword p50', 'keyword p95', 'vectors p50', 'vectors p95'],
      (
        [
          ['hash', ttqHash],
          ['offline', ttqOffline],
        ] as const
      ).map(([name, t]) => [name, String(t.publishAckMs.p50), String(t.keywordVisibleMs.p50), String(t.keywordVisibleMs.p95), String(t.vectorsAppliedMs.p50), String(t.vectorsAppliedMs.p95)]),
    ),
  );
  console.log(`\nwritten to ${written} in ${figures.totalSeconds} s`);
});
