// Rebuild by replay: a new inference generation from CHUNKS + EMBEDDINGS next to raw JetStream reads and raw SQLite inserts, and against re-ingesting.
// Run: npm run bench:replay   (writes bench/results/replay.json; prints figures, never passes or fails)
//
// At each size a corpus goes through a whole node (hash embedders, fast) so the log holds CHUNKS and 512-d EMBEDDINGS
// (model hash-512: the same vector size and message volume as the offline model's). Then, in the same run on the same
// server: (1) raw JetStream read of the slices the replay reads, (2) raw SQLite insert of the same rows (with SQLite's
// defaults and WAL, and with the build's file settings; the faster is the baseline), (2b) the store's own rows alone
// (its tables and unique keys, plain INSERTs: the SQLite work a replay cannot avoid), (3) the replay
// itself (spanda replay's code path, digest verification timed apart), (4) re-ingest with the offline model,
// extrapolated from its measured embedding rate on a sample (embedding 100k chunks offline takes about an hour here).
import Database from 'better-sqlite3';
import { DeliverPolicy, type JsMsg } from '@nats-io/jetstream';
import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { silentLogger } from '../lib/log.ts';
import { generationRuntime, inferenceSpec } from '../cli/inference-runtime.ts';
import { chunkText, DEFAULT_CHUNKER } from '../processors/chunker/chunk.ts';
import { normalizeText } from '../processors/chunker/normalize.ts';
import { createEmbeddingProvider } from '../processors/embedder/models.ts';
import { logDigest } from '../projections/log-digest.ts';
import { embedderConsumer, processedUpTo } from '../projections/read-your-writes.ts';
import { replayGeneration } from '../projections/replay.ts';
import { decodeEvent, headersOf } from '../streams/codec.ts';
import { documentInputSchema, publishDocument } from '../streams/document-log.ts';
import { decodeVector } from '../streams/events/index.ts';
import type { NatsHandle } from '../streams/nats.ts';
import { STREAMS, provision } from '../streams/provision.ts';
import { mapLimit } from '../streams/publisher.ts';
import { subjects } from '../streams/subjects.ts';
import { tempDir } from '../test/helpers/nats.ts';
import { loadAverage, machine, note, round, runBenchmark, sleep, table, writeResult } from './lib/common.ts';
import { cpuByThread, processCpuMs, threadCpuMs } from './lib/jetstream.ts';
import { startNode, startPrivateNats } from './lib/node.ts';
import { proseCorpus } from './lib/prose.ts';
import { storeRowsInsert, storeRowsInsertBeside, type CorpusDocument } from './lib/store-rows.ts';

const SIZES = (process.env.BENCH_REPLAY_CHUNKS ?? '10000,100000').split(',').map(Number);
const MODEL = { id: 'hash-512', dims: 512 };
/** Chunks embedded by the offline model to measure its rate (re-ingest time is extrapolated from it). */
const OFFLINE_SAMPLE = Number(process.env.BENCH_REPLAY_OFFLINE_SAMPLE ?? 150);

interface Slices {
  readonly messages: number;
  readonly bytes: number;
}

/**
 * Reads the replay's slices (all of CHUNKS, the model's EMBEDDINGS) with ordered consumers, decoding nothing; or, with
 * `decode`, decoding each message as a replay must before it can apply anything (headers, JSON, the event's validation,
 * its vectors from base64): the floor of any replay of these events on one thread.
 */
async function rawRead(handle: NatsHandle, decode = false): Promise<Slices & { ms: number }> {
  const started = performance.now();
  let messages = 0;
  let bytes = 0;
  for (const [stream, filter] of [
    [STREAMS.CHUNKS, 'chunks.>'],
    [STREAMS.EMBEDDINGS, subjects.embeddingsOfModel(MODEL.id)],
  ] as const) {
    const consumer = await handle.js.consumers.get(stream, { filter_subjects: filter, deliver_policy: DeliverPolicy.All });
    for (;;) {
      const batch = await consumer.fetch({ max_messages: 1000, expires: 2000 });
      let got = 0;
      let pending = 1;
      for await (const msg of batch) {
        got++;
        messages++;
        bytes += msg.data.byteLength;
        pending = msg.info.pending;
        if (decode) decodeFully(msg);
        if (pending === 0) break; // the end of the slice: do not wait out the fetch's expiry
      }
      if (got === 0 || pending === 0) break;
    }
  }
  return { messages, bytes, ms: performance.now() - started };
}

