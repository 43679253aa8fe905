// The dead-letter stream: writing a rejected input with its reason (one entry per log event, whichever stage rejects it), reading, re-driving and purging entries.
import type { MsgHdrs } from '@nats-io/transport-node';
import { headers as createHeaders } from '@nats-io/transport-node';
import { JetStreamApiCodes, JetStreamApiError, type StoredMsg } from '@nats-io/jetstream';
import { HEADER } from './codec.ts';
import type { NatsHandle } from './nats.ts';
import { STREAMS } from './provision.ts';
import { subjects } from './subjects.ts';

export const DLQ_HEADER = {
  reason: 'spanda-dlq-reason',
  /** The stage (processor or projection) that rejected the input first; later stages' entries are deduplicated away. */
  processor: 'spanda-dlq-processor',
  stream: 'spanda-dlq-stream',
  seq: 'spanda-dlq-seq',
  subject: 'spanda-dlq-subject',
  time: 'spanda-dlq-time',
  attempts: 'spanda-dlq-attempts',
} as const;

export { DLQ_DUPLICATE_WINDOW_MS } from './provision.ts';

/** The input as the DLQ needs it: its bytes, headers and where it sits in the log (a JsMsg fits). */
export interface DeadLetterInput {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers?: MsgHdrs | undefined;
  readonly seq: number;
  readonly info: { readonly stream: string };
}

/**
 * The entry id names the log event, not the stage: the embedder and the projection both reading one bad CHUNKS event
 * write the same id, and JetStream keeps only the first entry.
 */
export function dlqMsgId(stream: string, seq: number): string {
  return `dlq:${stream}:${seq}`;
}

/** Publishes the original message to dlq.<stage> with the reason in headers, keeping its bytes for a later re-drive. */
export async function sendToDlq(handle: NatsHandle, stage: string, msg: DeadLetterInput, reason: string, attempts: number): Promise<{ duplicate: boolean }> {
  const h = createHeaders();
  for (const [key, values] of msg.headers ?? []) {
    if (key.toLowerCase() === HEADER.msgId.toLowerCase()) continue;
    for (const value of values) h.append(key, value);
  }
  h.set(DLQ_HEADER.reason, reason.replace(/[\r\n]+/g, ' ').slice(0, 2000));
  h.set(DLQ_HEADER.processor, stage);
  h.set(DLQ_HEADER.stream, msg.info.stream);
  h.set(DLQ_HEADER.seq, String(msg.seq));
  h.set(DLQ_HEADER.subject, msg.subject);
  h.set(DLQ_HEADER.time, new Date().toISOString());
  h.set(DLQ_HEADER.attempts, String(attempts));
  const ack = await handle.js.publish(subjects.dlq(stage), msg.data, { headers: h, msgID: dlqMsgId(msg.info.stream, msg.seq) });
  return { duplicate: ack.duplicate };
}

/** One DLQ entry as read back: where the rejected event was, who rejected it and why. */
export interface DlqEntry {
  /** Sequence of the entry in the DLQ stream. */
  readonly dlqSeq: number;
  readonly stage: string;
  readonly reason: string;
  readonly stream: string;
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
  /** When the entry was written (ISO 8601). */
  readonly time: string;
  readonly attempts: number;
  /** The original event's headers (ce-*, causation, traceparent), without the DLQ's own. */
  readonly headers: MsgHdrs;
}

/** Which entries a DLQ tool acts on; every given field must match. */
export interface DlqFilter {
  /** The stage that rejected the input (a processor name such as chunker, embedder-hash-256, projection-inference). */
  readonly processor?: string;
  /** The stream the input came from (DOCUMENTS, CHUNKS, EMBEDDINGS). */
  readonly stream?: string;
  /** A case-insensitive substring of the reason. */
  readonly reason?: string;
  /** Entries written at or after this time. */
  readonly since?: Date;
  /** One entry by its DLQ sequence. */
  readonly dlqSeq?: number;
}

export function isEmptyFilter(filter: DlqFilter): boolean {
  return Object.values(filter).every((v) => v === undefined);
}

export function matchesDlqFilter(entry: DlqEntry, filter: DlqFilter): boolean {
  if (filter.processor !== undefined && entry.stage !== filter.processor) return false;
  if (filter.stream !== undefined && entry.stream !== filter.stream) return false;
  if (filter.reason !== undefined && !entry.reason.toLowerCase().includes(filter.reason.toLowerCase())) return false;
  if (filter.since !== undefined && !(Date.parse(entry.time) >= filter.since.getTime())) return false;
  if (filter.dlqSeq !== undefined && entry.dlqSeq !== filter.dlqSeq) return false;
  return true;
}

const DLQ_HEADER_NAMES = new Set<string>(Object.values(DLQ_HEADER).map((h) => h.toLowerCase()));

