// Scaling out by process: the ingest benchmark with 1 and 2 `spanda run embedder` processes, hash and offline model, with each process's CPU and RSS.
// Run: npm run bench -- scaling   (writes bench/results/scaling.json; prints figures, never passes or fails)
//
// On a private nats-server per run: one `spanda run chunker projector api` process and 1 or 2 `spanda run embedder`
// processes (competing consumers on one durable consumer), all separate OS processes. The benchmark publishes the
// documents itself (64 in flight) and times until the embedder consumer has processed every CHUNKS message and the
// projector's store holds every vector (GET /v1/documents of the last document shows its vectors).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { cpus } from 'node:os';
import { embedderConsumer, processedUpTo } from '../projections/read-your-writes.ts';
import { documentInputSchema, publishDocument, type ValidDocumentInput } from '../streams/document-log.ts';
import { STREAMS } from '../streams/provision.ts';
import { mapLimit } from '../streams/publisher.ts';
import { freePort } from '../streams/server.ts';
import { tempDir } from '../test/helpers/nats.ts';
import { fromRoot, loadAverage, note, onCleanup, round, runBenchmark, sleep, table, writeResult } from './lib/common.ts';
import { processCpuMs } from './lib/jetstream.ts';
import { startPrivateNats } from './lib/node.ts';
import { proseCorpus } from './lib/prose.ts';

const BIN = fromRoot('bin/spanda.js');
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const HASH_DOCS = env('BENCH_SCALING_DOCS', 3000);
const OFFLINE_DOCS = env('BENCH_SCALING_OFFLINE_DOCS', 60);
const ROUNDS = env('BENCH_SCALING_ROUNDS', 1);
const TENANT = 'default';

interface Proc {
  readonly child: ChildProcess;
  readonly roles: string;
  readonly api: string | null;
}

/** Starts `spanda run <roles>` and resolves once it prints its JSON banner. */
async function runRoles(natsUrl: string, roles: string[], embedder: string, extra: string[] = []): Promise<Proc> {
  const dir = await tempDir('spanda-bench-role-');
  const child = spawn(process.execPath, [BIN, 'run', ...roles, '--json', '--nats-url', natsUrl, '--data-dir', dir, '--embedder', embedder, ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const unregister = onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    await rm(dir, { recursive: true, force: true });
  });
  child.once('exit', () => unregister);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`spanda run ${roles.join(' ')} did not start:\n${out}`)), 120_000);
    child.stdout?.on('data', () => {
      const line = out.split('\n').find((l) => l.startsWith('{"status":"running"'));
      if (line) {
        clearTimeout(timer);
        resolve({ child, roles: roles.join('+'), api: (JSON.parse(line) as { api: string | null }).api });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`spanda run ${roles.join(' ')} exited with ${code}:\n${out}`));
    });
  });
}

