// Memory of the SQLite inference store at 100k chunks × 512-d, after deleting most documents, after re-adding, and after reopening.
// Run: npm run bench -- memory   (writes bench/results/memory.json; prints figures, never passes or fails)
//
// The store runs in its worker thread as in a node. Reported: the process RSS (what the OS sees; freed memory is not
// always returned to it at once), the bytes of the derived in-memory indexes (vector matrices, keyword postings) and
// the worker's JS heap. Whole-node RSS at 100k chunks is in bench/results/query.json; per process (spanda run roles)
// in bench/results/scaling.json.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { prng } from '../lib/prng.ts';
import type { StoreOp } from '../projections/store.ts';
import { openSqliteStore, WorkerInferenceStore } from '../projections/stores/sqlite/index.ts';
import { tempDir } from '../test/helpers/nats.ts';
import { loadAverage, note, round, runBenchmark, table, writeResult } from './lib/common.ts';
import { proseDocument } from './lib/prose.ts';

const CHUNKS = Number(process.env.BENCH_MEMORY_CHUNKS ?? 100_000);
const MODEL = { id: 'bench-512', dims: 512 } as const;
const CHUNKS_PER_DOC = 10;
const DOCS_PER_BATCH = 50;
const random = prng(99);

function unitVector(): Float32Array {
  const v = new Float32Array(MODEL.dims);
  let norm = 0;
  for (let i = 0; i < v.length; i++) {
    const x = random() - 0.5;
    v[i] = x;
    norm += x * x;
  }
  const scale = 1 / Math.sqrt(norm);
  for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) * scale;
  return v;
}

function documentOps(d: number, docSeq: number): StoreOp[] {
  const text = proseDocument(d + 1, 8000, `doc-${d}`);
  const ref = { tenant: 'default', source: 'bench', docId: `doc-${d}`, docSeq };
  const chunks = Array.from({ length: CHUNKS_PER_DOC }, (_, ordinal) => ({
    chunkId: `${docSeq}:${ordinal}`,
    ordinal,
    text: text.text.slice(ordinal * 780, ordinal * 780 + 800),
    start: ordinal * 780,
    end: ordinal * 780 + 800,
    tokens: 150,
  }));
  return [
    { ...ref, kind: 'chunks', title: text.title, metadata: { topic: text.topic }, part: { index: 0, count: 1 }, totalChunks: CHUNKS_PER_DOC, chunks },
    { ...ref, kind: 'vectors', model: MODEL.id, vectors: chunks.map((c) => ({ chunkId: c.chunkId, window: 0, vector: unitVector() })) },
  ];
}

interface Snapshot {
  readonly step: string;
  readonly chunks: number;
  readonly rssMB: number;
  readonly vectorIndexMB: number;
  readonly keywordIndexMB: number;
  readonly storeWorkerHeapMB: number;
}

await runBenchmark('memory', async () => {
  const startLoad = loadAverage();
  const dir = await tempDir('spanda-bench-memory-');
  const path = join(dir, 'inference.sqlite');
  const snapshots: Snapshot[] = [];
  let store = (await openSqliteStore({ path, model: MODEL })) as WorkerInferenceStore;
  const snap = async (step: string) => {
    (globalThis as { gc?: () => void }).gc?.();
    const m = await store.memory();
    const s: Snapshot = {
      step,
      chunks: (await store.stats()).chunks,
      rssMB: Math.round(process.memoryUsage().rss / 1e6),
      vectorIndexMB: round(m.vectorBytes / 1e6, 1),
      keywordIndexMB: round(m.keywordBytes / 1e6, 1),
      storeWorkerHeapMB: round(m.heapUsedBytes / 1e6, 1),
    };
    snapshots.push(s);
    note(`${step}: ${JSON.stringify(s)}`);
  };
  try {
    await snap('empty store');
    const docs = CHUNKS / CHUNKS_PER_DOC;
    let seq = 0;
    const put = async (ids: number[]) => {
      for (let i = 0; i < ids.length; i += DOCS_PER_BATCH) {
        await store.apply({ ops: ids.slice(i, i + DOCS_PER_BATCH).flatMap((d) => documentOps(d, ++seq)), checkpoints: {} });
      }
    };
    const all = Array.from({ length: docs }, (_, d) => d);
    await put(all);
    await snap(`${CHUNKS} chunks applied`);
    // Delete 90% of the documents.
    const deleted = all.filter((d) => d % 10 !== 0);
    for (let i = 0; i < deleted.length; i += 500) {
      await store.apply({ ops: deleted.slice(i, i + 500).map((d) => ({ kind: 'remove', tenant: 'default', source: 'bench', docId: `doc-${d}`, docSeq: ++seq })), checkpoints: {} });
    }
    await snap('90% of documents deleted');
    // New documents (new ids) for half the original size: the freed capacity is reused or regrown.
    await put(Array.from({ length: docs / 2 }, (_, i) => docs + i));
    await snap('50% re-added (new documents)');
    await store.close();
    store = (await openSqliteStore({ path, model: MODEL })) as WorkerInferenceStore;
    await store.loadKeywords();
    await snap('reopened');
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
  const file = await writeResult('memory', startLoad, {
    setup: `worker-hosted SQLite store, ${MODEL.dims}-d vectors, ${CHUNKS_PER_DOC} chunks of ~800 characters per document, one tenant; RSS is the whole benchmark process`,
    snapshots,
  });
  console.log(
    table(
      ['step', 'chunks', 'RSS MB', 'vector matrix MB', 'keyword index MB', 'worker heap MB'],
      snapshots.map((s) => [s.step, String(s.chunks), String(s.rssMB), String(s.vectorIndexMB), String(s.keywordIndexMB), String(s.storeWorkerHeapMB)]),
    ),
  );
  console.log(`\nwritten to ${file}`);
});
