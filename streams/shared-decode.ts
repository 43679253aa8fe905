// Messages decoded once per process: the stages of one node that read the same message share its decoded event.
import type { JsMsg } from '@nats-io/jetstream';
import { decodeEvent, headersOf } from './codec.ts';
import type { SpandaEvent, StoredEvent } from './events/index.ts';

/**
 * A node reads every CHUNKS message three times (embedder, inference and indexing projections), every DOCUMENTS and
 * EMBEDDINGS message twice; decoding (JSON, validation, headers) was a tenth of its main thread. A decoded event is
 * kept until each registered reader of its stream has taken it, or until newer ones push it out, so it lives for
 * milliseconds and the cache stays small. A message that fails to decode is not kept: each stage gets the error.
 */
interface Entry {
  readonly subject: string;
  readonly timestampNanos: number;
  readonly event: StoredEvent<SpandaEvent>;
  taken: number;
}

/** Most decoded events kept (a reader far behind, or one that filters some messages out, must not grow the cache). */
const MAX_ENTRIES = 2048;

const entries = new Map<string, Entry>();
const readers = new Map<string, number>();

/** Registers a reader of `stream` in this process (a processor, a projection source); call the result when it stops. */
export function registerReader(stream: string): () => void {
  readers.set(stream, (readers.get(stream) ?? 0) + 1);
  let registered = true;
  return () => {
    if (!registered) return;
    registered = false;
    const left = (readers.get(stream) ?? 1) - 1;
    if (left > 0) readers.set(stream, left);
    else readers.delete(stream);
  };
}

/**
 * decodeEvent for a consumed message, sharing the decoded event with the other readers of the same message in this
 * process. The message is identified by stream, sequence, subject and the time JetStream stored it, so a stream
 * recreated with other messages at the same sequences never matches. Throws what decodeEvent throws.
 */
export function decodeMessage(msg: JsMsg, deliveryCount?: number): StoredEvent<SpandaEvent> {
  const { stream, timestampNanos } = msg.info;
  const key = `${stream}:${msg.seq}`;
  const position = { stream, seq: msg.seq, subject: msg.subject, ...(deliveryCount !== undefined ? { deliveryCount } : {}) };
  const cached = entries.get(key);
  if (cached && cached.subject === msg.subject && cached.timestampNanos === timestampNanos) {
    cached.taken += 1;
    if (cached.taken >= (readers.get(stream) ?? 0)) entries.delete(key);
    return { ...cached.event, position };
  }
  const event = decodeEvent({ subject: msg.subject, data: msg.data, headers: headersOf(msg) }, position);
  if ((readers.get(stream) ?? 0) > 1) {
    entries.set(key, { subject: msg.subject, timestampNanos, event, taken: 1 });
    if (entries.size > MAX_ENTRIES) entries.delete(entries.keys().next().value as string);
  }
  return event;
}
