// The dead-letter stream: writing a rejected input with its reason (one entry per log event, whichever stage rejects it), reading, re-driving and purging entries.
import type { MsgHdrs } from '@nats-io/transport-node';
import { headers as createHeaders } from '@nats-io/transport-node';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { NatsHandle } from './nats.ts';
import { STREAMS } from './provision.ts';
import { STOP_READING, readSlice } from './read.ts';
import { isPlainSubject, subjectMatches, subjects } from './subjects.ts';

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

/**
 * A stored message's headers without those JetStream acts on at publish or sets itself (Nats-Msg-Id, Nats-Expected-*,
 * Nats-Rollup, Nats-TTL…, all named Nats-*): sent again with a DLQ entry they would be checked against the DLQ (a
 * Nats-Expected-Stream naming DOCUMENTS has the entry refused, and the stage retrying it for ever), and with a re-drive
 * against a log that has moved on.
 */
function eventHeaders(from: MsgHdrs | undefined): MsgHdrs {
  const h = createHeaders();
  for (const [key, values] of from ?? []) {
    if (key.toLowerCase().startsWith('nats-')) continue;
    for (const value of values) h.append(key, value);
  }
  return h;
}

/**
 * Publishes the original message to dlq.<stage> with the reason in headers, keeping its bytes for a later re-drive.
 * `msgId` replaces the entry id derived from the message's stream and sequence (an input that never was in a stream).
 */
export async function sendToDlq(
  handle: NatsHandle,
  stage: string,
  msg: DeadLetterInput,
  reason: string,
  attempts: number,
  msgId = dlqMsgId(msg.info.stream, msg.seq),
): Promise<{ duplicate: boolean }> {
  const h = eventHeaders(msg.headers);
  h.set(DLQ_HEADER.reason, reason.replace(/[\r\n]+/g, ' ').slice(0, 2000));
  h.set(DLQ_HEADER.processor, stage);
  h.set(DLQ_HEADER.stream, msg.info.stream);
  h.set(DLQ_HEADER.seq, String(msg.seq));
  h.set(DLQ_HEADER.subject, msg.subject);
  h.set(DLQ_HEADER.time, new Date().toISOString());
  h.set(DLQ_HEADER.attempts, String(attempts));
  const ack = await handle.js.publish(subjects.dlq(stage), msg.data, { headers: h, msgID: msgId });
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

/** A DLQ message as either reader gives it: a direct get (StoredMsg) or an ordered consumer (JsMsg). */
interface DlqMessage {
  readonly seq: number;
  readonly time: Date;
  readonly data: Uint8Array;
  readonly headers: MsgHdrs | undefined;
}

function toEntry(m: DlqMessage): DlqEntry {
  const original = createHeaders();
  for (const [key, values] of m.headers ?? []) {
    if (DLQ_HEADER_NAMES.has(key.toLowerCase())) continue;
    for (const value of values) original.append(key, value);
  }
  const get = (name: string) => m.headers?.get(name) ?? '';
  const attempts = Number(get(DLQ_HEADER.attempts));
  return {
    dlqSeq: m.seq,
    stage: get(DLQ_HEADER.processor),
    reason: get(DLQ_HEADER.reason),
    stream: get(DLQ_HEADER.stream),
    seq: Number(get(DLQ_HEADER.seq)),
    subject: get(DLQ_HEADER.subject),
    data: m.data,
    time: get(DLQ_HEADER.time) || m.time.toISOString(),
    attempts: Number.isFinite(attempts) ? attempts : 0,
    headers: original,
  };
}

export interface DlqScanOptions {
  readonly filter?: DlqFilter;
  /** First DLQ sequence to look at. */
  readonly fromSeq?: number;
  /** Leave the entries' bytes on the server (`data` is empty): listing and counting need only the headers. */
  readonly headersOnly?: boolean;
  /** Called as the scan goes: DLQ messages looked at, and how many there are to look at. */
  readonly onProgress?: (scanned: number, total: number) => void;
}

/** What a scan's callback returns to stop it early. */
export const STOP_SCAN = STOP_READING;

/**
 * Calls `onEntries` with the matching entries, oldest first, in batches, reading the DLQ with an ordered consumer (a
 * processor filter reads only that stage's subject). The scan ends at the entry that was last when it started, so
 * entries the scan's own work dead-letters again (a re-drive of input that is still bad) are not visited. An empty or
 * missing stream gives none.
 */
export async function scanDlq(
  handle: NatsHandle,
  options: DlqScanOptions,
  onEntries: (entries: DlqEntry[]) => Promise<void | typeof STOP_SCAN> | void | typeof STOP_SCAN,
): Promise<void> {
  let state: { first_seq: number; last_seq: number; messages: number };
  try {
    state = (await handle.jsm.streams.info(STREAMS.DLQ)).state;
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return;
    throw err;
  }
  if (state.messages === 0) return;
  const filter = options.filter ?? {};
  const subject = filter.processor !== undefined ? subjects.dlq(filter.processor) : `${subjects.dlq('')}>`;
  if (filter.dlqSeq !== undefined) {
    // One entry: a direct get, which also tells a missing entry from a stage the filter does not name.
    const m = await handle.jsm.direct.getMessage(STREAMS.DLQ, { seq: filter.dlqSeq, next_by_subj: subject }).catch((err: unknown) => {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound) return null;
      throw err;
    });
    const entry = m ? toEntry({ seq: m.seq, time: m.time, data: m.data, headers: m.header }) : undefined;
    options.onProgress?.(1, 1);
    if (entry && matchesDlqFilter(entry, filter)) await onEntries([entry]);
    return;
  }
  let scanned = 0;
  let total = 0;
  await readSlice(
    handle,
    {
      stream: STREAMS.DLQ,
      filterSubject: subject,
      fromSeq: Math.max(state.first_seq, options.fromSeq ?? 1),
      upTo: state.last_seq,
      // Entries keep their input's bytes (up to the server's max payload each): fewer at a time when they are read.
      batchSize: options.headersOnly ? 1000 : 100,
      ...(options.headersOnly ? { headersOnly: true } : {}),
      onSize: (n) => {
        total = n;
        options.onProgress?.(0, total);
      },
    },
    async (messages) => {
      scanned += messages.length;
      const entries = messages.map((m) => toEntry(m)).filter((e) => matchesDlqFilter(e, filter));
      const verdict = entries.length > 0 ? await onEntries(entries) : undefined;
      options.onProgress?.(scanned, Math.max(total, scanned));
      return verdict;
    },
  );
}

