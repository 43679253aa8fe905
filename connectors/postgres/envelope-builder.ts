// Pure: pgoutput row images → Debezium change events (the same envelope Debezium's Postgres connector writes, without the schema part).
import type { ChangeEvent, Op, Row } from '../cdc/envelope.ts';
import { UNAVAILABLE_VALUE } from '../cdc/map-change.ts';

/** What the source block needs about where a change came from. */
export interface ChangeOrigin {
  /** topic.prefix: the logical server name, first token of the subject. */
  readonly serverName: string;
  readonly db: string;
  readonly schema: string;
  readonly table: string;
  /** Commit time of the transaction (or snapshot time), ms since epoch. */
  readonly tsMs: number;
  readonly txId?: number;
  /** Position of the change in the WAL (the snapshot's consistent point for reads). */
  readonly lsn?: bigint;
  /** Commit LSN of the transaction: Debezium's sequence is [last commit lsn, lsn]. */
  readonly commitLsn?: bigint;
  readonly snapshot?: 'true' | 'last' | 'false';
}

export const CONNECTOR_VERSION = 'spanda-embedded-1';

/**
 * JSON-safe copy of a row as node-postgres parsed it: dates become ISO strings, bigint and Buffers text/base64, and an
 * unchanged TOAST value (absent from the tuple) Debezium's placeholder.
 */
export function jsonRow(row: Readonly<Record<string, unknown>>, columns?: readonly string[]): Row {
  const out: Record<string, unknown> = {};
  for (const name of columns ?? Object.keys(row)) {
    const value = row[name];
    if (value === undefined) out[name] = UNAVAILABLE_VALUE;
    else if (value instanceof Date) out[name] = Number.isNaN(value.getTime()) ? String(value) : value.toISOString();
    else if (typeof value === 'bigint') out[name] = value.toString();
    else if (Buffer.isBuffer(value)) out[name] = value.toString('base64');
    else out[name] = value;
  }
  return out;
}

/** A key-only image (REPLICA IDENTITY DEFAULT deletes): key columns set, every other column null, as Debezium writes it. */
export function keyImage(key: Readonly<Record<string, unknown>>, columns: readonly string[]): Row {
  const out: Record<string, unknown> = {};
  for (const c of columns) out[c] = key[c] === undefined ? null : key[c];
  return jsonRow(out, columns);
}

export function changeEvent(op: Op, origin: ChangeOrigin, before: Row | null, after: Row | null, nowMs = Date.now()): ChangeEvent {
  return {
    before,
    after,
    source: {
      version: CONNECTOR_VERSION,
      connector: 'postgresql',
      name: origin.serverName,
      ts_ms: origin.tsMs,
      snapshot: origin.snapshot ?? 'false',
      db: origin.db,
      sequence: JSON.stringify([origin.commitLsn !== undefined ? origin.commitLsn.toString() : null, origin.lsn !== undefined ? origin.lsn.toString() : null]),
      schema: origin.schema,
      table: origin.table,
      txId: origin.txId ?? null,
      lsn: origin.lsn !== undefined ? Number(origin.lsn) : null,
      xmin: null,
    },
    op,
    ts_ms: nowMs,
    transaction: null,
  };
}
