// What the benchmarks run against: a private nats-server on a free port in a temp dir, and a whole node on it, both stopped at the end.
import { rm } from 'node:fs/promises';
import { spandaSystem, type SpandaSystem } from '../../cli/system.ts';
import { loadConfig, type SpandaConfig } from '../../lib/config.ts';
import { startScoped, type Started } from '../../lib/lifecycle.ts';
import { createLogger } from '../../lib/log.ts';
import { listConsumers } from '../../streams/consumer-list.ts';
import type { NatsHandle } from '../../streams/nats.ts';
import { freePort, type NatsServerProcess } from '../../streams/server.ts';
import { startTestNats, tempDir } from '../../test/helpers/nats.ts';
import { embedderConsumer, lastSeq, processedUpTo } from '../../projections/read-your-writes.ts';
import { STREAMS } from '../../streams/provision.ts';
import { note, onCleanup, sleep } from './common.ts';

export interface PrivateNats {
  readonly server: NatsServerProcess;
  readonly url: string;
  /** A connection of the benchmark's own (baselines), separate from the node's. */
  readonly handle: NatsHandle;
  stop(): Promise<void>;
}

/** Starts a nats-server with JetStream on a free port and a temp store (never the shared one on 4222), stopped at exit. */
export async function startPrivateNats(prefix = 'spanda-bench-nats-'): Promise<PrivateNats> {
  const nats = await startTestNats({ provisioned: false, prefix, name: 'spanda-bench' });
  const unregister = onCleanup(() => nats.stop());
  const stop = async () => {
    unregister();
    await nats.stop();
  };
  return { server: nats.server, url: nats.server.url, handle: nats.handle, stop };
}

export interface BenchNode {
  readonly system: SpandaSystem;
  readonly config: SpandaConfig;
  readonly dataDir: string;
  /** Stops the node; deletes its data dir unless it was given (a cache the caller keeps). */
  stop(): Promise<void>;
}

/**
 * Starts a whole node in this process (chunker, embedder, projector, API on a free port) against `natsUrl`.
 * `env` takes the variables `spanda up` reads (SPANDA_EMBEDDER, SPANDA_CHUNK_SIZE, ...); the sample corpus is off.
 */
export async function startNode(
  natsUrl: string,
  env: Record<string, string>,
  dataDir?: string,
  /** Adjusts the loaded configuration (e.g. serve hash-512: SPANDA_EMBEDDER only names a provider kind). */
  adjust: (config: SpandaConfig) => SpandaConfig = (c) => c,
): Promise<BenchNode> {
  const dir = dataDir ?? (await tempDir('spanda-bench-node-'));
  const loaded = loadConfig({ SPANDA_DATA_DIR: dir, NATS_URL: natsUrl, HOST: '127.0.0.1', PORT: String(await freePort()), SPANDA_SAMPLE: 'false', ...env }, {});
  const config = adjust(loaded);
  const logger = createLogger('bench-node', process.env.SPANDA_BENCH_LOG === '1' ? 'info' : 'warn');
  let started: Started<SpandaSystem>;
  try {
    started = await startScoped(spandaSystem(config, logger));
  } catch (err) {
    if (dataDir === undefined) await rm(dir, { recursive: true, force: true });
    throw err;
  }
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      unregister();
      await started.close();
      if (dataDir === undefined) await rm(dir, { recursive: true, force: true });
    })());
  const unregister = onCleanup(stop);
  return { system: started.value, config, dataDir: dir, stop };
}

export interface IndexTarget {
  readonly documents: number;
  readonly chunks: number;
  readonly vectors: number;
}

export interface IndexProgress extends IndexTarget {
  /** ms since `since` when chunks (keyword-searchable) and vectors (fully indexed) were all applied. */
  readonly chunksAppliedMs: number;
  readonly doneMs: number;
}

/**
 * Waits until the node's store holds exactly the expected documents, chunks and vectors and the projector is at the
 * head of its streams. Checks every `pollMs` (counting the store's rows every poll once the projector has caught up,
 * every 250 ms before); fails when nothing moved for `stallMs`.
 */
