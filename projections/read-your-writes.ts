// Read-your-writes: wait until the serving generation has applied everything up to a DOCUMENTS sequence, stage by stage.
import { JetStreamApiCodes, JetStreamApiError, type ConsumerInfo } from '@nats-io/jetstream';
import { GatewayTimeoutError, ValidationError } from '../lib/errors.ts';
import type { NatsHandle } from '../streams/nats.ts';
import { STREAMS } from '../streams/provision.ts';
import { subjects } from '../streams/subjects.ts';
import { chunkerConsumerName, chunkerFingerprint, DEFAULT_CHUNKER_SETTINGS } from '../streams/events/index.ts';
import type { ServedGeneration } from './serving.ts';

export const embedderConsumer = (modelId: string): string => `embedder-${modelId}`;

/** Whether a processor's durable consumer has acknowledged every message up to `seq` (all its outputs are stored). */
export async function processedUpTo(handle: NatsHandle, stream: string, consumer: string, seq: number): Promise<boolean> {
  if (seq <= 0) return true;
  const info = await handle.jsm.consumers.info(stream, consumer).catch(() => undefined);
  return info !== undefined && hasProcessed(info, seq);
}

/** Whether a consumer has processed (acknowledged) every message of its stream up to `seq`. */
export function hasProcessed(info: ConsumerInfo, seq: number): boolean {
  if (seq <= 0) return true;
  return info.ack_floor.stream_seq >= seq || (info.num_pending === 0 && info.num_ack_pending === 0 && info.delivered.stream_seq >= seq);
}

export async function lastSeq(handle: NatsHandle, stream: string, subject?: string): Promise<number> {
  if (subject === undefined) return (await handle.jsm.streams.info(stream)).state.last_seq;
  try {
    return (await handle.jsm.streams.getMessage(stream, { last_by_subj: subject }))?.seq ?? 0;
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound) return 0;
    throw err;
  }
}

/**
 * Resolves once every DOCUMENTS event up to `seq` has been chunked, embedded with the generation's model and applied
 * to the generation's store; each stage is checked through its consumer's ack floor (outputs are stored before the
 * ack), then the generation's checkpoint against the last output seen. Throws GatewayTimeoutError naming the stage
 * still pending when `timeoutMs` passes.
 */
export async function waitForApplied(handle: NatsHandle, served: ServedGeneration, seq: number, timeoutMs: number): Promise<void> {
  const head = await lastSeq(handle, STREAMS.DOCUMENTS);
  if (seq > head) throw new ValidationError(`after_seq ${seq} is past the last DOCUMENTS sequence (${head}); pass a seq returned by POST /v1/documents`);
  const projector = served.projector;
  if (!projector) return;
  const model = served.embedder.info.id;
  // The chunker whose chunks this generation serves (its settings' fingerprint names its consumer).
  const chunker = chunkerConsumerName(served.record?.spec.chunker ?? chunkerFingerprint(DEFAULT_CHUNKER_SETTINGS));
  const chunksKey = STREAMS.CHUNKS;
  const embeddingsKey = `${STREAMS.EMBEDDINGS}:${model}`;
  const applied = (key: string) => projector.positions().find((p) => p.key === key)?.applied ?? 0;
  const deadline = Date.now() + timeoutMs;
  let stage = 'chunker';
  let chunksHead: number | undefined;
  let embeddingsHead: number | undefined;
  for (;;) {
    if (chunksHead === undefined) {
      if (await processedUpTo(handle, STREAMS.DOCUMENTS, chunker, seq)) chunksHead = await lastSeq(handle, STREAMS.CHUNKS);
      else stage = `the chunker (${chunker}) has not processed DOCUMENTS ${seq} yet`;
    }
    if (chunksHead !== undefined && embeddingsHead === undefined) {
      if (await processedUpTo(handle, STREAMS.CHUNKS, embedderConsumer(model), chunksHead)) {
        embeddingsHead = await lastSeq(handle, STREAMS.EMBEDDINGS, subjects.embeddingsOfModel(model));
      } else stage = `the ${model} embedder has not processed CHUNKS ${chunksHead} yet`;
    }
    if (chunksHead !== undefined && embeddingsHead !== undefined) {
      if (applied(chunksKey) >= chunksHead && applied(embeddingsKey) >= embeddingsHead) return;
      stage = `generation ${served.id} has applied CHUNKS ${applied(chunksKey)} of ${chunksHead} and EMBEDDINGS ${applied(embeddingsKey)} of ${embeddingsHead}`;
      // Behind because it cannot apply (a full disk, a store that is down): say so, or the caller just waits longer.
      const health = projector.health();
      if (!health.ok) stage += ` (${health.detail})`;
    }
    if (Date.now() >= deadline) {
      throw new GatewayTimeoutError(`DOCUMENTS ${seq} is not yet queryable after ${timeoutMs} ms: ${stage}; retry, or raise timeout_ms`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
