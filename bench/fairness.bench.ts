// One tenant's import ahead of another's documents: how long the other tenant's documents take to become searchable while it runs.
// Run: npm run bench -- fairness   (writes bench/results/fairness.json; prints figures, never passes or fails)
//
// Every stage reads its stream in order, every tenant together (README, "Tenants share the pipeline"). A node with the
// hash embedder, warmed up by a burst. Baseline in the same run: one-page probes of tenant "light", published one at a
// time on the idle node. Then tenant "heavy" publishes an import of BENCH_FAIRNESS_IMPORT documents of 1-4 KB from a
// process of its own (an upstream system), and tenant "light" publishes a probe every PROBE_EVERY_MS meanwhile, each
// timed from its acknowledgement until the store holds its chunks and vectors. The import's own rate (its documents ÷
// the time until the node has worked through them) predicts what a probe waits: the documents ahead of it ÷ that rate.
import { documentInputSchema, publishDocument } from '../streams/document-log.ts';
import { startLoadPublisher } from './lib/child-client.ts';
import { loadAverage, note, round, runBenchmark, sleep, summarize, table, writeResult } from './lib/common.ts';
import { startNode, startPrivateNats, waitForDrained, type BenchNode, type PrivateNats } from './lib/node.ts';
import { proseDocument } from './lib/prose.ts';

const IMPORT = Number(process.env.BENCH_FAIRNESS_IMPORT ?? 10_000);
const WARMUP = Number(process.env.BENCH_FAIRNESS_WARMUP ?? 2_000);
const IDLE_PROBES = Number(process.env.BENCH_FAIRNESS_IDLE_PROBES ?? 20);
const PROBE_EVERY_MS = 250;
const PROBE_BYTES = 1500;
const POLL_MS = 2;
const PROBE_TIMEOUT_MS = 300_000;
const LIGHT = 'light';
const HEAVY = 'heavy';

interface Probe {
  readonly id: string;
  /** ms since the import started publishing, when the probe was acknowledged. */
  readonly ackedAt: number;
  searchableMs?: number;
}

const slowest = (values: readonly number[]): number => values.reduce((a, b) => Math.max(a, b), 0);

/** Publishes one probe of tenant "light"; resolves with its acknowledgement time (performance.now()). */
async function publishProbe(node: BenchNode, id: string, seed: number): Promise<number> {
  const d = proseDocument(seed, PROBE_BYTES, id);
  await publishDocument(node.system.nats, LIGHT, documentInputSchema.parse({ id, source: 'probe', title: d.title, text: d.text, contentType: 'text/plain' }));
  return performance.now();
}

async function searchable(node: BenchNode, id: string): Promise<boolean> {
  const state = await node.system.store.document({ tenant: LIGHT, source: 'probe', docId: id });
  return state !== undefined && state.chunks > 0 && state.vectors > 0;
}

/** Probes one at a time on the idle node: ms from acknowledgement until searchable. */
async function idleProbes(node: BenchNode): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < IDLE_PROBES; i++) {
    const id = `idle-${i}`;
    const acked = await publishProbe(node, id, 1_000 + i);
    while (!(await searchable(node, id))) {
      if (performance.now() - acked > PROBE_TIMEOUT_MS) throw new Error(`probe ${id} was not searchable within ${PROBE_TIMEOUT_MS / 1000} s on the idle node`);
      await sleep(POLL_MS);
    }
    out.push(performance.now() - acked);
    await sleep(100);
  }
  return out;
}

/** Runs a burst of `count` documents of tenant `tenant` from a process of its own; resolves once it is published. */
async function burst(nats: PrivateNats, tenant: string, count: number, seed: number, prefix: string) {
  const publisher = await startLoadPublisher({
    natsUrl: nats.url,
    tenant,
    source: 'import',
    producer: '/bench/fairness',
    burst: { count, minBytes: 1000, maxBytes: 4000, seed, prefix },
  });
  return publisher;
}

