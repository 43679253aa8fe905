// Messages decoded once per process: the stages of one node that read the same message share its decoded event.
import type { JsMsg } from '@nats-io/jetstream';
import { decodeEvent, headersOf } from './codec.ts';
import { tokensMatch } from './subjects.ts';
import type { SpandaEvent, StoredEvent } from './events/index.ts';

/**
 * A node reads every CHUNKS message three times (embedder, inference and indexing projections), every DOCUMENTS and
 * EMBEDDINGS message twice; decoding (JSON, validation, headers) was a tenth of its main thread. A decoded event is
 * kept until each registered reader whose subjects it is on has taken it, or until newer ones push it out: while the
 * stages keep pace it lives for milliseconds; in a burst, for as long as the slowest reader lags (SHARED_DECODE_LIMITS).
 * A message that fails to decode is not kept: each stage gets the error.
 */
interface Entry {
  readonly subject: string;
  readonly timestampNanos: number;
  readonly event: StoredEvent<SpandaEvent>;
  /** The payload's size: what the decoded event holds in memory, about. */
  readonly bytes: number;
  taken: number;
}

/**
 * What the cache may hold (a reader far behind, or one that filters some messages out, must not grow it without
 * bound). In a burst the readers of one stream drift thousands of messages apart: the chunker and the catalog read
 * DOCUMENTS at their own pace, the catalog lingers for whole batches. With 2,048 entries a burst of 4,000 documents
 * decoded 94% of the DOCUMENTS messages twice and a quarter of the CHUNKS messages twice more; 4,096 shared them all.
 * The bound is by payload bytes, so large events (a 512-d model's vectors, long documents) keep fewer.
 */
export const SHARED_DECODE_LIMITS = { entries: 16_384, bytes: 32 * 1024 * 1024 } as const;

const entries = new Map<string, Entry>();
let cachedBytes = 0;

function forget(key: string, entry: Entry): void {
  entries.delete(key);
  cachedBytes -= entry.bytes;
}

/** A registered reader: the subjects it reads of its stream, as token lists ('*' one token, '>' the rest). */
interface Reader {
  readonly filters: ReadonlyArray<readonly string[]>;
}

const readers = new Map<string, Set<Reader>>();

/** What the cache holds now (for tests and diagnostics). */
export function sharedDecodeUsage(): { entries: number; bytes: number } {
  return { entries: entries.size, bytes: cachedBytes };
}

/** Drops every kept event (tests start from an empty cache; readers stay registered). */
export function clearSharedDecode(): void {
  entries.clear();
  cachedBytes = 0;
}

/**
 * How many registered readers of `stream` will read a message on `subject`. A node with two models has two embedders'
 * EMBEDDINGS on one stream and serves one of them: counting every reader of the stream kept the other model's events
 * until they were pushed out, as if a second reader were still to come.
 */
function readersOf(stream: string, subject: string): number {
  const registered = readers.get(stream);
  if (!registered) return 0;
  let tokens: string[] | undefined;
  let count = 0;
  for (const reader of registered) {
    if (reader.filters.length === 0) count++;
    else if (reader.filters.some((f) => tokensMatch((tokens ??= subject.split('.')), f))) count++;
  }
  return count;
}

/**
 * Registers a reader of `stream` in this process (a processor, a projection source) and the subjects it reads (none:
 * all of them); call the result when it stops.
 */
export function registerReader(stream: string, filterSubjects: readonly string[] = []): () => void {
  const reader: Reader = { filters: filterSubjects.map((f) => f.split('.')) };
  let registered = readers.get(stream);
  if (!registered) readers.set(stream, (registered = new Set()));
  registered.add(reader);
  return () => {
    const held = readers.get(stream);
    if (!held?.delete(reader)) return;
    if (held.size === 0) readers.delete(stream);
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
    if (cached.taken >= readersOf(stream, msg.subject)) forget(key, cached);
    return { ...cached.event, position };
  }
  const event = decodeEvent({ subject: msg.subject, data: msg.data, headers: headersOf(msg) }, position);
  if (readersOf(stream, msg.subject) > 1) {
    if (cached) forget(key, cached); // another message at this sequence (a recreated stream)
    const entry: Entry = { subject: msg.subject, timestampNanos, event, bytes: msg.data.byteLength, taken: 1 };
    entries.set(key, entry);
    cachedBytes += entry.bytes;
    for (const [oldest, held] of entries) {
      if (entries.size <= SHARED_DECODE_LIMITS.entries && cachedBytes <= SHARED_DECODE_LIMITS.bytes) break;
      forget(oldest, held);
    }
  }
  return event;
}