/** Decodes a message into its event and its vectors into floats, throwing what the replay would dead-letter. */
function decodeFully(msg: JsMsg): void {
  const event = decodeEvent({ subject: msg.subject, data: msg.data, headers: headersOf(msg) }, { stream: msg.info.stream, seq: msg.seq });
  if (event.type === 'document.embedded') for (const v of event.data.vectors) decodeVector(v.vector, event.data.model.dims);
}

/**
 * How a raw insert sets up its file: SQLite's defaults with WAL (4 KB pages: a 2 KB vector row takes a page to itself,
 * and every page is written twice, to the WAL and then the file), or the settings a replay's build writes with (16 KB
 * pages, a rollback journal with fsync at each commit: schema.ts, sqlite-store.ts enterBuildJournal).
 */
type InsertSettings = 'wal-4k' | 'build';

function setUp(db: Database.Database, settings: InsertSettings): void {
  if (settings === 'build') {
    db.pragma('page_size = 16384');
    db.pragma('journal_mode = TRUNCATE');
    db.pragma('synchronous = FULL');
  } else {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
  }
}

/** Inserts `chunks` rows of text and as many 512-d vector blobs into a plain SQLite file (no index, 1,000 rows a transaction). */
function rawInsert(dir: string, texts: readonly string[], settings: InsertSettings): number {
  const file = path.join(dir, `raw-${settings}.sqlite`);
  const db = new Database(file);
  setUp(db, settings);
  db.exec('CREATE TABLE chunks (id INTEGER PRIMARY KEY, text TEXT NOT NULL); CREATE TABLE vectors (chunk INTEGER NOT NULL, vector BLOB NOT NULL)');
  const chunk = db.prepare('INSERT INTO chunks (id, text) VALUES (?, ?)');
  const vector = db.prepare('INSERT INTO vectors (chunk, vector) VALUES (?, ?)');
  const blob = Buffer.alloc(MODEL.dims * 4, 7);
  const insert = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      chunk.run(BigInt(i + 1), texts[i] as string);
      vector.run(BigInt(i + 1), blob);
    }
  });
  const started = performance.now();
  for (let i = 0; i < texts.length; i += 1000) insert(i, Math.min(texts.length, i + 1000));
  const ms = performance.now() - started;
  db.close();
  rmSync(file, { force: true });
  return ms;
}

async function offlineRate(texts: readonly string[]): Promise<{ windowsPerSecond: number; windowsPerChunk: number }> {
  const offline = createEmbeddingProvider('offline');
  try {
    const sample = texts.slice(0, OFFLINE_SAMPLE);
    const windows = sample.flatMap((t) => offline.windows(t));
    await offline.embed(windows.slice(0, 8)); // load the model
    const started = performance.now();
    for (let i = 0; i < windows.length; i += 32) await offline.embed(windows.slice(i, i + 32));
    const seconds = (performance.now() - started) / 1000;
    return { windowsPerSecond: windows.length / seconds, windowsPerChunk: windows.length / sample.length };
  } finally {
    await offline.close();
  }
}

