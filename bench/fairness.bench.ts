// One tenant's import ahead of another's documents: how long the other tenant's documents take to become searchable while it runs.
// Run: npm run bench -- fairness   (writes bench/results/fairness.json; prints figures, never passes or fails)
//
// Every stage reads its stream in order, every tenant together (README, "Tenants share the pipeline"). A node with the
// hash embedder, warmed up by a burst. Baseline in the same run: one-page probes of tenant "light", published one at a
// time on the idle node. Then tenant "heavy" publishes an import of BENCH_FAIRNESS_IMPORT documents of 1-4 KB from a
// process of its own (an upstream system), and tenant "light" publishes a probe every PROBE_EVERY_MS meanwhile, each
// timed from its acknowledgement until the store holds its chunks and vectors. The import's own rate (its documents ÷
// the time until the node has worked through them) predicts what a probe waits: the documents ahead of it ÷ that rate.
// Then the same import again, uploaded as NDJSON through the API with an API key whose document quota
// (documentLimit, api/document-quota.ts) is half the rate the first import was indexed at.
import { Kvm } from '@nats-io/kv';
import { createHash } from 'node:crypto';
import { documentInputSchema, publishDocument } from '../streams/document-log.ts';
import { startLoadPublisher } from './lib/child-client.ts';
import { loadAverage, note, round, runBenchmark, sleep, summarize, table, writeResult } from './lib/common.ts';
import { startNode, startPrivateNats, waitForDrained, type BenchNode, type PrivateNats } from './lib/node.ts';
import { proseCorpus, proseDocument } from './lib/prose.ts';

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

/** A burst of `count` documents of tenant `tenant` from a process of its own, ready to go. */
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

interface ImportRun {
  readonly publishedMs: number;
  readonly indexedMs: number;
  /** Each probe's time from acknowledgement until searchable. */
  readonly probesMs: number[];
}

/**
 * Starts an import with `go` (resolving once it is all published), publishes a probe of tenant "light" every
 * PROBE_EVERY_MS until the node has worked through everything, and times each probe with one poller for all of them
 * (a slow probe never delays timing the next).
 */
async function probesDuring(node: BenchNode, label: string, go: () => Promise<void>): Promise<ImportRun> {
  const started = performance.now();
  let drained = false;
  const draining = (async () => {
    await go();
    const publishedMs = performance.now() - started;
    await waitForDrained(node.system, 600_000);
    drained = true;
    return { publishedMs, indexedMs: performance.now() - started };
  })();
  draining.catch(() => {
    drained = true;
  });
  const probes: Probe[] = [];
  const publishing = (async () => {
    for (let i = 0; !drained; i++) {
      const id = `${label}-${i}`;
      probes.push({ id, ackedAt: (await publishProbe(node, id, 2_000 + i)) - started });
      await sleep(PROBE_EVERY_MS);
    }
  })();
  while (!drained || probes.some((p) => p.searchableMs === undefined)) {
    for (const p of probes) {
      if (p.searchableMs !== undefined) continue;
      if (await searchable(node, p.id)) p.searchableMs = performance.now() - started - p.ackedAt;
      else if (performance.now() - started - p.ackedAt > PROBE_TIMEOUT_MS) throw new Error(`probe ${p.id} was not searchable within ${PROBE_TIMEOUT_MS / 1000} s`);
    }
    await sleep(POLL_MS);
  }
  const run = await draining;
  await publishing;
  return { ...run, probesMs: probes.map((p) => p.searchableMs as number) };
}

