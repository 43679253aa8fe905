// Batched POST /v1/documents: documents/s accepted (202) by 4 clients sending batches of 500 documents of ~1 KB while the node indexes them, against raw JetStream publishing in the same run.
// Run: npm run bench -- post   (writes bench/results/post.json; prints figures, never passes or fails)
import { fromRoot, loadAverage, note, round, runBenchmark, summarize, table, writeResult, type Summary } from './lib/common.ts';
import { runChildClient } from './lib/child-client.ts';
import { jetstreamBaseline } from './lib/jetstream.ts';
import { startNode, startPrivateNats, waitForDrained } from './lib/node.ts';
import { proseCorpus } from './lib/prose.ts';

const CLIENTS = Number(process.env.BENCH_POST_CLIENTS ?? 4);
const BATCH = Number(process.env.BENCH_POST_BATCH ?? 500);
const BATCHES_PER_CLIENT = Number(process.env.BENCH_POST_BATCHES ?? 5);
const ROUNDS = Number(process.env.BENCH_POST_ROUNDS ?? 3);
/** Batches each client sends to the fresh node before the measured ones (BENCH_POST_WARMUP_BATCHES). */
const WARMUP_BATCHES = Number(process.env.BENCH_POST_WARMUP_BATCHES ?? 2);

/** One timed pass of CLIENTS × BATCHES_PER_CLIENT batches. */
interface Pass {
  readonly documents: number;
  readonly seconds: number;
  readonly docs_per_s: number;
  readonly vsRawPublish: number;
  readonly requestMs: Summary;
}

interface Round extends Pass {
  readonly round: number;
  readonly load: number;
  readonly rawPublishPerSecond: number;
  /** The same pass from clients in a process of their own (bench/lib/post-client.mjs), as a deployment's clients are. */
  readonly separate: Pass;
  /** Which pass ran first on this round's node (they alternate from round to round). */
  readonly first: 'in-process' | 'separate';
}

const CLIENT_SCRIPT = fromRoot('bench/lib/post-client.mjs');

/** Runs bench/lib/post-client.mjs in a child process (plain Node) and returns what it printed. */
const childClients = (input: Record<string, unknown>) => runChildClient<{ times: number[]; seconds: number }>(CLIENT_SCRIPT, input, 'POST client');

type Doc = { id: string; source: string; title: string; text: string; contentType: string };
const documentsOf = (count: number, seed: number, prefix: string): Doc[] =>
  proseCorpus(count, 800, 1200, seed, prefix).map((d) => ({ id: d.id, source: 'bench', title: d.title, text: d.text, contentType: 'text/plain' }));

