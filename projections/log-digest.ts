// The digest a projection should have, computed straight from the log: its slices folded into a throwaway in-memory store.
import { decodeEvent } from '../streams/codec.ts';
import type { SpandaEvent, StoredEvent } from '../streams/events/index.ts';
import { originCheckFor } from '../streams/origin.ts';
import type { NatsHandle } from '../streams/nats.ts';
import { readSlice } from '../streams/read.ts';
import type { Projection } from './projection.ts';
import { SqliteInferenceStore } from './stores/sqlite/sqlite-store.ts';

export interface LogDigest {
  readonly digest: string;
  /** Per-document hashes (documentKey → hash), to name the documents a store has wrong. */
  readonly documents: Record<string, string>;
  readonly events: number;
}

/**
 * Applies the projection's slices up to `checkpoints` (what the store under test says it applied) to an in-memory
 * SQLite store and digests it. Events the projection refuses are skipped exactly as the projector skips them (they are
 * in the DLQ). CHUNKS and EMBEDDINGS are read one after the other: the docSeq guard makes the order between slices
 * irrelevant (the conformance suite checks that every store reaches the same digest whatever the interleaving).
 */
export async function logDigest(
  handle: NatsHandle,
  projection: Projection,
  model: { id: string; dims: number },
  checkpoints: Readonly<Record<string, number>>,
  onProgress: (events: number) => void = () => undefined,
): Promise<LogDigest> {
  // Digested only, never searched: no in-memory index to keep.
  const store = SqliteInferenceStore.open({ path: ':memory:', model, mode: 'build' });
  try {
    // One event at a time: an event the projection or store refuses is skipped alone, as the projector isolates it.
    const events = await foldLog(handle, projection, checkpoints, (ops) => store.apply({ ops, checkpoints: {} }), onProgress);
    return { ...store.digestWithDocuments(), events };
  } finally {
    store.close();
  }
}

/**
 * Feeds a projection's slices up to `checkpoints` through the projection, one event's ops at a time, skipping what the
 * projector would dead-letter: events that do not decode, fail the origin check, or that the projection or `apply`
 * refuses. Returns how many messages were read. The basis of every digest computed straight from the log.
 */
export async function foldLog<Op>(
  handle: NatsHandle,
  projection: Projection<Op>,
  checkpoints: Readonly<Record<string, number>>,
  apply: (ops: Op[]) => void | Promise<void>,
  onProgress: (events: number) => void = () => undefined,
): Promise<number> {
  const origin = originCheckFor(handle);
  let events = 0;
  for (const source of projection.sources) {
    await readSlice(handle, { stream: source.stream, filterSubject: source.filterSubject, upTo: checkpoints[source.key] ?? 0 }, async (messages) => {
      const decoded: StoredEvent<SpandaEvent>[] = [];
      for (const msg of messages) {
        try {
          const event = decodeEvent({ subject: msg.subject, data: msg.data, headers: msg.headers }, { stream: msg.info.stream, seq: msg.seq });
          if (projection.canHandle.includes(event.type)) decoded.push(event);
        } catch {
          // refused by decoding: the projector dead-letters these
        }
      }
      const verdicts = await origin.check(decoded);
      for (const [i, event] of decoded.entries()) {
        if (verdicts[i]) continue;
        try {
          await apply(projection.project(event));
        } catch {
          // refused by the projection or the store: dead-lettered by the projector
        }
      }
      events += messages.length;
      onProgress(events);
    });
  }
  return events;
}