export async function waitForIndex(
  system: SpandaSystem,
  target: IndexTarget,
  since: number,
  options: { pollMs?: number; stallMs?: number; progressEveryMs?: number; label?: string; trace?: Array<[number, number]> } = {},
): Promise<IndexProgress> {
  const pollMs = options.pollMs ?? 50;
  const stallMs = options.stallMs ?? 180_000;
  let chunksAppliedMs: number | undefined;
  let last = '';
  let lastChange = performance.now();
  let lastNote = performance.now();
  let lastStats = 0;
  for (;;) {
    // Counting rows is work for the store's thread (5 count(*) over whole tables, ~2 ms at 80k chunks): while the
    // projector is behind, count every 250 ms (progress, keyword-searchable time, stall detection), and every poll once
    // it has caught up (the finish line). Counting every 50 ms took ~5% of the store thread's time in the pipeline run.
    if (!system.projector.caughtUp() && performance.now() - lastStats < 250) {
      await sleep(pollMs);
      continue;
    }
    const stats = await system.store.stats();
    const now = performance.now();
    lastStats = now;
    const lastTrace = options.trace?.at(-1);
    if (options.trace && (!lastTrace || now - since - lastTrace[0] * 1000 >= 1000)) options.trace.push([Math.round(now - since) / 1000, stats.vectors]);
    if (chunksAppliedMs === undefined && stats.documents >= target.documents && stats.chunks >= target.chunks) chunksAppliedMs = now - since;
    if (stats.documents === target.documents && stats.chunks === target.chunks && stats.vectors === target.vectors && system.projector.caughtUp()) {
      return { ...target, chunksAppliedMs: chunksAppliedMs ?? now - since, doneMs: now - since };
    }
    const key = `${stats.documents}/${stats.chunks}/${stats.vectors}`;
    if (key !== last) {
      last = key;
      lastChange = now;
    } else if (now - lastChange > stallMs) {
      throw new Error(`indexing stalled at documents/chunks/vectors ${key}, expected ${target.documents}/${target.chunks}/${target.vectors}`);
    }
    if (options.progressEveryMs !== undefined && now - lastNote > options.progressEveryMs) {
      lastNote = now;
      const s = (now - since) / 1000;
      const rate = stats.vectors / s;
      const eta = rate > 0 ? (target.vectors - stats.vectors) / rate : Number.NaN;
      note(`${options.label ?? 'indexing'}: ${stats.documents}/${target.documents} documents, ${stats.vectors}/${target.vectors} vectors, ${rate.toFixed(1)} vectors/s, ~${Math.round(eta)} s left`);
    }
    await sleep(pollMs);
  }
}

/**
 * Waits until the node has worked through everything on the log: the chunker and the served model's embedder at the
 * heads of DOCUMENTS and CHUNKS and the projector caught up, twice in a row 200 ms apart (an event published just
 * before the first look is seen by the second). For a warm-up batch whose exact counts do not matter.
 */
export async function waitForDrained(system: SpandaSystem, timeoutMs = 300_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let quietLooks = 0;
  while (quietLooks < 2) {
    if (performance.now() > deadline) throw new Error(`the node did not work through its streams within ${timeoutMs / 1000} s`);
    await sleep(200);
    const handle = system.nats;
    const drained =
      (await processedUpTo(handle, STREAMS.DOCUMENTS, 'chunker', await lastSeq(handle, STREAMS.DOCUMENTS))) &&
      (await processedUpTo(handle, STREAMS.CHUNKS, embedderConsumer(system.provider.info.id), await lastSeq(handle, STREAMS.CHUNKS))) &&
      system.projector.caughtUp();
    quietLooks = drained ? quietLooks + 1 : 0;
  }
}

export interface Deliveries {
  /** Messages of the consumer's stream. */
  readonly messages: number;
  /** Deliveries to the processor, redeliveries included (the consumer sequence). */
  readonly deliveries: number;
  /** Deliveries beyond one per message: work done twice. */
  readonly redeliveries: number;
}

/**
 * Per processor consumer (DOCUMENTS, CHUNKS): how often its messages were delivered. A redelivery means the runner
 * handled an input again (JetStream's ack wait expired first), so a rate measured with redeliveries includes waste.
 */
export async function processorDeliveries(handle: NatsHandle): Promise<Record<string, Deliveries>> {
  const out: Record<string, Deliveries> = {};
  for (const stream of ['DOCUMENTS', 'CHUNKS']) {
    const info = await handle.jsm.streams.info(stream).catch(() => undefined);
    if (!info) continue;
    for (const consumer of await listConsumers(handle, stream)) {
      if (!consumer.config.durable_name) continue;
      out[consumer.name] = {
        messages: info.state.messages,
        deliveries: consumer.delivered.consumer_seq,
        redeliveries: Math.max(0, consumer.delivered.consumer_seq - consumer.delivered.stream_seq),
      };
    }
  }
  return out;
}