await runBenchmark('post', async () => {
  const startLoad = loadAverage();
  const rounds: Round[] = [];
  for (let r = 1; r <= ROUNDS; r++) {
    const nats = await startPrivateNats();
    const node = await startNode(nats.url, { SPANDA_EMBEDDER: 'hash' });
    try {
      const total = CLIENTS * BATCH * BATCHES_PER_CLIENT;
      const docs = documentsOf(total, 50 + r, `post${r}`);
      const separateDocs = documentsOf(total, 70 + r, `sep${r}`);
      // The same payload sizes published raw (acked, 64 in flight) on the same server just before: the ceiling of publishing.
      const payloads = docs.map((d) => new TextEncoder().encode(JSON.stringify({ tenant: 'default', ...d, contentHash: `sha256:${'0'.repeat(64)}` })));
      await jetstreamBaseline(nats.handle, payloads.slice(0, 1000), `postwarm${r}`, 64); // a fresh client and server are slow at first
      const raw = await jetstreamBaseline(nats.handle, payloads, `post${r}`, 64);
      const load = loadAverage()[0];
      note(`round ${r}: ${CLIENTS} clients × ${BATCHES_PER_CLIENT} batches of ${BATCH}; raw publish ${raw.publish.perSecond}/s`);
      /** Each client sends `batches` batches of `of`, one after another; the request latencies. */
      const send = async (of: readonly unknown[], batches: number): Promise<number[]> => {
        const times: number[] = [];
        await Promise.all(
          Array.from({ length: CLIENTS }, async (_, c) => {
            for (let b = 0; b < batches; b++) {
              const from = (c * batches + b) * BATCH;
              const t = performance.now();
              const response = await fetch(`${node.system.apiUrl}/v1/documents`, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify({ documents: of.slice(from, from + BATCH) }),
              });
              const body = await response.text();
              if (response.status !== 202) throw new Error(`POST /v1/documents answered ${response.status}: ${body.slice(0, 300)}`);
              times.push(performance.now() - t);
            }
          }),
        );
        return times;
      };
      const pass = (times: number[], seconds: number): Pass => ({
        documents: total,
        seconds: round(seconds, 2),
        docs_per_s: round(total / seconds, 1),
        vsRawPublish: round(total / seconds / raw.publish.perSecond, 3),
        requestMs: summarize(times, 1),
      });
      const inProcess = async (): Promise<Pass> => {
        const started = performance.now();
        const times = await send(docs, BATCHES_PER_CLIENT);
        return pass(times, (performance.now() - started) / 1000);
      };
      const separate = async (): Promise<Pass> => {
        const { times, seconds } = await childClients({ url: node.system.apiUrl, clients: CLIENTS, batches: BATCHES_PER_CLIENT, batch: BATCH, documents: separateDocs });
        return pass(times, seconds);
      };
      // A just-started node's threads are still compiling their hot code: other documents first, indexed to the end,
      // so the measured batches meet a running node, as the raw baseline above meets a warmed-up client and server.
      if (WARMUP_BATCHES > 0) {
        const warm = documentsOf(CLIENTS * WARMUP_BATCHES * BATCH, 90 + r, `warm${r}`);
        const warmStarted = performance.now();
        await send(warm, WARMUP_BATCHES);
        note(`round ${r}: warm-up ${warm.length} documents accepted at ${round(warm.length / ((performance.now() - warmStarted) / 1000))}/s on the fresh node; waiting for them to be indexed`);
        await waitForDrained(node.system);
      }
      // Both passes on the same node, each into an idle node (the other's documents indexed to the end), in an order
      // that alternates from round to round so neither always meets the larger store.
      const first = r % 2 === 1 ? 'separate' : 'in-process';
      let here: Pass;
      let apart: Pass;
      if (first === 'separate') {
        apart = await separate();
        await waitForDrained(node.system);
        here = await inProcess();
      } else {
        here = await inProcess();
        await waitForDrained(node.system);
        apart = await separate();
      }
      rounds.push({ round: r, load, rawPublishPerSecond: raw.publish.perSecond, ...here, separate: apart, first });
      note(`round ${r}: clients in the node's process ${here.docs_per_s} documents/s (${here.vsRawPublish} of raw publish); in their own process ${apart.docs_per_s} (${apart.vsRawPublish})`);
    } finally {
      await node.stop();
      await nats.stop();
    }
  }
  // The headline is the clients in their own process, as a deployment's are; the median round by that figure.
  const sorted = [...rounds].sort((a, b) => a.separate.docs_per_s - b.separate.docs_per_s);
  const median = sorted[Math.floor(sorted.length / 2)] as Round;
  const file = await writeResult('post', startLoad, {
    setup:
      `${CLIENTS} clients, each sending ${BATCHES_PER_CLIENT} batches of ${BATCH} documents of 0.8–1.2 KB to POST /v1/documents of a node (hash embedder) that indexes them meanwhile; raw = the same payloads published to a fresh stream just before (acked, 64 in flight). Each round times two passes of other documents on the same node, each started on an idle node, in alternating order: the clients in a process of their own (bench/lib/post-client.mjs, plain Node, as a deployment's clients are) and the clients in the node's process (their JSON and fetch work then runs on the node's event loop)` +
      (WARMUP_BATCHES > 0 ? `. Each fresh node first takes ${WARMUP_BATCHES} batches per client of other documents, indexed to the end, and the raw client publishes 1,000 payloads, before anything is timed (a just-started process is slow until its hot code is compiled)` : ''),
    target: { docs_per_s: 5000 },
    medianRound: median.round,
    rounds,
  });
  console.log(
    table(
      ['round', 'load', 'raw publish/s', 'first', 'own process: documents/s', 'ratio', 'request p50 / p99 ms', "node's process: documents/s", 'ratio', 'request p50 / p99 ms'],
      rounds.map((x) => [
        String(x.round),
        String(x.load),
        String(x.rawPublishPerSecond),
        x.first,
        String(x.separate.docs_per_s),
        String(x.separate.vsRawPublish),
        `${x.separate.requestMs.p50} / ${x.separate.requestMs.p99}`,
        String(x.docs_per_s),
        String(x.vsRawPublish),
        `${x.requestMs.p50} / ${x.requestMs.p99}`,
      ]),
    ),
  );
  console.log(`\nmedian round ${median.round}: clients in their own process ${median.separate.docs_per_s} documents/s (in the node's process ${median.docs_per_s}); written to ${file}`);
});