/**
 * DLQ entries from `fromSeq` on that match `filter`, oldest first, at most `limit` (10,000 unless given). An empty or
 * missing stream gives none.
 */
export async function readDlq(handle: NatsHandle, options: { fromSeq?: number; limit?: number; filter?: DlqFilter; headersOnly?: boolean } = {}): Promise<DlqEntry[]> {
  const limit = options.limit ?? 10_000;
  const out: DlqEntry[] = [];
  await scanDlq(
    handle,
    { ...(options.filter ? { filter: options.filter } : {}), ...(options.fromSeq !== undefined ? { fromSeq: options.fromSeq } : {}), ...(options.headersOnly ? { headersOnly: true } : {}) },
    (entries) => {
      out.push(...entries.slice(0, limit - out.length));
      return out.length >= limit ? STOP_SCAN : undefined;
    },
  );
  return out;
}

/** The message id of a re-drive: derived from the DLQ entry, so re-driving the same entry twice publishes once. */
export function redriveMsgId(dlqSeq: number): string {
  return `redrive:${STREAMS.DLQ}:${dlqSeq}`;
}

export type RedriveResult =
  | { readonly entry: DlqEntry; readonly status: 'redriven'; readonly seq: number; readonly duplicate: boolean }
  | { readonly entry: DlqEntry; readonly status: 'superseded'; readonly by: number }
  | { readonly entry: DlqEntry; readonly status: 'refused'; readonly reason: string };

/**
 * Why an entry may not be published where it says it came from, or undefined. An entry is only headers and bytes that
 * anyone with access to dlq.> can write: one naming $JS.API.STREAM.DELETE.DOCUMENTS, a KV key or another stream's
 * subject would have a re-drive run it with the operator's credentials. Its subject must be a plain one that the stream
 * it names still captures (`streamSubjects`: that stream's subjects, undefined when there is no such stream).
 */
export function redriveProblem(entry: Pick<DlqEntry, 'stream' | 'subject'>, streamSubjects: readonly string[] | undefined): string | undefined {
  const named = `${JSON.stringify(entry.subject)} (stream ${JSON.stringify(entry.stream)})`;
  if (entry.stream === STREAMS.DLQ) return `it names the DLQ itself as its origin: ${named}`;
  if (!isPlainSubject(entry.subject)) return `its subject is not one an event can have been read from: ${named}`;
  if (streamSubjects === undefined) return `no stream ${JSON.stringify(entry.stream)} exists to re-drive it to: ${named}`;
  if (!streamSubjects.some((filter) => subjectMatches(entry.subject, filter))) return `stream ${entry.stream} does not hold its subject: ${named}`;
  return undefined;
}

