// Retrieval quality on SciFact (train split): nDCG@10, Recall@10, MRR@10 of keyword, vector, hybrid weights and RRF; chunk sizes.
// Run: npm run bench:scifact   (writes bench/results/scifact.json; needs ../shared/evals/scifact-train; never passes or fails on figures)
//
// The corpus goes through the real pipeline (publishDocument → chunker → embedder → projector → SQLite) on a private
// nats-server. Embedding ~20k windows with the offline model takes 10+ minutes on 2 cores, so each indexed store is
// kept under bench/.cache/scifact/ (gitignored) and reused while corpus, document mapping, model, chunker, embedder
// and store versions are unchanged. SciFact is CC BY-NC: it is read from ../shared and never copied into the repo.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chunkText, DEFAULT_CHUNKER } from '../processors/chunker/chunk.ts';
import { normalizeText } from '../processors/chunker/normalize.ts';
import { USE_LITE_FUSION } from '../processors/embedder/fusion.ts';
import { EMBEDDER_VERSION } from '../processors/embedder/handler.ts';
import { createEmbeddingProvider, type EmbeddingProviderKind } from '../processors/embedder/models.ts';
import type { EmbeddingProvider } from '../processors/embedder/provider.ts';
import { INFERENCE_PROJECTION_VERSION } from '../projections/inference.ts';
import type { InferenceStore, SearchHit } from '../projections/store.ts';
import { openSqliteStore, WorkerInferenceStore } from '../projections/stores/sqlite/index.ts';
import { SCHEMA_VERSION } from '../projections/stores/sqlite/schema.ts';
import { documentInputSchema, publishDocument, type ValidDocumentInput } from '../streams/document-log.ts';
import { sha256Hex } from '../streams/ids.ts';
import { mapLimit } from '../streams/publisher.ts';
import { fromRoot, loadAverage, measured, note, onCleanup, readJson, relativeToRoot, round, runBenchmark, table, writeResult } from './lib/common.ts';
import { streamSizes } from './lib/jetstream.ts';
import { processorDeliveries, startNode, startPrivateNats, waitForIndex, type Deliveries, type IndexProgress } from './lib/node.ts';
import { documentsByMaxScore, mean, pairedBootstrap, reciprocalRankFusion, scoreRanking, type QueryScores } from './lib/retrieval-metrics.ts';
import { search, type SearchOptions } from '../projections/search.ts';

const DATA_DIR = '../shared/evals/scifact-train';
const CACHE_DIR = 'bench/.cache/scifact';
const TENANT = 'default';
const SOURCE = 'scifact';
/** Chunks retrieved per query: enough to fill the top 10 documents after aggregating chunks by document. */
const K_CHUNKS = 100;
const CUTOFF = 10;
const WEIGHTS = [0, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.7, 1.0];
const CHUNK_SIZES = [400, 800, 1600];
const RRF_K = 60;
const FOLDS = 5;
const PUBLISH_CONCURRENCY = 64;
/**
 * Documents published per wave when indexing with the offline model (0: all at once, the default); the next wave goes
 * once the store holds the previous one. Waves were a workaround for a runner bug (queued inputs redelivered after
 * ack_wait behind a slow model, fixed in processors/runner.ts); the run records deliveries per processor to show
 * that a full backlog now costs no repeated work.
 */
const OFFLINE_WAVE = Number(process.env.BENCH_SCIFACT_WAVE ?? 0);
/**
 * Chunk sizes besides the default to index with the offline model too, for hybrid quality by chunk size
 * (BENCH_SCIFACT_HYBRID_SIZES=1600; each size costs another ~15 min of embedding the first time, then comes from the cache).
 */
const HYBRID_SIZES = (process.env.BENCH_SCIFACT_HYBRID_SIZES ?? '')
  .split(',')
  .filter((x) => x.trim() !== '')
  .map(Number)
  .filter((size) => size !== DEFAULT_CHUNKER.size);
/** Chunk size of the main offline-model store (BENCH_SCIFACT_SIZE; the chunker's default otherwise). */
const MAIN_SIZE = Number(process.env.BENCH_SCIFACT_SIZE ?? DEFAULT_CHUNKER.size);