/** Uploads `count` documents of the importer's key as one NDJSON stream; fails unless every line was published. */
async function uploadNdjson(apiUrl: string, key: string, count: number): Promise<void> {
  const body = proseCorpus(count, 1000, 4000, 3, 'quota')
    .map((d) => JSON.stringify({ id: d.id, source: 'import', title: d.title, text: d.text, contentType: 'text/plain' }))
    .join('\n');
  const response = await fetch(`${apiUrl}/v1/documents`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-ndjson' }, body });
  const results = (await response.text()).trim().split('\n');
  const failed = results.filter((line) => !('seq' in (JSON.parse(line) as object)));
  if (response.status !== 200 || results.length !== count || failed.length > 0) {
    throw new Error(`the NDJSON upload answered ${response.status} with ${results.length} results for ${count} lines, ${failed.length} failed (first: ${failed[0] ?? 'none'})`);
  }
}

const IMPORTER_KEY = 'bench-importer-0123456789abcdef0123';
const KEYS_BUCKET = 'bench-api-keys';

/** Waits until the node knows `key` (a key store following a bucket learns of a new key within moments). */
async function keyKnown(apiUrl: string, key: string): Promise<void> {
  for (let i = 0; ; i++) {
    // The importer may only publish: 403 for a key the node knows, 401 until it does.
    const response = await fetch(`${apiUrl}/v1/documents/import/none`, { headers: { authorization: `Bearer ${key}` } });
    await response.body?.cancel();
    if (response.status !== 401) return;
    if (i >= 100) throw new Error('the node did not learn the importer key from its KV bucket within 10 s');
    await sleep(100);
  }
}

await runBenchmark('fairness', async () => {
  const startLoad = loadAverage();
  const nats = await startPrivateNats();
  // The importer's quota is set once the unpaced import has measured the node's rate: the node follows a KV bucket of
  // keys, and the key is written there then.
  const node = await startNode(nats.url, { SPANDA_EMBEDDER: 'hash', SPANDA_API_KEYS_BUCKET: KEYS_BUCKET });
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
    const unpaced = await probesDuring(node, 'during', async () => {
      heavy.go();
      await heavy.done;
    });
    const importRate = IMPORT / (unpaced.indexedMs / 1000);

    const quota = Math.max(1, Math.round(importRate / 2));
    note(`the same import as NDJSON through the API, its key's document quota ${quota}/s (half the rate above)`);
    const kv = await new Kvm(nats.handle.js).open(KEYS_BUCKET);
    // A burst of a tenth of a second's worth: what the key may publish at once after a pause.
    const burstAllowed = Math.max(1, Math.round(quota / 10));
    await kv.put(createHash('sha256').update(IMPORTER_KEY).digest('hex'), JSON.stringify({ tenant: HEAVY, scopes: ['publish'], documentLimit: { perSecond: quota, burst: burstAllowed } }));
    await keyKnown(node.system.apiUrl, IMPORTER_KEY);
    const paced = await probesDuring(node, 'paced', () => uploadNdjson(node.system.apiUrl, IMPORTER_KEY, IMPORT));

    const figures = {
      setup: {
        import: `${IMPORT.toLocaleString('en-US')} documents of 1-4 KB of tenant "${HEAVY}", published 64 in flight by a process of its own after a warm-up of ${WARMUP.toLocaleString('en-US')}`,
        probe: `documents of ${PROBE_BYTES.toLocaleString('en-US')} bytes of tenant "${LIGHT}", one every ${PROBE_EVERY_MS} ms during the import (one at a time on the idle node), each timed from its acknowledgement until the store holds its chunks and vectors`,
        paced: `the same number of documents uploaded as one NDJSON stream through POST /v1/documents with an API key whose documentLimit is half the rate the first import was indexed at (burst: a tenth of a second's worth)`,
        model: node.system.provider.info.id,
      },
      idleMs: summarize(idle, 1),
      import: {
        documents: IMPORT,
        publishedS: round(unpaced.publishedMs / 1000, 2),
        indexedS: round(unpaced.indexedMs / 1000, 2),
        documentsPerSecond: round(importRate, 1),
      },
      duringImportMs: summarize(unpaced.probesMs, 1),
      /** The slowest probe's wait against the import's own time to be indexed (what the documents ahead of it took). */
      slowestOfImportTime: round(slowest(unpaced.probesMs) / unpaced.indexedMs, 2),
      paced: {
        quotaPerSecond: quota,
        quotaBurst: burstAllowed,
        indexedS: round(paced.indexedMs / 1000, 2),
        documentsPerSecond: round(IMPORT / (paced.indexedMs / 1000), 1),
        duringMs: summarize(paced.probesMs, 1),
      },
    };
    const file = await writeResult('fairness', startLoad, figures);
    console.log(
      table(
        ['tenant light probes', 'n', 'p50 ms', 'p99 ms', 'max ms'],
        [
          ['idle node', String(figures.idleMs.n), String(figures.idleMs.p50), String(figures.idleMs.p99), String(figures.idleMs.max)],
          [`during tenant heavy's import of ${IMPORT}`, String(figures.duringImportMs.n), String(figures.duringImportMs.p50), String(figures.duringImportMs.p99), String(figures.duringImportMs.max)],
          [`during the same import at a quota of ${quota}/s`, String(figures.paced.duringMs.n), String(figures.paced.duringMs.p50), String(figures.paced.duringMs.p99), String(figures.paced.duringMs.max)],
        ],
      ),
    );
    console.log(
      `\nimport: published in ${figures.import.publishedS} s, indexed in ${figures.import.indexedS} s (${figures.import.documentsPerSecond} documents/s); the slowest probe waited ${figures.slowestOfImportTime} of that; under the quota indexed in ${figures.paced.indexedS} s\nwritten to ${file}`,
    );
  } finally {
    await node.stop();
    await nats.stop();
  }
});