/** The subjects of each stream the entries name (undefined for a stream that does not exist). */
async function subjectsOfStreams(handle: NatsHandle, entries: readonly DlqEntry[]): Promise<Map<string, readonly string[] | undefined>> {
  const names = [...new Set(entries.map((e) => e.stream))];
  const infos = await Promise.all(
    names.map((name) =>
      name === STREAMS.DLQ || name.length === 0 || /[\s.*>]/u.test(name)
        ? undefined
        : handle.jsm.streams.info(name).then(
            (info) => info.config.subjects ?? [],
            (err: unknown) => {
              if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return undefined;
              throw err;
            },
          ),
    ),
  );
  return new Map(names.map((name, i) => [name, infos[i]]));
}

/**
 * Publishes the entries' original bytes and headers to their original subjects (a new Nats-Msg-Id derived from each DLQ
 * sequence), in DLQ order, then deletes the entries that were published. A crash between the two leaves the entries;
 * re-driving them again is deduplicated by the stream (within its duplicate window), so each input is reprocessed once
 * in effect. A DOCUMENTS entry whose document has a newer version in the log is not re-driven unless `force`: it would
 * bring the old text back. An entry whose subject the stream it names does not hold is refused and left in the DLQ
 * (redriveProblem). When a publish fails, the entries published before it are still removed and the error is thrown:
 * the rest stay in the DLQ for the next re-drive.
 */
export async function redriveDlqEntries(handle: NatsHandle, entries: readonly DlqEntry[], options: { force?: boolean } = {}): Promise<RedriveResult[]> {
  const streamSubjects = await subjectsOfStreams(handle, entries);
  const refused = entries.map((entry) => redriveProblem(entry, streamSubjects.get(entry.stream)));
  const newer = await Promise.all(
    entries.map((entry, i) => (refused[i] === undefined && entry.stream === STREAMS.DOCUMENTS && !options.force ? newerVersionOf(handle, entry) : undefined)),
  );
  // Published in one go, in order: one connection keeps their order, so two versions of one subject land as they were.
  const published = entries.map((entry, i) =>
    newer[i] === undefined && refused[i] === undefined ? handle.js.publish(entry.subject, entry.data, { headers: eventHeaders(entry.headers), msgID: redriveMsgId(entry.dlqSeq) }) : undefined,
  );
  const settled = await Promise.allSettled(published.map((p) => p ?? Promise.resolve(undefined)));
  await Promise.all(entries.map((entry, i) => (settled[i]?.status === 'fulfilled' && published[i] !== undefined ? deleteDlqEntry(handle, entry.dlqSeq) : undefined)));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return entries.map((entry, i): RedriveResult => {
    const reason = refused[i];
    if (reason !== undefined) return { entry, status: 'refused', reason };
    const by = newer[i];
    if (by !== undefined) return { entry, status: 'superseded', by };
    const ack = (settled[i] as PromiseFulfilledResult<{ seq: number; duplicate: boolean }>).value;
    return { entry, status: 'redriven', seq: ack.seq, duplicate: ack.duplicate };
  });
}

/** Re-drives one entry (see redriveDlqEntries). */
export async function redriveDlqEntry(handle: NatsHandle, entry: DlqEntry, options: { force?: boolean } = {}): Promise<RedriveResult> {
  const [result] = await redriveDlqEntries(handle, [entry], options);
  return result as RedriveResult;
}

/** The DOCUMENTS sequence of a newer version of the entry's document, if the log has one. */
async function newerVersionOf(handle: NatsHandle, entry: DlqEntry): Promise<number | undefined> {
  const last = await handle.jsm.streams.getMessage(STREAMS.DOCUMENTS, { last_by_subj: entry.subject }).catch((err: unknown) => {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound) return null;
    throw err;
  });
  return last && last.seq > entry.seq ? last.seq : undefined;
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
  await scanDlq(handle, { filter, headersOnly: true }, async (entries) => {
    const deleted = await Promise.all(entries.map((entry) => deleteDlqEntry(handle, entry.dlqSeq)));
    removed += deleted.filter(Boolean).length;
  });
  return removed;
}