function toEntry(m: StoredMsg): DlqEntry {
  const original = createHeaders();
  for (const [key, values] of m.header ?? []) {
    if (DLQ_HEADER_NAMES.has(key.toLowerCase())) continue;
    for (const value of values) original.append(key, value);
  }
  const attempts = Number(m.header.get(DLQ_HEADER.attempts));
  return {
    dlqSeq: m.seq,
    stage: m.header.get(DLQ_HEADER.processor),
    reason: m.header.get(DLQ_HEADER.reason),
    stream: m.header.get(DLQ_HEADER.stream),
    seq: Number(m.header.get(DLQ_HEADER.seq)),
    subject: m.header.get(DLQ_HEADER.subject),
    data: m.data,
    time: m.header.get(DLQ_HEADER.time) || m.time.toISOString(),
    attempts: Number.isFinite(attempts) ? attempts : 0,
    headers: original,
  };
}

/**
 * DLQ entries from `fromSeq` on that match `filter` (a processor filter reads only that stage's subject), oldest first.
 * An empty or missing stream gives none.
 */
export async function readDlq(handle: NatsHandle, options: { fromSeq?: number; limit?: number; filter?: DlqFilter } = {}): Promise<DlqEntry[]> {
  let state: { first_seq: number; last_seq: number; messages: number };
  try {
    state = (await handle.jsm.streams.info(STREAMS.DLQ)).state;
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return [];
    throw err;
  }
  const filter = options.filter ?? {};
  const out: DlqEntry[] = [];
  if (state.messages === 0) return out;
  const limit = options.limit ?? 10_000;
  const subject = filter.processor !== undefined ? subjects.dlq(filter.processor) : `${subjects.dlq('')}>`;
  // Direct gets with next_by_subj skip deleted entries and other stages' subjects without a request per sequence.
  for (let seq = Math.max(state.first_seq, options.fromSeq ?? 1, filter.dlqSeq ?? 1); seq <= state.last_seq && out.length < limit; ) {
    const m = await handle.jsm.direct.getMessage(STREAMS.DLQ, { seq, next_by_subj: subject }).catch((err: unknown) => {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound) return null;
      throw err;
    });
    if (!m) break;
    const entry = toEntry(m);
    if (matchesDlqFilter(entry, filter)) out.push(entry);
    if (filter.dlqSeq !== undefined) break;
    seq = m.seq + 1;
  }
  return out;
}

/** The message id of a re-drive: derived from the DLQ entry, so re-driving the same entry twice publishes once. */
export function redriveMsgId(dlqSeq: number): string {
  return `redrive:${STREAMS.DLQ}:${dlqSeq}`;
}

export type RedriveResult =
  | { readonly entry: DlqEntry; readonly status: 'redriven'; readonly seq: number; readonly duplicate: boolean }
  | { readonly entry: DlqEntry; readonly status: 'superseded'; readonly by: number };

/**
 * Publishes the entry's original bytes and headers to its original subject (a new Nats-Msg-Id derived from the DLQ
 * sequence), then deletes the entry. A crash between the two leaves the entry; re-driving it again is deduplicated by
 * the stream (within its duplicate window), so the input is reprocessed once in effect. A DOCUMENTS entry whose
 * document has a newer version in the log is not re-driven unless `force`: it would bring the old text back.
 */
export async function redriveDlqEntry(handle: NatsHandle, entry: DlqEntry, options: { force?: boolean } = {}): Promise<RedriveResult> {
  if (entry.stream === STREAMS.DOCUMENTS && !options.force) {
    const last = await handle.jsm.streams.getMessage(STREAMS.DOCUMENTS, { last_by_subj: entry.subject }).catch((err: unknown) => {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound) return null;
      throw err;
    });
    if (last && last.seq > entry.seq) return { entry, status: 'superseded', by: last.seq };
  }
  const h = createHeaders();
  for (const [key, values] of entry.headers) {
    if (key.toLowerCase() === HEADER.msgId.toLowerCase()) continue;
    for (const value of values) h.append(key, value);
  }
  const ack = await handle.js.publish(entry.subject, entry.data, { headers: h, msgID: redriveMsgId(entry.dlqSeq) });
  await deleteDlqEntry(handle, entry.dlqSeq);
  return { entry, status: 'redriven', seq: ack.seq, duplicate: ack.duplicate };
}

/** Removes one entry; an entry already gone (another redrive or purge) is not an error. */
export async function deleteDlqEntry(handle: NatsHandle, dlqSeq: number): Promise<boolean> {
  try {
    return await handle.jsm.streams.deleteMessage(STREAMS.DLQ, dlqSeq);
  } catch (err) {
    if (err instanceof JetStreamApiError && (err.code === JetStreamApiCodes.NoMessageFound || /no message found/i.test(err.message))) return false;
    throw err;
  }
}

/** Removes the matching entries (a whole stage's subject at once when only the processor is given); returns how many. */
export async function purgeDlq(handle: NatsHandle, filter: DlqFilter): Promise<number> {
  const only = Object.entries(filter).filter(([, v]) => v !== undefined).map(([k]) => k);
  if (only.length === 0 || (only.length === 1 && filter.processor !== undefined)) {
    try {
      const res = await handle.jsm.streams.purge(STREAMS.DLQ, filter.processor !== undefined ? { filter: subjects.dlq(filter.processor) } : undefined);
      return res.purged;
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return 0;
      throw err;
    }
  }
  let removed = 0;
  for (const entry of await readDlq(handle, { filter, limit: Number.MAX_SAFE_INTEGER })) if (await deleteDlqEntry(handle, entry.dlqSeq)) removed++;
  return removed;
}
