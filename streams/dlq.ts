// The dead-letter stream: writing a rejected input with its reason (one entry per log event, whichever stage rejects it) and reading entries back.
import type { MsgHdrs } from '@nats-io/transport-node';
import { headers as createHeaders } from '@nats-io/transport-node';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
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
}

/** Every DLQ entry from `fromSeq` on (for tests, `spanda inspect` and re-drives); an empty or missing stream gives none. */
export async function readDlq(handle: NatsHandle, options: { fromSeq?: number; limit?: number } = {}): Promise<DlqEntry[]> {
  let last: number;
  try {
    last = (await handle.jsm.streams.info(STREAMS.DLQ)).state.last_seq;
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return [];
    throw err;
  }
  const out: DlqEntry[] = [];
  const limit = options.limit ?? 10_000;
  for (let seq = Math.max(1, options.fromSeq ?? 1); seq <= last && out.length < limit; seq++) {
    let m;
    try {
      m = await handle.jsm.streams.getMessage(STREAMS.DLQ, { seq });
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound) continue;
      throw err;
    }
    if (!m) continue;
    out.push({
      dlqSeq: m.seq,
      stage: m.header.get(DLQ_HEADER.processor),
      reason: m.header.get(DLQ_HEADER.reason),
      stream: m.header.get(DLQ_HEADER.stream),
      seq: Number(m.header.get(DLQ_HEADER.seq)),
      subject: m.header.get(DLQ_HEADER.subject),
      data: m.data,
    });
  }
  return out;
}
