// Removing the embedded Postgres source of a table: its replication slot (which keeps WAL on the server), its publication entry, its saved position and change consumer.
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type pg from 'pg';
import { ConfigError, errorMessage } from '../../lib/errors.ts';
import type { NatsHandle } from '../../streams/nats.ts';
import { connectorState, openConnectorBucket } from '../connector.ts';
import { durableNameFor } from '../cdc/consumer.ts';
import { debeziumSubject } from '../cdc/stream.ts';
import { connectAdmin, dropSlot, parseTableName, qualified, quoteIdent, quoteTable, slotActivePid, type TableName } from './setup.ts';

export interface RemovedSource {
  /** The tables whose source was removed ("schema.table"). */
  readonly tables: readonly string[];
  /** The slot dropped, and the WAL it was holding back on the server (bytes), when there was one. */
  readonly slot?: { readonly name: string; readonly retainedBytes: number | null };
  /** What became of the publication: the tables left it, or it was dropped with its last table. */
  readonly publication: 'dropped' | 'table removed' | 'absent';
  readonly position: 'deleted' | 'absent' | 'kept';
  readonly consumer: 'deleted' | 'absent' | 'kept';
  /** Steps that could not be done (NATS unreachable), with what to do. */
  readonly warnings: readonly string[];
}

/**
 * Undoes what a source set up, so Postgres stops keeping WAL for it: drops the slot (refused while a running source
 * holds it: stop that first), takes its tables (given, or else every table of the slot's publication) out of the
 * publication (dropping it with its last table), and, with a NATS connection, deletes the saved position and each
 * table's change consumer. The documents already ingested stay indexed.
 */
export async function removePostgresSource(options: { url: string; slot: string; tables?: readonly TableName[]; topicPrefix: string; nats?: NatsHandle }): Promise<RemovedSource> {
  const { slot } = options;
  const publication = slot;
  const admin = await connectAdmin(options.url);
  let removedSlot: RemovedSource['slot'];
  let removedFrom: RemovedSource['publication'] = 'absent';
  // Without tables named (a connectors-file entry with several tables), every table of the slot's publication.
  let tables = options.tables ?? [];
  try {
    if (!options.tables) tables = await publicationTables(admin, publication);
    const what = tables.length === 1 ? qualified(tables[0] as TableName) : `the tables of slot ${slot}`;
    const found = await admin.query<{ retained: string | null }>(
      `SELECT pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), confirmed_flush_lsn)::text AS retained
         FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`,
      [slot],
    );
    const row = found.rows[0];
    const holder = row ? await slotActivePid(admin, slot) : undefined;
    if (row) {
      if (holder !== undefined && holder !== null) {
        throw new ConfigError(`replication slot ${slot} is in use (pid ${holder}): stop the Spanda process streaming ${what} first (remove its entry from SPANDA_CONNECTORS_FILE, or stop spanda ingest postgres), then run this again`);
      }
      await dropSlot(admin, slot, 5000);
      removedSlot = { name: slot, retainedBytes: row.retained === null ? null : Number(row.retained) };
    }
    removedFrom = await leavePublication(admin, publication, tables);
  } finally {
    await admin.end().catch(() => undefined);
  }

  const warnings: string[] = [];
  let position: RemovedSource['position'] = 'kept';
  let consumer: RemovedSource['consumer'] = 'kept';
  if (!options.nats) {
    warnings.push(`NATS was not reached: the saved position (KV spanda-connectors, key postgres.${slot}) and the change consumers of ${tables.map(qualified).join(', ') || 'its tables'} are left; run this again with NATS up`);
  } else {
    try {
      const kv = await openConnectorBucket(options.nats);
      const state = connectorState(kv, 'postgres');
      const saved = await kv.get(state.key(slot));
      position = saved && saved.operation === 'PUT' ? 'deleted' : 'absent';
      // A second run after one that could not reach NATS finds no publication left: the saved position names the tables.
      if (tables.length === 0 && saved && saved.operation === 'PUT') tables = savedTables(saved.json<unknown>());
      if (position === 'deleted') await state.delete([slot]);
      const deleted = await Promise.all(tables.map((t) => deleteConsumer(options.nats as NatsHandle, debeziumSubject(options.topicPrefix, t.schema, t.table))));
      consumer = deleted.includes('deleted') ? 'deleted' : 'absent';
    } catch (err) {
      warnings.push(`could not clean up in NATS: ${errorMessage(err)}`);
    }
  }
  return { tables: tables.map(qualified), ...(removedSlot ? { slot: removedSlot } : {}), publication: removedFrom, position, consumer, warnings };
}

function savedTables(value: unknown): TableName[] {
  const listed = value !== null && typeof value === 'object' && 'tables' in value && Array.isArray(value.tables) ? value.tables : [];
  return listed.filter((t): t is string => typeof t === 'string').flatMap((t) => {
    try {
      return [parseTableName(t)];
    } catch {
      return [];
    }
  });
}

async function publicationTables(admin: pg.Client, publication: string): Promise<TableName[]> {
  const r = await admin.query<{ schemaname: string; tablename: string }>('SELECT schemaname, tablename FROM pg_catalog.pg_publication_tables WHERE pubname = $1', [publication]);
  return r.rows.map((row) => ({ schema: row.schemaname, table: row.tablename }));
}

/** Takes the tables out of the publication, dropping it when none of its tables is left. */
async function leavePublication(admin: pg.Client, publication: string, tables: readonly TableName[]): Promise<RemovedSource['publication']> {
  const exists = (await admin.query('SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1', [publication])).rowCount !== 0;
  if (!exists) return 'absent';
  const members = await publicationTables(admin, publication);
  const leaving = new Set(tables.map(qualified));
  const others = members.filter((t) => !leaving.has(qualified(t)));
  if (others.length === 0) {
    await admin.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(publication)}`);
    return 'dropped';
  }
  const present = members.filter((t) => leaving.has(qualified(t)));
  if (present.length === 0) return 'absent';
  await admin.query(`ALTER PUBLICATION ${quoteIdent(publication)} DROP TABLE ${present.map(quoteTable).join(', ')}`);
  return 'table removed';
}

async function deleteConsumer(nats: NatsHandle, subject: string): Promise<RemovedSource['consumer']> {
  let stream: string;
  try {
    stream = await nats.jsm.streams.find(subject);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return 'absent';
    throw err;
  }
  try {
    await nats.jsm.consumers.delete(stream, durableNameFor(subject));
    return 'deleted';
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound) return 'absent';
    throw err;
  }
}
