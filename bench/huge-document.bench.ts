// One huge document before a model: how soon small documents published after it become searchable, and how long a stop takes meanwhile.
// Run: npm run bench -- huge-document   (writes bench/results/huge-document.json; prints figures, never passes or fails)
//
// A node with the offline model. Baseline in the same run: one-page probes published one at a time on the idle node.
// Then a document of BENCH_HUGE_BYTES (default 1.5 MB, ~2,000 chunks: minutes of model time) is published, and 2 s later
// the same probes again, one at a time: each is timed from its acknowledgement until the store holds its vectors
// (vector search finds it). Before the embedder ran long batches beside each other (processors/runner.ts,
// concurrentBatches), every probe waited for the whole huge document. Last, the node is stopped while the huge
// document is still being embedded: the stop waits SPANDA_SHUTDOWN_GRACE_MS at most, then releases it.
import { documentInputSchema, publishDocument } from '../streams/document-log.ts';
import { loadAverage, note, round, runBenchmark, sleep, summarize, table, writeResult } from './lib/common.ts';
import { startNode, startPrivateNats, type BenchNode } from './lib/node.ts';
import { proseDocument } from './lib/prose.ts';

const HUGE_BYTES = Number(process.env.BENCH_HUGE_BYTES ?? 1_500_000);
const PROBES = Number(process.env.BENCH_HUGE_PROBES ?? 8);
const TENANT = 'default';

/** Publishes one document and waits until its chunks and vectors are in the serving store; ms from the acknowledgement. */
async function timeToSearchable(node: BenchNode, seed: number, bytes: number, id: string, timeoutMs: number): Promise<number> {
  const d = proseDocument(seed, bytes, id);
  await publishDocument(node.system.nats, TENANT, documentInputSchema.parse({ id: d.id, source: 'probe', title: d.title, text: d.text }));
  const acked = performance.now();
  for (;;) {
    const state = await node.system.store.document({ tenant: TENANT, source: 'probe', docId: d.id });
    if (state && state.chunks > 0 && state.vectors > 0) return performance.now() - acked;
    if (performance.now() - acked > timeoutMs) return Number.POSITIVE_INFINITY;
    await sleep(5);
  }
}

async function probes(node: BenchNode, label: string, firstSeed: number, timeoutMs: number, count = PROBES): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    out.push(await timeToSearchable(node, firstSeed + i, 3000, `probe-${label}-${i}`, timeoutMs));
    await sleep(500);
  }
  return out;
}

await runBenchmark('huge-document', async () => {
  const startLoad = loadAverage();
  const nats = await startPrivateNats();
  const node = await startNode(nats.url, { SPANDA_EMBEDDER: 'offline' });
  let stopMs: number | undefined;
  try {
    note('warm-up: 3 one-page documents (loads the model in both threads)');
    await probes(node, 'warm', 100, 60_000, 3);
    note(`baseline: ${PROBES} one-page probes on the idle node`);
    const idle = await probes(node, 'idle', 200, 60_000);

    const huge = proseDocument(7, HUGE_BYTES, 'huge');
    await publishDocument(node.system.nats, TENANT, documentInputSchema.parse({ id: huge.id, source: 'huge', title: huge.title, text: huge.text }));
    note(`published a ${round(HUGE_BYTES / 1e6, 2)} MB document; probes start in 2 s`);
    await sleep(2000);
    // A probe left waiting behind the whole huge document would take minutes: 120 s bounds the run, and counts as ∞.
    const behind = await probes(node, 'behind', 300, 120_000);
    const hugeState = await node.system.store.document({ tenant: TENANT, source: 'huge', docId: 'huge' });
    note(`huge document after the probes: ${hugeState?.chunks ?? 0} chunks, ${hugeState?.vectors ?? 0} vectors applied; stopping the node`);
    const model = node.system.provider.info.id;
    const stopStarted = performance.now();
    await node.stop();
    stopMs = performance.now() - stopStarted;
    const figures = {
      setup: {
        hugeBytes: HUGE_BYTES,
        probe: `${PROBES} one-page documents (3,000 characters) published one at a time, 500 ms apart, each timed from its acknowledgement until vector search finds it (the store holds its vectors)`,
        model,
        stopGraceMs: node.config.shutdownGraceMs,
      },
      idleMs: summarize(idle, 1),
      behindHugeMs: behind.some(Number.isFinite) ? summarize(behind.filter(Number.isFinite), 1) : null,
      behindNotSearchableIn120s: behind.filter((ms) => !Number.isFinite(ms)).length,
      hugeDocument: { chunks: hugeState?.chunks ?? 0, vectorsWhenProbesEnded: hugeState?.vectors ?? 0 },
      stopWithHugeInFlightMs: round(stopMs, 0),
    };
    const file = await writeResult('huge-document', startLoad, figures);
    console.log(
      table(
        ['probes', 'p50 ms', 'max ms', 'not searchable within 120 s'],
        [
          ['idle node', String(figures.idleMs.p50), String(figures.idleMs.max), '0'],
          [
            `behind a ${round(HUGE_BYTES / 1e6, 2)} MB document`,
            String(figures.behindHugeMs?.p50 ?? '–'),
            String(figures.behindHugeMs?.max ?? '–'),
            String(figures.behindNotSearchableIn120s),
          ],
        ],
      ),
    );
    console.log(`\nhuge document: ${figures.hugeDocument.chunks} chunks, ${figures.hugeDocument.vectorsWhenProbesEnded} vectors when the probes ended; node stop ${figures.stopWithHugeInFlightMs} ms\nwritten to ${file}`);
  } finally {
    await node.stop();
    await nats.stop();
  }
});