function rssMB(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Math.round(Number(match[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

async function stop(procs: readonly Proc[]): Promise<void> {
  await Promise.all(
    procs.map(async (p) => {
      if (p.child.exitCode !== null || p.child.signalCode !== null) return;
      p.child.kill('SIGTERM');
      await new Promise((r) => p.child.once('exit', r));
    }),
  );
}

async function oneRun(model: 'hash' | 'offline', embedders: number, docs: readonly ValidDocumentInput[]) {
  const nats = await startPrivateNats();
  const procs: Proc[] = [];
  try {
    const main = await runRoles(nats.url, ['chunker', 'projector', 'api'], model, ['--port', String(await freePort())]);
    procs.push(main);
    for (let i = 0; i < embedders; i++) procs.push(await runRoles(nats.url, ['embedder'], model));
    const modelId = model === 'hash' ? 'hash-256' : 'use-lite-512';
    // Warm up the embedders (the offline model loads lazily) with one document, then time the corpus.
    const warm = documentInputSchema.parse({ id: 'warm-up', source: 'warm', text: 'Warming up the embedders before timing.', contentType: 'text/plain' });
    await publishDocument(nats.handle, TENANT, warm);
    await waitFor(async () => processedUpTo(nats.handle, STREAMS.CHUNKS, embedderConsumer(modelId), 1), 300_000);
    const cpuBefore = new Map(procs.map((p) => [p, processCpuMs(p.child.pid as number) ?? 0]));
    const natsBefore = processCpuMs(nats.server.pid) ?? 0;
    const load = loadAverage()[0];
    const started = performance.now();
    let lastSeq = 0;
    await mapLimit(docs, 64, async (d) => {
      const p = await publishDocument(nats.handle, TENANT, d, { producer: '/bench/scaling' });
      lastSeq = Math.max(lastSeq, p.seq);
    });
    const publishS = (performance.now() - started) / 1000;
    // Every document chunked, every chunk embedded, then the projector holds the last document's vectors.
    await waitFor(async () => processedUpTo(nats.handle, STREAMS.DOCUMENTS, 'chunker', lastSeq), 1_800_000);
    const chunksHead = (await nats.handle.jsm.streams.info(STREAMS.CHUNKS)).state.last_seq;
    await waitFor(async () => processedUpTo(nats.handle, STREAMS.CHUNKS, embedderConsumer(modelId), chunksHead), 1_800_000);
    const embeddedS = (performance.now() - started) / 1000;
    const last = docs[docs.length - 1] as ValidDocumentInput;
    await waitFor(async () => {
      const r = await fetch(`${main.api}/v1/documents/${encodeURIComponent(last.source)}/${encodeURIComponent(last.id)}`);
      const body = (await r.json()) as { vectors?: number; serving?: { vectors?: number } };
      return r.status === 200 && ((body.vectors ?? body.serving?.vectors ?? 0) as number) > 0;
    }, 600_000);
    const seconds = (performance.now() - started) / 1000;
    const chunks = (await nats.handle.jsm.streams.info(STREAMS.CHUNKS)).state.messages;
    const embeddingsInfo = await nats.handle.jsm.streams.info(STREAMS.EMBEDDINGS);
    const cpu = procs.map((p) => ({
      roles: p.roles,
      cpuS: round(((processCpuMs(p.child.pid as number) ?? 0) - (cpuBefore.get(p) ?? 0)) / 1000, 1),
      rssMB: rssMB(p.child.pid as number) ?? null,
    }));
    const chunkCount = await countChunks(nats.handle, docs);
    return {
      model: modelId,
      embedderProcesses: embedders,
      documents: docs.length,
      chunks: chunkCount,
      chunkMessages: chunks,
      embeddingMessages: embeddingsInfo.state.messages,
      loadAtStart: load,
      publishSeconds: round(publishS, 2),
      embeddedSeconds: round(embeddedS, 2),
      seconds: round(seconds, 2),
      docs_per_s: round(docs.length / seconds, 1),
      chunks_per_s: round(chunkCount / seconds, 1),
      natsServerCpuS: round(((processCpuMs(nats.server.pid) ?? 0) - natsBefore) / 1000, 1),
      processes: cpu,
    };
  } finally {
    await stop(procs);
    await nats.stop();
  }
}

/** Chunks of the documents as the default chunker cuts them (what the pipeline indexes). */
async function countChunks(_handle: unknown, docs: readonly ValidDocumentInput[]): Promise<number> {
  const { chunkText, DEFAULT_CHUNKER } = await import('../processors/chunker/chunk.ts');
  const { normalizeText } = await import('../processors/chunker/normalize.ts');
  return docs.reduce((n, d) => n + chunkText(normalizeText(d.text, d.contentType), DEFAULT_CHUNKER).length, 0);
}

async function waitFor(probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > until) throw new Error('timed out waiting for the pipeline');
    await sleep(50);
  }
}

await runBenchmark('scaling', async () => {
  const startLoad = loadAverage();
  const input = (d: { id: string; title: string; text: string }) => documentInputSchema.parse({ id: d.id, source: 'bench', title: d.title, text: d.text, contentType: 'text/plain' });
  const hashDocs = proseCorpus(HASH_DOCS, 1000, 4000, 41).map(input);
  const offlineDocs = proseCorpus(OFFLINE_DOCS, 1000, 2000, 43).map(input);
  const runs = [];
  for (let round_ = 0; round_ < ROUNDS; round_++) {
    for (const model of ['hash', 'offline'] as const) {
      if (model === 'offline' && process.env.BENCH_SCALING_OFFLINE === '0') continue;
      for (const embedders of [1, 2]) {
        note(`${model}, ${embedders} embedder process(es), round ${round_ + 1}`);
        const r = await oneRun(model, embedders, model === 'hash' ? hashDocs : offlineDocs);
        note(`${model} × ${embedders}: ${r.chunks_per_s} chunks/s (${r.seconds} s)`);
        runs.push({ round: round_ + 1, ...r });
      }
    }
  }
  const file = await writeResult('scaling', startLoad, {
    setup: {
      processes: 'one `spanda run chunker projector api` process and N `spanda run embedder` processes (competing consumers), each its own OS process; nats-server its own',
      cpus: cpus().length,
      timing: 'publish (64 in flight, from the benchmark process) until the last document’s vectors are in the projector’s store',
      offlineWorkers: 'each offline embedder process runs its default pool (min(2, cores) model worker threads)',
    },
    runs,
  });
  console.log(
    table(
      ['model', 'embedder processes', 'load', 'documents', 'chunks', 'seconds', 'chunks/s', 'CPU s by process (RSS MB)'],
      runs.map((r) => [
        r.model,
        String(r.embedderProcesses),
        String(r.loadAtStart),
        String(r.documents),
        String(r.chunks),
        String(r.seconds),
        String(r.chunks_per_s),
        r.processes.map((p) => `${p.roles} ${p.cpuS} (${p.rssMB ?? '?'})`).join(', '),
      ]),
    ),
  );
  console.log(`\nwritten to ${file}`);
});
