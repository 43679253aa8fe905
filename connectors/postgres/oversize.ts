// Change events bigger than NATS can store (max_payload, or the stream's max_msg_size): refused to the DLQ (dlq.cdc) naming the table, the row key and the size, so the source moves on.
import { headers as natsHeaders } from '@nats-io/transport-node';
import { sendToDlq } from '../../streams/dlq.ts';
import type { NatsHandle } from '../../streams/nats.ts';
import { CDC_DLQ_STAGE } from '../cdc/consumer.ts';
import { encodeChange, type ChangeEvent, type Row } from '../cdc/envelope.ts';
import { UNAVAILABLE_VALUE } from '../cdc/map-change.ts';

/** Room kept in a DLQ entry for its headers (the reason alone may take 2,000 bytes). */
const DLQ_HEADER_ROOM = 4096;
/** Values longer than this (JSON bytes) are left out of the DLQ entry's copy of the change. */
const KEPT_VALUE_BYTES = 256;

/** The bytes a JetStream publish of `data` with message id `msgId` counts against max_payload (its headers included). */
export function publishSize(data: Uint8Array, msgId: string): number {
  const h = natsHeaders();
  h.set('Nats-Msg-Id', msgId);
  return data.byteLength + Buffer.byteLength(h.toString(), 'utf8');
}

/** The largest change event NATS stores, and which setting says so. */
export interface MessageLimit {
  readonly bytes: number;
  /** e.g. "the NATS server's max_payload", "stream DebeziumStream's max_msg_size". */
  readonly setting: string;
}

/** The server's max_payload, or the stream's max_msg_size when that is set and smaller. */
export function messageLimit(maxPayload: number, stream?: { readonly name: string; readonly maxMsgSize: number }): MessageLimit {
  if (stream && stream.maxMsgSize > 0 && stream.maxMsgSize < maxPayload) return { bytes: stream.maxMsgSize, setting: `stream ${stream.name}'s max_msg_size` };
  return { bytes: maxPayload, setting: "the NATS server's max_payload" };
}

export interface OversizedChange {
  readonly event: ChangeEvent;
  /** The subject the change would have gone to. */
  readonly subject: string;
  /** Its Nats-Msg-Id: the DLQ entry's id derives from it, so a change sent again after a restart is refused once. */
  readonly msgId: string;
  /** Replication slot of the source: the DLQ entry names `postgres.<slot>` as where the change came from. */
  readonly slot: string;
  readonly size: number;
  readonly limit: MessageLimit;
  /** The server's max_payload, which the DLQ entry must fit. */
  readonly maxPayload: number;
  /** The table's key columns (primary key or replica identity index); empty when it has none. */
  readonly keyColumns: readonly string[];
}

const valueBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');

function shortValue(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}

/** "id=42", "org=acme, id=7", or a note that the table has no key. */
export function rowKeyText(row: Row | null | undefined, keyColumns: readonly string[]): string {
  if (keyColumns.length === 0) return 'a row (the table has no primary key)';
  return `row ${keyColumns.map((c) => `${c}=${shortValue(row?.[c] ?? null)}`).join(', ')}`;
}

/** The columns whose values make the change big, largest first, with their sizes. */
function largeColumns(event: ChangeEvent, keyColumns: readonly string[]): Array<{ column: string; bytes: number }> {
  const sizes = new Map<string, number>();
  for (const row of [event.before, event.after]) {
    for (const [column, value] of Object.entries(row ?? {})) {
      if (keyColumns.includes(column)) continue;
      const bytes = valueBytes(value);
      if (bytes > KEPT_VALUE_BYTES) sizes.set(column, Math.max(bytes, sizes.get(column) ?? 0));
    }
  }
  return [...sizes].map(([column, bytes]) => ({ column, bytes })).sort((a, b) => b.bytes - a.bytes);
}

export function oversizedReason(change: OversizedChange): string {
  const { event } = change;
  const table = `${event.source.schema ?? 'public'}.${event.source.table ?? '?'}`;
  const columns = largeColumns(event, change.keyColumns)
    .slice(0, 5)
    .map((c) => `${c.column} ${c.bytes} bytes`)
    .join(', ');
  return (
    `change (op ${event.op}) of ${table} ${rowKeyText(event.after ?? event.before, change.keyColumns)} is ${change.size} bytes, over ${change.limit.setting} of ${change.limit.bytes} bytes` +
    `${columns ? ` (${columns})` : ''}: it was not stored and the source moved on. Make the row smaller, or raise that limit and update the row, to index it; ` +
    `this entry keeps only its small values and cannot be re-driven`
  );
}

/** A copy of the change that fits `budget` bytes: large values become Debezium's unavailable placeholder, then every non-key value. */
export function trimmedEvent(event: ChangeEvent, keyColumns: readonly string[], budget: number): Uint8Array {
  const trim = (row: Row | null | undefined, keep: (column: string, value: unknown) => boolean): Row | null =>
    row ? Object.fromEntries(Object.entries(row).map(([c, v]) => [c, keyColumns.includes(c) || keep(c, v) ? v : UNAVAILABLE_VALUE])) : null;
  const small = (_: string, v: unknown) => valueBytes(v) <= KEPT_VALUE_BYTES;
  for (const keep of [small, () => false]) {
    const data = encodeChange({ ...event, before: trim(event.before, keep), after: trim(event.after, keep) });
    if (data.byteLength <= budget) return data;
  }
  return new Uint8Array(0);
}

/**
 * Writes the refused change to dlq.cdc (the place for changes that cannot become documents) with the reason, and
 * resolves once JetStream stored the entry: the source then confirms past it like a published change.
 */
export async function refuseOversized(handle: NatsHandle, change: OversizedChange): Promise<string> {
  const reason = oversizedReason(change);
  const data = trimmedEvent(change.event, change.keyColumns, change.maxPayload - DLQ_HEADER_ROOM);
  // Never stored in a stream: named after a stream no stream can be (it holds a dot), so a re-drive refuses it instead
  // of publishing a partial row.
  const input = { subject: change.subject, data, seq: 0, info: { stream: `postgres.${change.slot}` } };
  await sendToDlq(handle, CDC_DLQ_STAGE, input, reason, 1, `dlq:${change.msgId}`);
  return reason;
}
