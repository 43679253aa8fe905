// Many tenants in one SQLite inference store: the cost of a new tenant as their number grows, the file, and reopening.
// Run: npm run bench -- tenants   (writes bench/results/tenants.json; prints figures, never passes or fails)
//
// Until schema 2 the store kept one FTS5 table per tenant: SQLite scans its whole schema to create a table and parses it
// whole to open a file, so a new tenant cost more the more there were (30 ms each at 5,000) and reopening took seconds.
// Now a tenant is a column and an entry in the in-memory indexes; what it still costs is measured here, memory
// included. Baseline in the same run: the same documents in one tenant.
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { StoreOp } from '../projections/store.ts';
import { openSqliteStore, type WorkerInferenceStore } from '../projections/stores/sqlite/index.ts';
import { tempDir } from '../test/helpers/nats.ts';
import { loadAverage, note, round, runBenchmark, summarize, table, writeResult } from './lib/common.ts';

const TENANTS = Number(process.env.BENCH_TENANTS ?? 20000);
const STEP = Math.max(1, Math.floor(TENANTS / 5));
const BATCH = 50;
const MODEL = { id: 'bench-64', dims: 64 } as const;

function documentOps(tenant: string, d: number): StoreOp[] {
  const ref = { tenant, source: 'bench', docId: `doc-${d}`, docSeq: d + 1 };
  const vector = new Float32Array(MODEL.dims).fill(1 / Math.sqrt(MODEL.dims));
  return [
    {
      ...ref,
      kind: 'chunks',
      title: `Document ${d}`,
      metadata: {},
      part: { index: 0, count: 1 },
      totalChunks: 1,
      chunks: [{ chunkId: `${d + 1}:0`, ordinal: 0, text: `notes of ${tenant} about walruses, glaciers and document ${d}`, start: 0, end: 60, tokens: 12 }],
    },
    { ...ref, kind: 'vectors', model: MODEL.id, vectors: [{ chunkId: `${d + 1}:0`, window: 0, vector }] },
  ];
}

/** The file with its write-ahead log (what the store takes on disk before a checkpoint folds one into the other). */
async function sizeMB(path: string): Promise<number> {
  const sizes = await Promise.all(['', '-wal'].map((suffix) => stat(`${path}${suffix}`).then((s) => s.size, () => 0)));
  return round((sizes[0] ?? 0) / 1e6 + (sizes[1] ?? 0) / 1e6, 1);
}

/** Applies `count` documents from `from` on, `tenantOf(d)` naming each one's tenant; milliseconds taken. */
async function applyDocuments(store: WorkerInferenceStore, from: number, count: number, tenantOf: (d: number) => string): Promise<number> {
  const started = performance.now();
  for (let d = from; d < from + count; d += BATCH) {
    const ops = Array.from({ length: Math.min(BATCH, from + count - d) }, (_, i) => documentOps(tenantOf(d + i), d + i)).flat();
    await store.apply({ ops, checkpoints: {} });
  }
  return performance.now() - started;
}

interface Step {
  readonly tenants: number;
  readonly msPerNewTenant: number;
  readonly fileMB: number;
}

await runBenchmark('tenants', async () => {
  const startLoad = loadAverage();
  const dir = await tempDir('spanda-bench-tenants-');
  const manyPath = join(dir, 'many.sqlite');
  const onePath = join(dir, 'one.sqlite');
  const steps: Step[] = [];
  let reopen: { ms: number; queryP50Ms: number; indexesMB: number; workerHeapMB: number; closedFileMB: number } | undefined;
  let baseline: { msPerDocument: number; fileMB: number; reopenMs: number; indexesMB: number; workerHeapMB: number } | undefined;
  /** The store's in-memory indexes and its worker's heap once loaded. */
  const memoryOf = async (store: WorkerInferenceStore) => {
    const m = await store.memory();
    return { indexesMB: round((m.vectorBytes + m.keywordBytes) / 1e6, 1), workerHeapMB: round(m.heapUsedBytes / 1e6, 1) };
  };
  try {
    let store = (await openSqliteStore({ path: manyPath, model: MODEL })) as WorkerInferenceStore;
    for (let done = 0; done < TENANTS; done += STEP) {
      const ms = await applyDocuments(store, done, STEP, (d) => `t${d}`);
      const step = { tenants: done + STEP, msPerNewTenant: round(ms / STEP, 2), fileMB: await sizeMB(manyPath) };
      steps.push(step);
      note(`${JSON.stringify(step)}`);
    }
    await store.close();
    // Closed, the WAL is folded into the file: comparable with the baseline's file, measured closed too.
    const closedFileMB = await sizeMB(manyPath);
    let started = performance.now();
    store = (await openSqliteStore({ path: manyPath, model: MODEL })) as WorkerInferenceStore;
    await store.loadKeywords();
    const reopenMs = performance.now() - started;
    const latencies: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      await store.search({ tenant: `t${(i * 97) % TENANTS}`, mode: 'keyword', k: 5, text: 'walruses', vectorWeight: 0 }, {});
      latencies.push(performance.now() - t);
    }
    reopen = { ms: round(reopenMs, 0), queryP50Ms: summarize(latencies).p50, ...(await memoryOf(store)), closedFileMB };
    await store.close();

    // The same number of documents in one tenant.
    let one = (await openSqliteStore({ path: onePath, model: MODEL })) as WorkerInferenceStore;
    const ms = await applyDocuments(one, 0, TENANTS, () => 'only');
    await one.close();
    const fileMB = await sizeMB(onePath);
    started = performance.now();
    one = (await openSqliteStore({ path: onePath, model: MODEL })) as WorkerInferenceStore;
    await one.loadKeywords();
    baseline = { msPerDocument: round(ms / TENANTS, 3), fileMB, reopenMs: round(performance.now() - started, 0), ...(await memoryOf(one)) };
    await one.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const file = await writeResult('tenants', startLoad, {
    setup: `worker-hosted SQLite store, one document of one chunk (${MODEL.dims}-d) per tenant, applied ${BATCH} documents a batch; baseline: the same documents in one tenant`,
    steps,
    reopen,
    baseline,
  });
  console.log(
    table(
      ['tenants', 'ms per new tenant (its first document)', 'file MB'],
      steps.map((s) => [String(s.tenants), String(s.msPerNewTenant), String(s.fileMB)]),
    ),
  );
  console.log(`\nfile ${reopen?.closedFileMB} MB once closed; reopened in ${reopen?.ms} ms; keyword query p50 ${reopen?.queryP50Ms} ms; indexes ${reopen?.indexesMB} MB, worker heap ${reopen?.workerHeapMB} MB`);
  console.log(
    `baseline, ${TENANTS} documents in one tenant: ${baseline?.msPerDocument} ms per document, ${baseline?.fileMB} MB, reopened in ${baseline?.reopenMs} ms; ` +
      `indexes ${baseline?.indexesMB} MB, worker heap ${baseline?.workerHeapMB} MB`,
  );
  console.log(`\nwritten to ${file}`);
});