await runBenchmark('fairness', async () => {
  const startLoad = loadAverage();
  const nats = await startPrivateNats();
  const node = await startNode(nats.url, { SPANDA_EMBEDDER: 'hash' });
  try {
    note(`warm-up: ${WARMUP} documents of tenant ${HEAVY}`);
    const warm = await burst(nats, HEAVY, WARMUP, 1, 'warm');
    warm.go();
    await warm.done;
    await waitForDrained(node.system);
    note(`baseline: ${IDLE_PROBES} probes of tenant ${LIGHT} on the idle node`);
    const idle = await idleProbes(node);

    note(`import: ${IMPORT} documents of tenant ${HEAVY}; a probe of tenant ${LIGHT} every ${PROBE_EVERY_MS} ms until the node has worked through it`);
    const heavy = await burst(nats, HEAVY, IMPORT, 2, 'import');
    const started = performance.now();
    heavy.go();
    let drained = false;
    const draining = (async () => {
      await heavy.done;
      const publishedAt = performance.now() - started;
      await waitForDrained(node.system, 600_000);
      drained = true;
      return { publishedMs: publishedAt, drainedMs: performance.now() - started };
    })();
    const probes: Probe[] = [];
    const publishing = (async () => {
      for (let i = 0; !drained; i++) {
        const id = `during-${i}`;
        probes.push({ id, ackedAt: (await publishProbe(node, id, 2_000 + i)) - started });
        await sleep(PROBE_EVERY_MS);
      }
    })();
    // One poller for every probe still waiting, so a slow probe never delays timing the next.
    while (!drained || probes.some((p) => p.searchableMs === undefined)) {
      for (const p of probes) {
        if (p.searchableMs !== undefined) continue;
        if (await searchable(node, p.id)) p.searchableMs = performance.now() - started - p.ackedAt;
        else if (performance.now() - started - p.ackedAt > PROBE_TIMEOUT_MS) throw new Error(`probe ${p.id} was not searchable within ${PROBE_TIMEOUT_MS / 1000} s`);
      }
      await sleep(POLL_MS);
    }
    const importRun = await draining;
    await publishing;
    const importRate = IMPORT / (importRun.drainedMs / 1000);
    const during = probes.map((p) => p.searchableMs as number);
    const figures = {
      setup: {
        import: `${IMPORT.toLocaleString('en-US')} documents of 1-4 KB of tenant "${HEAVY}", published 64 in flight by a process of its own after a warm-up of ${WARMUP.toLocaleString('en-US')}`,
        probe: `documents of ${PROBE_BYTES.toLocaleString('en-US')} bytes of tenant "${LIGHT}", one every ${PROBE_EVERY_MS} ms during the import (one at a time on the idle node), each timed from its acknowledgement until the store holds its chunks and vectors`,
        model: node.system.provider.info.id,
      },
      idleMs: summarize(idle, 1),
      import: {
        documents: IMPORT,
        publishedS: round(importRun.publishedMs / 1000, 2),
        indexedS: round(importRun.drainedMs / 1000, 2),
        documentsPerSecond: round(importRate, 1),
      },
      duringImportMs: summarize(during, 1),
      /** The slowest probe's wait against the import's own time to be indexed (what the documents ahead of it took). */
      slowestOfImportTime: round(slowest(during) / importRun.drainedMs, 2),
    };
    const file = await writeResult('fairness', startLoad, figures);
    console.log(
      table(
        ['tenant light probes', 'n', 'p50 ms', 'p99 ms', 'max ms'],
        [
          ['idle node', String(figures.idleMs.n), String(figures.idleMs.p50), String(figures.idleMs.p99), String(figures.idleMs.max)],
          [`during tenant heavy's import of ${IMPORT}`, String(figures.duringImportMs.n), String(figures.duringImportMs.p50), String(figures.duringImportMs.p99), String(figures.duringImportMs.max)],
        ],
      ),
    );
    console.log(
      `\nimport: published in ${figures.import.publishedS} s, indexed in ${figures.import.indexedS} s (${figures.import.documentsPerSecond} documents/s); the slowest probe waited ${figures.slowestOfImportTime} of that\nwritten to ${file}`,
    );
  } finally {
    await node.stop();
    await nats.stop();
  }
});