type Mapping = 'title-in-text' | 'title-field-only';
/** How an abstract becomes a document. Part of the cache key: change the text and the store is rebuilt. */
const MAPPINGS: Record<Mapping, string> = {
  'title-in-text': 'text = title + "\\n\\n" + abstract, title = title, contentType text/plain',
  'title-field-only': 'text = abstract, title = title, contentType text/plain',
};

interface Abstract {
  readonly _id: string;
  readonly title: string;
  readonly text: string;
}
interface Query {
  readonly _id: string;
  readonly text: string;
}

function readJsonl<T>(file: string): T[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => JSON.parse(line) as T);
}

function toDocument(a: Abstract, mapping: Mapping): ValidDocumentInput {
  return documentInputSchema.parse({
    id: a._id,
    source: SOURCE,
    title: a.title,
    text: mapping === 'title-in-text' ? `${a.title}\n\n${a.text}` : a.text,
    contentType: 'text/plain',
  });
}

interface Manifest {
  readonly key: string;
  readonly settings: Record<string, unknown>;
  readonly store: string;
  readonly model: { readonly id: string; readonly dims: number };
  readonly builtAt: string;
  readonly documents: number;
  readonly chunks: number;
  readonly vectors: number;
  readonly publishSeconds: number;
  readonly chunksAppliedSeconds: number;
  readonly indexSeconds: number;
  readonly vectorsPerSecond: number;
  /** Documents published per wave (all of them when equal to documents). */
  readonly waveDocuments: number;
  readonly deliveries: Record<string, Deliveries>;
  readonly streamMessages: Record<string, number>;
  readonly load: { readonly start: readonly number[]; readonly end: readonly number[] };
}

interface IndexedStore {
  readonly store: InferenceStore;
  readonly manifest: Manifest;
  readonly reused: boolean;
  readonly name: string;
}

/**
 * Opens the cached store for these settings, or indexes the corpus through a whole node on a private nats-server and
 * keeps the result. `windowsOf` is a provider of the same model, used here only to count the windows to expect.
 */