async function run(size: number) {
  const nats = await startPrivateNats();
  const dir = await tempDir('spanda-bench-replay-');
  try {
    // ~2.6 chunks per document of 1–3 KB at the default chunker settings.
    const docs = proseCorpus(Math.ceil(size / 2.6), 1000, 3000, size);
    const inputs = docs.map((d) => documentInputSchema.parse({ id: d.id, source: 'bench', title: d.title, text: d.text, contentType: 'text/plain' }));
    const chunked: CorpusDocument[] = inputs.map((d) => ({ id: d.id, title: d.title, chunks: chunkText(normalizeText(d.text, d.contentType), DEFAULT_CHUNKER) }));
    const texts = chunked.flatMap((d) => d.chunks.map((c) => c.text));
    note(`${size}: ${inputs.length} documents, ${texts.length} chunks; ingesting through a node (hash embedders)`);
    const node = await startNode(nats.url, { SPANDA_EMBEDDER: 'hash', SPANDA_MODELS: MODEL.id, SPANDA_EMBED_WORKERS: '1' });
    try {
      await mapLimit(inputs, 64, (doc) => publishDocument(nats.handle, 'default', doc));
      const chunksHead = async () => (await nats.handle.jsm.streams.info(STREAMS.CHUNKS)).state.last_seq;
      for (;;) {
        const docsDone = await processedUpTo(nats.handle, STREAMS.DOCUMENTS, 'chunker', inputs.length);
        if (docsDone && (await processedUpTo(nats.handle, STREAMS.CHUNKS, embedderConsumer(MODEL.id), await chunksHead()))) break;
        await sleep(500);
      }
    } finally {
      await node.stop();
    }
    const { kv } = await provision(nats.handle);
    const runtime = generationRuntime(nats.handle, kv, { ...node.config, dataDir: dir }, [], silentLogger);

    note(`${size}: raw JetStream read`);
    const read = await rawRead(nats.handle);
    note(`${size}: JetStream read with each message decoded`);
    const decodedRead = await rawRead(nats.handle, true);
    note(`${size}: raw SQLite inserts (WAL with 4 KB pages; the build's file settings) and the store's rows alone`);
    const walInsertMs = rawInsert(dir, texts, 'wal-4k');
    const insertMs = rawInsert(dir, texts, 'build');
    const storeRowsMs = storeRowsInsert(dir, chunked, MODEL);
    note(`${size}: raw JetStream read and the store's rows at the same time, a thread each`);
    const beside = await storeRowsInsertBeside(dir, chunked, MODEL, () => rawRead(nats.handle));
    note(`${size}: JetStream read with each message decoded and the store's rows at the same time, a thread each`);
    const decodedBeside = await storeRowsInsertBeside(dir, chunked, MODEL, () => rawRead(nats.handle, true));
    note(`${size}: replay`);
    const spec = await inferenceSpec({ ...node.config, dataDir: dir }, MODEL, 'sqlite');
    const natsCpuBefore = processCpuMs(nats.server.pid);
    const threadsBefore = threadCpuMs();
    const cpuBefore = process.cpuUsage();
    const replayStarted = performance.now();
    const result = await replayGeneration(runtime, spec, { vectorWeight: 0.5, verify: false });
    const replayMs = performance.now() - replayStarted;
    // Every thread of this process (the main thread, the store's worker, V8's GC helpers) and nats-server's.
    const cpuUsed = process.cpuUsage(cpuBefore);
    const replayCpuMs = (cpuUsed.user + cpuUsed.system) / 1000;
    const threads = cpuByThread(threadsBefore, threadCpuMs(), replayCpuMs);
    const natsCpuAfter = processCpuMs(nats.server.pid);
    const natsCpuMs = natsCpuBefore !== undefined && natsCpuAfter !== undefined ? natsCpuAfter - natsCpuBefore : undefined;
    note(`${size}: digest from the log`);
    const verifyStarted = performance.now();
    const expected = await logDigest(nats.handle, runtime.projectionFor(spec), MODEL, result.checkpoints);
    const verifyMs = performance.now() - verifyStarted;
    if (expected.digest !== result.digest) throw new Error(`replayed generation does not match the log at ${size} chunks`);
    note(`${size}: offline model rate on ${OFFLINE_SAMPLE} chunks`);
    const offline = await offlineRate(texts);
    const reingestSeconds = (texts.length * offline.windowsPerChunk) / offline.windowsPerSecond;

    const perSecond = (ms: number) => Math.round(texts.length / (ms / 1000));
    const readRate = perSecond(read.ms);
    // The raw insert is SQLite's best plain insert of these rows: the faster of the two file set-ups.
    const insertRate = Math.max(perSecond(insertMs), perSecond(walInsertMs));
    const storeRowsRate = perSecond(storeRowsMs);
    const replayRate = perSecond(replayMs);
    const slowerRate = Math.min(readRate, insertRate);
    const cpuMs = replayCpuMs + (natsCpuMs ?? 0);
    const cpus = machine().cpus;
    return {
      chunks: texts.length,
      documents: inputs.length,
      messagesRead: read.messages,
      mbRead: round(read.bytes / 1e6, 1),
      raw_read_chunks_per_s: readRate,
      raw_insert_chunks_per_s: insertRate,
      // The read again with every message decoded (JSON, validation, vectors) on this thread: reading and decoding alone.
      decoded_read_chunks_per_s: perSecond(decodedRead.ms),
      decoded_read_vs_slower_baseline: round(perSecond(decodedRead.ms) / slowerRate, 3),
      raw_insert_wal_4k_chunks_per_s: perSecond(walInsertMs),
      raw_insert_build_settings_chunks_per_s: perSecond(insertMs),
      store_rows_chunks_per_s: storeRowsRate,
      // The raw read (this thread) and the store's rows (a worker) at once: a replay with no decoding, no hand-over, no
      // guard and no digest, each half on a core of its own; its ratio bounds what any replay of these events can reach.
      read_beside_store_rows_chunks_per_s: perSecond(beside.ms),
      read_beside_store_rows_vs_slower_baseline: round(perSecond(beside.ms) / slowerRate, 3),
      read_beside_store_rows_read_s: round(beside.value.ms / 1000, 2),
      read_beside_store_rows_insert_s: round(beside.insertMs / 1000, 2),
      // The same with every message decoded as it is read: the least any replay of these events does (it must decode
      // each message once and insert its rows), with no hand-over, guard or digest. Above it no replay can go.
      decoded_read_beside_store_rows_chunks_per_s: perSecond(decodedBeside.ms),
      decoded_read_beside_store_rows_vs_slower_baseline: round(perSecond(decodedBeside.ms) / slowerRate, 3),
      decoded_read_beside_store_rows_read_s: round(decodedBeside.value.ms / 1000, 2),
      decoded_read_beside_store_rows_insert_s: round(decodedBeside.insertMs / 1000, 2),
      replay_chunks_per_s: replayRate,
      replay_s: round(replayMs / 1000, 2),
      verify_s: round(verifyMs / 1000, 2),
      replay_vs_slower_baseline: round(replayRate / slowerRate, 3),
      replay_process_cpu_s: round(replayCpuMs / 1000, 2),
      // The same CPU by thread: main (reading, decoding, projecting), the threads the replay started (the store's worker),
      // and the helpers that ran before it (V8's GC threads, libuv's pool).
      ...(threads
        ? {
            replay_main_thread_cpu_s: round(threads.mainMs / 1000, 2),
            replay_store_worker_cpu_s: round(threads.startedMs / 1000, 2),
            replay_helper_threads_cpu_s: round(threads.helpersMs / 1000, 2),
          }
        : {}),
      ...(natsCpuMs !== undefined ? { replay_nats_server_cpu_s: round(natsCpuMs / 1000, 2) } : {}),
      // How many of the machine's cores the replay and nats-server kept busy, and the CPU each chunk took from them.
      replay_cores_busy: round(cpuMs / replayMs, 2),
      replay_cpu_us_per_chunk: Math.round((cpuMs * 1000) / texts.length),
      // What a chunk may cost, all threads and nats-server together, for the target (half the slower baseline) on these cores.
      target_cpu_us_per_chunk: Math.round((cpus * 1e6) / (0.5 * slowerRate)),
      replay_vs_store_rows: round(replayRate / storeRowsRate, 3),
      offline_windows_per_s: round(offline.windowsPerSecond, 1),
      reingest_offline_s_extrapolated: Math.round(reingestSeconds),
      reingest_over_replay: round(reingestSeconds / (replayMs / 1000), 1),
    };
  } finally {
    await nats.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await runBenchmark('replay', async () => {
  const startLoad = loadAverage();
  const results = [];
  for (const size of SIZES) results.push(await run(size));
  const file = await writeResult('replay', startLoad, { model: MODEL.id, sizes: results });
  console.log(
    table(
      ['chunks', 'raw read/s', 'raw insert/s (WAL 4 KB / build)', 'store rows/s', 'replay/s', 'replay ÷ slower', 'replay ÷ store rows', 'replay s', 'verify s', 'offline re-ingest s (extrap.)', 're-ingest ÷ replay'],
      results.map((r) => [
        String(r.chunks),
        String(r.raw_read_chunks_per_s),
        `${r.raw_insert_wal_4k_chunks_per_s} / ${r.raw_insert_build_settings_chunks_per_s}`,
        String(r.store_rows_chunks_per_s),
        String(r.replay_chunks_per_s),
        r.replay_vs_slower_baseline.toFixed(2),
        r.replay_vs_store_rows.toFixed(2),
        String(r.replay_s),
        String(r.verify_s),
        String(r.reingest_offline_s_extrapolated),
        `${r.reingest_over_replay}×`,
      ]),
    ),
  );
  console.log(`\nwritten to ${file}`);
});
