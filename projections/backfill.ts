// Before a replay builds: waits until the chunker and the model's embedder have processed the whole log, and says when nobody runs them.
import { ConfigError } from '../lib/errors.ts';
import { chunkerConsumerName } from '../streams/events/index.ts';
import type { NatsHandle } from '../streams/nats.ts';
import { stillness } from '../streams/consumer-stillness.ts';
import { STREAMS } from '../streams/provision.ts';
import type { GenerationSpec } from './generations.ts';
import { embedderConsumer, hasProcessed, lastSeq } from './read-your-writes.ts';

export interface BackfillProgress {
  readonly phase: 'backfill';
  /** The stage waited for, e.g. "chunker" or "embedder hash-256". */
  readonly slice: string;
  readonly applied: number;
  readonly total: number;
}

export interface BackfillOptions {
  /** How long both stages may take before the replay gives up (default 1 h). */
  readonly timeoutMs: number;
  /**
   * How long a stage's consumer may stand still (no message delivered or acknowledged) with no pull request waiting
   * before the replay says that no process runs the stage. Default BACKFILL_IDLE_MS.
   */
  readonly idleMs?: number;
  readonly onProgress?: (progress: BackfillProgress) => void;
  readonly signal?: AbortSignal;
}

/**
 * A running stage keeps a pull request waiting on its consumer (and renews it before it expires), or is working
 * through what it was delivered: a consumer with neither for this long is left over from a process that stopped. A
 * stage busy with one long batch (the offline model) acknowledges it within seconds.
 */
export const BACKFILL_IDLE_MS = 60_000;

const POLL_MS = 200;

/**
 * Waits until the chunker with the generation's settings has chunked every document, then the model's embedder has
 * embedded every chunk (new settings re-chunk, a new model backfills from CHUNKS). ConfigError when a stage has no
 * consumer, when nobody consumes it, or when it does not catch up within `timeoutMs`.
 */
export async function awaitBackfill(handle: NatsHandle, spec: GenerationSpec, options: BackfillOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  const chunker = chunkerConsumerName(spec.chunker);
  const model = spec.model.id;
  await awaitStage(handle, options, deadline, {
    stream: STREAMS.DOCUMENTS,
    consumer: chunker,
    label: 'chunker',
    missing: `no chunker runs with these chunk settings (${chunker}): start a node with the same SPANDA_CHUNK_SIZE / SPANDA_CHUNK_OVERLAP (it re-chunks every document), then replay`,
    idle: (seconds) =>
      `the chunker ${chunker} is behind DOCUMENTS and nothing has pulled from it for ${seconds} s: no node runs it. Start a node with the same SPANDA_CHUNK_SIZE / SPANDA_CHUNK_OVERLAP, then replay`,
    late: (head) => `the chunker ${chunker} has not caught up with DOCUMENTS ${head}; try again later`,
  });
  await awaitStage(handle, options, deadline, {
    stream: STREAMS.CHUNKS,
    consumer: embedderConsumer(model),
    label: `embedder ${model}`,
    missing: `no embedder runs for model ${model}: add it to SPANDA_MODELS of a running node (it backfills EMBEDDINGS from CHUNKS), then replay`,
    idle: (seconds) =>
      `the ${model} embedder is behind CHUNKS and nothing has pulled from it for ${seconds} s: no node runs it. Add ${model} to SPANDA_MODELS of a running node (it backfills EMBEDDINGS from CHUNKS), then replay`,
    late: (head) => `the ${model} embedder has not caught up with CHUNKS ${head}; try again later`,
  });
}

interface Stage {
  readonly stream: string;
  readonly consumer: string;
  readonly label: string;
  readonly missing: string;
  readonly idle: (seconds: number) => string;
  readonly late: (head: number) => string;
}

async function awaitStage(handle: NatsHandle, options: BackfillOptions, deadline: number, stage: Stage): Promise<void> {
  const idleMs = options.idleMs ?? BACKFILL_IDLE_MS;
  const still = stillness();
  for (;;) {
    const head = await lastSeq(handle, stage.stream);
    const info = await handle.jsm.consumers.info(stage.stream, stage.consumer).catch(() => undefined);
    if (!info) throw new ConfigError(stage.missing);
    options.onProgress?.({ phase: 'backfill', slice: stage.label, applied: Math.min(info.ack_floor.stream_seq, head), total: head });
    if (hasProcessed(info, head)) return;
    const stillMs = still(info);
    if (stillMs >= idleMs) throw new ConfigError(stage.idle(Math.round(stillMs / 1000)));
    if (Date.now() > deadline) throw new ConfigError(stage.late(head));
    await new Promise((r) => setTimeout(r, POLL_MS));
    options.signal?.throwIfAborted();
  }
}