async function indexedStore(
  corpus: readonly Abstract[],
  corpusSha: string,
  kind: EmbeddingProviderKind,
  windowsOf: EmbeddingProvider,
  chunkSize: number,
  mapping: Mapping,
): Promise<IndexedStore> {
  const chunker = { name: DEFAULT_CHUNKER.name, version: DEFAULT_CHUNKER.version, size: chunkSize, overlap: DEFAULT_CHUNKER.overlap };
  const settings = {
    corpusSha256: corpusSha,
    mapping: MAPPINGS[mapping],
    model: windowsOf.info,
    embedderVersion: EMBEDDER_VERSION,
    projectionVersion: INFERENCE_PROJECTION_VERSION,
    storeSchemaVersion: SCHEMA_VERSION,
    chunker,
    tenant: TENANT,
    source: SOURCE,
  };
  const key = sha256Hex(JSON.stringify(settings));
  const name = `${kind}-${chunkSize}-${mapping}`;
  const dir = fromRoot(path.join(CACHE_DIR, `${name}-${key.slice(0, 12)}`));
  const manifestFile = path.join(dir, 'manifest.json');
  const open = async (manifest: Manifest, reused: boolean): Promise<IndexedStore> => {
    const store = await openSqliteStore({ path: path.join(dir, manifest.store), model: manifest.model });
    onCleanup(() => store.close());
    // Ranked by the keyword index from the first query, as the runs that built the store were (not by FTS5 while it loads).
    if (store instanceof WorkerInferenceStore) await store.loadKeywords();
    return { store, manifest, reused, name };
  };
  if (existsSync(manifestFile)) {
    const manifest = await readJson<Manifest>(manifestFile);
    if (manifest.key === key && existsSync(path.join(dir, manifest.store))) {
      note(`${name}: reusing the store indexed ${manifest.builtAt} (${relativeToRoot(dir)})`);
      return open(manifest, true);
    }
  }

  // What the pipeline must produce, computed with the same chunker and windowing, so completion is exact.
  const docs = corpus.map((a) => toDocument(a, mapping));
  const perDoc = docs.map((doc) => {
    const pieces = chunkText(normalizeText(doc.text, doc.contentType), chunker);
    return { chunks: pieces.length, vectors: pieces.reduce((sum, c) => sum + windowsOf.windows(c.text).filter((w) => w.trim().length > 0).length, 0) };
  });
  const chunks = perDoc.reduce((sum, d) => sum + d.chunks, 0);
  const vectors = perDoc.reduce((sum, d) => sum + d.vectors, 0);
  const wave = kind === 'offline' && OFFLINE_WAVE > 0 ? OFFLINE_WAVE : docs.length;
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const startLoad = loadAverage();
  note(`${name}: indexing ${docs.length} documents (${chunks} chunks, ${vectors} windows) through the pipeline into ${relativeToRoot(dir)}`);
  const nats = await startPrivateNats();
  const node = await startNode(
    nats.url,
    { SPANDA_EMBEDDER: kind, SPANDA_CHUNK_SIZE: String(chunkSize), SPANDA_CHUNK_OVERLAP: String(chunker.overlap) },
    dir,
  );
  let manifest: Manifest;
  try {
    if (node.system.provider.info.id !== windowsOf.info.id) throw new Error(`the node embeds with ${node.system.provider.info.id}, expected ${windowsOf.info.id}`);
    // Start the model workers before the clock does: their start-up is not indexing throughput.
    await Promise.all([node.system.provider.embed(['warm up']), node.system.provider.embed(['warm up too'])]);
    const since = performance.now();
    let publishMs = 0;
    let progress: IndexProgress | undefined;
    const target = { documents: 0, chunks: 0, vectors: 0 };
    for (let first = 0; first < docs.length; first += wave) {
      const slice = docs.slice(first, first + wave);
      const published = performance.now();
      await mapLimit(slice, PUBLISH_CONCURRENCY, (doc) => publishDocument(node.system.nats, TENANT, doc, { producer: '/bench/scifact' }));
      publishMs += performance.now() - published;
      for (const d of perDoc.slice(first, first + wave)) {
        target.documents += 1;
        target.chunks += d.chunks;
        target.vectors += d.vectors;
      }
      progress = await waitForIndex(node.system, { ...target }, since, { pollMs: 250, progressEveryMs: 30_000, label: name });
      if (wave < docs.length) note(`${name}: ${target.documents}/${docs.length} documents indexed, ${round(target.vectors / (progress.doneMs / 1000), 1)} vectors/s so far`);
    }
    if (!progress) throw new Error('nothing to index');
    const deliveries = await processorDeliveries(node.system.nats);
    const streams = await streamSizes(node.system.nats, ['DOCUMENTS', 'CHUNKS', 'EMBEDDINGS']);
    const stored = (await readdir(path.join(dir, 'inference'))).filter((f) => f.endsWith('.sqlite'));
    if (stored.length !== 1) throw new Error(`expected one store file in ${relativeToRoot(dir)}/inference, found ${stored.join(', ') || 'none'}`);
    manifest = {
      key,
      settings,
      store: path.join('inference', stored[0] as string),
      model: { id: node.system.store.model.id, dims: node.system.store.model.dims },
      builtAt: new Date().toISOString(),
      documents: docs.length,
      chunks,
      vectors,
      publishSeconds: round(publishMs / 1000),
      chunksAppliedSeconds: round(progress.chunksAppliedMs / 1000),
      indexSeconds: round(progress.doneMs / 1000),
      vectorsPerSecond: round(vectors / (progress.doneMs / 1000), 1),
      waveDocuments: wave,
      deliveries,
      streamMessages: Object.fromEntries(Object.entries(streams).map(([k, v]) => [k, v.messages])),
      load: { start: startLoad, end: loadAverage() },
    };
  } catch (err) {
    await node.stop();
    await nats.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  await node.stop();
  await nats.stop();
  await writeFile(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  note(`${name}: indexed in ${manifest.indexSeconds} s (${manifest.vectorsPerSecond} vectors/s)`);
  return open(manifest, false);
}

interface System {
  readonly name: string;
  readonly mode: 'keyword' | 'vector' | 'hybrid' | 'rrf';
  readonly vectorWeight?: number;
  readonly perQuery: QueryScores[];
  /** Queries whose K_CHUNKS hits held fewer than CUTOFF distinct documents although the store returned K_CHUNKS hits. */
  readonly shortRankings: number;
}

const summary = (s: System) => ({
  ndcg10: round(mean(s.perQuery.map((q) => q.ndcg)), 4),
  recall10: round(mean(s.perQuery.map((q) => q.recall)), 4),
  mrr10: round(mean(s.perQuery.map((q) => q.mrr)), 4),
});

await runBenchmark('scifact', async () => {
  const dataDir = fromRoot(DATA_DIR);
  const files = ['corpus.jsonl', 'queries.jsonl', 'qrels.tsv'].map((f) => path.join(dataDir, f));
  if (!files.every((f) => existsSync(f))) {
    console.log(`skipped: SciFact not found at ${DATA_DIR} (relative to the repository root); nothing written`);
    return;
  }
  const startLoad = loadAverage();
  const started = performance.now();
  const corpusBytes = readFileSync(files[0] as string);
  const corpusSha = sha256Hex(corpusBytes);
  const corpus = readJsonl<Abstract>(files[0] as string);
  const queries = readJsonl<Query>(files[1] as string);
  const qrels = new Map<string, Set<string>>();
  const lines = readFileSync(files[2] as string, 'utf8').split('\n').slice(1); // header: query-id corpus-id score
  for (const line of lines) {
    const [queryId, docId, score] = line.trim().split('\t');
    if (!queryId || !docId || Number(score) <= 0) continue;
    const set = qrels.get(queryId) ?? new Set<string>();
    set.add(docId);
    qrels.set(queryId, set);
  }
  if (new Set(corpus.map((a) => a._id)).size !== corpus.length) throw new Error('corpus ids are not unique');
  const evaluated = queries.filter((q) => qrels.has(q._id));
  note(`SciFact: ${corpus.length} abstracts, ${queries.length} queries (${evaluated.length} with judgments), ${[...qrels.values()].reduce((s, r) => s + r.size, 0)} relevant pairs`);

  const offline = createEmbeddingProvider('offline');
  onCleanup(() => offline.close());
  const hash = createEmbeddingProvider('hash');

  // The cheap hash-embedded stores first (chunk sizes, mapping: keyword search never reads their vectors), then the
  // expensive one whose build the cache exists for.
  const bySize = new Map<number, IndexedStore>();
  for (const size of CHUNK_SIZES) bySize.set(size, await indexedStore(corpus, corpusSha, 'hash', hash, size, 'title-in-text'));
  const titleFieldOnly = await indexedStore(corpus, corpusSha, 'hash', hash, DEFAULT_CHUNKER.size, 'title-field-only');
  const main = await indexedStore(corpus, corpusSha, 'offline', offline, MAIN_SIZE, 'title-in-text');

  // Query vectors: one call, as the API embeds each query (timed separately, it is a per-query cost in production).
  const queryEmbedding = await measured(() => offline.embed(evaluated.map((q) => q.text)));
  const queryVectors = queryEmbedding.value;
  note(`embedded ${evaluated.length} queries in ${Math.round(queryEmbedding.ms)} ms`);

  type Run = { ranking: string[]; chunkKeys: string[]; chunkHits: SearchHit[]; short: boolean };
  const runQuery = async (store: InferenceStore, i: number, mode: 'keyword' | 'vector' | 'hybrid', vectorWeight: number, options: SearchOptions): Promise<Run> => {
    const q = evaluated[i] as Query;
    const perDocument = options.perDocument === true;
    // Per document, search returns documents (one chunk each), so the cutoff's worth is asked for.
    const hits = await search(
      store,
      {
        tenant: TENANT,
        mode,
        k: perDocument ? CUTOFF : K_CHUNKS,
        text: q.text,
        vectorWeight,
        ...(mode === 'keyword' ? {} : { vector: queryVectors[i] as Float32Array }),
      },
      options,
    );
    const ranking = documentsByMaxScore(hits.map((h) => ({ docId: h.docId, score: h.score })));
    return { ranking, chunkKeys: hits.map((h) => `${h.docId}\u0000${h.chunkId}`), chunkHits: hits, short: hits.length === K_CHUNKS && ranking.length < CUTOFF };
  };
  const relevantOf = (i: number) => qrels.get((evaluated[i] as Query)._id) as Set<string>;

  /** One system over every query; `options` as the API's search takes them (per document, keyword expansion). */
  async function evaluate(store: InferenceStore, name: string, mode: 'keyword' | 'vector' | 'hybrid', vectorWeight: number, options: SearchOptions = {}): Promise<{ system: System; runs: Run[] }> {
    const runs: Run[] = [];
    for (let i = 0; i < evaluated.length; i++) runs.push(await runQuery(store, i, mode, vectorWeight, options));
    const perQuery = runs.map((r, i) => scoreRanking(r.ranking, relevantOf(i), CUTOFF));
    return { system: { name, mode, ...(mode === 'hybrid' ? { vectorWeight } : {}), perQuery, shortRankings: runs.filter((r) => r.short).length }, runs };
  }

  const evalStarted = performance.now();
  const keyword = await evaluate(main.store, 'keyword', 'keyword', 0);
  const vector = await evaluate(main.store, 'vector', 'vector', 1);
  const hybrids: System[] = [];
  for (const w of WEIGHTS) hybrids.push((await evaluate(main.store, `hybrid w=${w}`, 'hybrid', w)).system);
  // Per-document hybrid (projections/search.ts perDocument): chunks collapse to documents before fusion and every keyword
  // candidate is scored on the vector side too.
  const perDocumentHybrids: System[] = [];
  for (const w of [0.25, 0.35, 0.4]) perDocumentHybrids.push((await evaluate(main.store, `hybrid per document w=${w}`, 'hybrid', w, { perDocument: true })).system);
  // RM3 keyword expansion (SPANDA_KEYWORD_EXPANSION=rm3): the keyword side alone, fused by chunk and by document.
  const expanded: System[] = [(await evaluate(main.store, 'keyword rm3', 'keyword', 0, { keywordExpansion: 'rm3' })).system];
  for (const w of [0.2, 0.25, 0.3, 0.35, 0.4]) expanded.push((await evaluate(main.store, `hybrid rm3 w=${w}`, 'hybrid', w, { keywordExpansion: 'rm3' })).system);
  for (const w of [0.25, 0.35, 0.4]) expanded.push((await evaluate(main.store, `hybrid rm3 per document w=${w}`, 'hybrid', w, { perDocument: true, keywordExpansion: 'rm3' })).system);
  // RRF, equal weights: over the two document rankings, and over the two chunk lists (then max per document).
  const rrfDocs: System = {
    name: `RRF k=${RRF_K} (document rankings)`,
    mode: 'rrf',
    perQuery: keyword.runs.map((kw, i) => scoreRanking(reciprocalRankFusion([kw.ranking, (vector.runs[i] as Run).ranking], RRF_K), relevantOf(i), CUTOFF)),
    shortRankings: 0,
  };
  const rrfChunks: System = {
    name: `RRF k=${RRF_K} (chunk lists)`,
    mode: 'rrf',
    perQuery: keyword.runs.map((kw, i) => {
      const fused = reciprocalRankFusion([kw.chunkKeys, (vector.runs[i] as Run).chunkKeys], RRF_K);
      return scoreRanking(
        documentsByMaxScore(fused.map((key, rank) => ({ docId: key.split('\u0000')[0] as string, score: -rank }))),
        relevantOf(i),
        CUTOFF,
      );
    }),
    shortRankings: 0,
  };
  const evalSeconds = (performance.now() - evalStarted) / 1000;
  const indexing = (i: IndexedStore) => ({ store: i.name, reused: i.reused, ...Object.fromEntries(Object.entries(i.manifest).filter(([k]) => !['key', 'settings', 'store'].includes(k))) });

  const baseline = keyword.system.perQuery.map((q) => q.ndcg);
  const compare = (s: System) => {
    const c = pairedBootstrap(
      s.perQuery.map((q) => q.ndcg),
      baseline,
    );
    return { delta: round(c.delta, 4), ci95: [round(c.ci95[0], 4), round(c.ci95[1], 4)], wins: c.wins, ties: c.ties, losses: c.losses };
  };
  const systems = [keyword.system, vector.system, ...hybrids, ...perDocumentHybrids, ...expanded, rrfDocs, rrfChunks];
  const rows = systems.map((s) => ({
    name: s.name,
    mode: s.mode,
    ...(s.vectorWeight !== undefined ? { vectorWeight: s.vectorWeight } : {}),
    ...summary(s),
    ndcg10VsKeyword: compare(s),
    shortRankings: s.shortRankings,
  }));

  // Choosing the weight on the same queries that score it flatters the winner: k-fold cross-validation shows whether
  // the choice generalises (pick on 4/5 of the queries, score on the held-out fifth).
  const folds = Array.from({ length: FOLDS }, (_, f) => {
    const inFold = (i: number) => i % FOLDS === f;
    const trainMean = (s: System) => mean(s.perQuery.filter((_, i) => !inFold(i)).map((q) => q.ndcg));
    const best = hybrids.reduce((a, b) => (trainMean(b) > trainMean(a) ? b : a));
    return { fold: f, chosenWeight: best.vectorWeight as number, held: best.perQuery.filter((_, i) => inFold(i)).map((q) => q.ndcg) };
  });
  const crossValidated = {
    folds: FOLDS,
    chosenWeights: folds.map((f) => f.chosenWeight),
    ndcg10: round(mean(folds.flatMap((f) => f.held)), 4),
  };

  const best = hybrids.reduce((a, b) => (summary(b).ndcg10 > summary(a).ndcg10 ? b : a));
  const defaultWeight = USE_LITE_FUSION.vectorWeight;
  const atDefault = hybrids.find((h) => h.vectorWeight === defaultWeight) as System;
  const defaultVsKeyword = compare(atDefault);
  const bestVsDefault = pairedBootstrap(
    best.perQuery.map((q) => q.ndcg),
    atDefault.perQuery.map((q) => q.ndcg),
  );

  // Keyword quality by chunk size (hash-embedded stores: keyword search never reads vectors), and by document mapping.
  const chunkSizes = [];
  for (const size of CHUNK_SIZES) {
    const indexed = bySize.get(size) as IndexedStore;
    const s = (await evaluate(indexed.store, `keyword, chunks of ${size}`, 'keyword', 0)).system;
    chunkSizes.push({ size, overlap: DEFAULT_CHUNKER.overlap, chunks: indexed.manifest.chunks, chunksPerDocument: round(indexed.manifest.chunks / corpus.length, 2), ...summary(s), perQuery: s.perQuery });
  }
  const at800 = chunkSizes.find((c) => c.size === DEFAULT_CHUNKER.size);
  const atMain = chunkSizes.find((c) => c.size === MAIN_SIZE);
  const chunkRows = chunkSizes.map(({ perQuery, ...c }) => {
    const d = pairedBootstrap(
      perQuery.map((q) => q.ndcg),
      (at800?.perQuery ?? perQuery).map((q) => q.ndcg),
    );
    return { ...c, ndcg10VsDefaultSize: { delta: round(d.delta, 4), ci95: [round(d.ci95[0], 4), round(d.ci95[1], 4)], wins: d.wins, losses: d.losses } };
  });
  const titleOnly = summary((await evaluate(titleFieldOnly.store, 'keyword, title field only', 'keyword', 0)).system);

  // Hybrid quality at other chunk sizes, with the offline model (opt-in: see HYBRID_SIZES).
  const hybridBySize = [];
  for (const size of HYBRID_SIZES.filter((s) => s !== MAIN_SIZE)) {
    const indexed = await indexedStore(corpus, corpusSha, 'offline', offline, size, 'title-in-text');
    const rowsAt = [];
    rowsAt.push({ name: 'keyword', ...summary((await evaluate(indexed.store, 'keyword', 'keyword', 0)).system) });
    rowsAt.push({ name: 'vector', ...summary((await evaluate(indexed.store, 'vector', 'vector', 1)).system) });
    const hybridAt: System[] = [];
    for (const w of WEIGHTS.filter((x) => x > 0 && x < 1)) hybridAt.push((await evaluate(indexed.store, `hybrid w=${w}`, 'hybrid', w)).system);
    for (const h of hybridAt) rowsAt.push({ name: h.name, vectorWeight: h.vectorWeight, ...summary(h) });
    for (const w of [0.25, 0.35]) rowsAt.push({ name: `hybrid per document w=${w}`, vectorWeight: w, ...summary((await evaluate(indexed.store, `hybrid per document w=${w}`, 'hybrid', w, { perDocument: true })).system) });
    const defaultAt = hybridAt.find((h) => h.vectorWeight === USE_LITE_FUSION.vectorWeight);
    const vs800 = defaultAt
      ? pairedBootstrap(
          defaultAt.perQuery.map((q) => q.ndcg),
          atDefault.perQuery.map((q) => q.ndcg),
        )
      : undefined;
    hybridBySize.push({
      size,
      overlap: DEFAULT_CHUNKER.overlap,
      chunks: indexed.manifest.chunks,
      vectors: indexed.manifest.vectors,
      indexing: indexing(indexed),
      rows: rowsAt,
      defaultWeightVs800: vs800 ? { delta: round(vs800.delta, 4), ci95: [round(vs800.ci95[0], 4), round(vs800.ci95[1], 4)], wins: vs800.wins, losses: vs800.losses } : null,
    });
  }

  const keywordSummary = summary(keyword.system);
  const figures = {
    dataset: {
      name: 'SciFact (BEIR), train queries',
      path: DATA_DIR,
      license: 'CC BY-NC 2.0; evaluation only, not copied into the repository',
      documents: corpus.length,
      queries: queries.length,
      queriesEvaluated: evaluated.length,
      relevantPairs: [...qrels.values()].reduce((s, r) => s + r.size, 0),
    },
    setup: {
      mapping: MAPPINGS['title-in-text'],
      chunker: { ...DEFAULT_CHUNKER, size: MAIN_SIZE },
      model: main.manifest.model,
      retrieval: `store.search k=${K_CHUNKS} chunks, hybrid candidates max(50, 5k) per side; chunk hits aggregated to documents by max score; cutoff ${CUTOFF}`,
      relevance: 'binary (qrels score > 0); nDCG with IDCG over min(relevant, 10)',
      comparison: 'paired bootstrap (2000 resamples) of the per-query nDCG@10 difference against keyword; wins/ties/losses per query',
    },
    indexing: [indexing(main), ...CHUNK_SIZES.map((s) => indexing(bySize.get(s) as IndexedStore)), indexing(titleFieldOnly)],
    queryEmbedding: { queries: evaluated.length, ms: Math.round(queryEmbedding.ms), msPerQuery: round(queryEmbedding.ms / evaluated.length, 1) },
    evaluationSeconds: round(evalSeconds, 1),
    results: rows,
    crossValidation: crossValidated,
    defaultWeight: {
      vectorWeight: defaultWeight,
      ...summary(atDefault),
      atLeastAsGoodAsKeyword: summary(atDefault).ndcg10 >= keywordSummary.ndcg10,
      vsKeyword: defaultVsKeyword,
    },
    bestWeight: {
      vectorWeight: best.vectorWeight,
      ...summary(best),
      vsDefault: { delta: round(bestVsDefault.delta, 4), ci95: [round(bestVsDefault.ci95[0], 4), round(bestVsDefault.ci95[1], 4)], wins: bestVsDefault.wins, losses: bestVsDefault.losses },
    },
    chunkSizes: chunkRows,
    hybridBySize: { sizes: HYBRID_SIZES, note: 'offline-model stores at other chunk sizes (BENCH_SCIFACT_HYBRID_SIZES); defaultWeightVs800 = paired Δ nDCG@10 of hybrid at the default weight against 800', results: hybridBySize },
    keywordByMapping: {
      'title-in-text': chunkRows.find((c) => c.size === DEFAULT_CHUNKER.size) ?? null,
      'title-field-only': titleOnly,
    },
    checks: {
      'hybrid w=0 equals keyword': summary(hybrids[0] as System).ndcg10 === keywordSummary.ndcg10,
      'hybrid w=1 equals vector': summary(hybrids[hybrids.length - 1] as System).ndcg10 === summary(vector.system).ndcg10,
      [`keyword on the hash store (${MAIN_SIZE}) equals keyword on the offline store`]: atMain ? round(mean(atMain.perQuery.map((q) => q.ndcg)), 4) === keywordSummary.ndcg10 : null,
    },
    references: {
      source: 'DESIGN.md',
      bm25Ndcg10: '0.665–0.68',
      useLiteAloneNdcg10: 0.21,
      rrfNdcg10: 0.45,
      weighted02to03Ndcg10: 0.688,
    },
    totalSeconds: round((performance.now() - started) / 1000, 1),
  };
  // A run at another main chunk size is a separate result (scifact-1600.json), beside the default size's.
  const written = await writeResult(MAIN_SIZE === DEFAULT_CHUNKER.size ? 'scifact' : `scifact-${MAIN_SIZE}`, startLoad, figures);

  const f4 = (x: number) => x.toFixed(4);
  console.log(`\nSciFact train: ${evaluated.length} queries over ${corpus.length} abstracts; ${figures.setup.retrieval}\n`);
  console.log(
    table(
      ['system', 'nDCG@10', 'Recall@10', 'MRR@10', 'Δ nDCG vs keyword [95% CI]', 'wins/losses'],
      rows.map((r) => [
        r.name,
        f4(r.ndcg10),
        f4(r.recall10),
        f4(r.mrr10),
        `${r.ndcg10VsKeyword.delta >= 0 ? '+' : ''}${f4(r.ndcg10VsKeyword.delta)} [${f4(r.ndcg10VsKeyword.ci95[0] as number)}, ${f4(r.ndcg10VsKeyword.ci95[1] as number)}]`,
        `${r.ndcg10VsKeyword.wins}/${r.ndcg10VsKeyword.losses}`,
      ]),
    ),
  );
  console.log(`\ndefault weight ${defaultWeight}: nDCG@10 ${f4(figures.defaultWeight.ndcg10)} vs keyword ${f4(keywordSummary.ndcg10)} → ${figures.defaultWeight.atLeastAsGoodAsKeyword ? 'at least as good' : 'WORSE'}`);
  console.log(`best weight ${best.vectorWeight}: nDCG@10 ${f4(figures.bestWeight.ndcg10)}; ${FOLDS}-fold CV picks ${crossValidated.chosenWeights.join(', ')} → held-out nDCG@10 ${f4(crossValidated.ndcg10)}`);
  console.log(`\nkeyword by chunk size (overlap ${DEFAULT_CHUNKER.overlap}):`);
  console.log(table(['size', 'chunks/doc', 'nDCG@10', 'Recall@10', 'MRR@10'], chunkRows.map((c) => [String(c.size), c.chunksPerDocument.toFixed(2), f4(c.ndcg10), f4(c.recall10), f4(c.mrr10)])));
  console.log(`keyword with the title in the title field only (not in the text): nDCG@10 ${f4(titleOnly.ndcg10)}`);
  for (const h of hybridBySize) {
    console.log(`\noffline model, chunks of ${h.size}:`);
    console.log(table(['system', 'nDCG@10', 'Recall@10', 'MRR@10'], h.rows.map((r) => [r.name, f4(r.ndcg10), f4(r.recall10), f4(r.mrr10)])));
  }
  console.log(`checks: ${JSON.stringify(figures.checks)}`);
  console.log(`\nwritten to ${written} in ${figures.totalSeconds} s`);
});
