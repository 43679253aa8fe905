// Postgres-side preparation for logical replication: checks, table names, the publication and the replication slot.
import pg from 'pg';
import { ConfigError, errorMessage } from '../../lib/errors.ts';
import { CDC_SESSION_OPTIONS, cdcTypes } from './value-types.ts';

export interface TableName {
  readonly schema: string;
  readonly table: string;
}

/** "schema.table" or "table" (schema public). Quoting is not supported: names are taken as written. */
export function parseTableName(text: string): TableName {
  const parts = text.split('.');
  if (parts.length > 2 || parts.some((p) => p === '')) throw new ConfigError(`${JSON.stringify(text)}: use schema.table (e.g. public.articles)`);
  return parts.length === 2 ? { schema: parts[0] as string, table: parts[1] as string } : { schema: 'public', table: parts[0] as string };
}

export const qualified = (t: TableName) => `${t.schema}.${t.table}`;

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export const quoteTable = (t: TableName) => `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`;

/** Slot and publication names: lower-case letters, digits and "_", at most 63 characters. */
export function replicationName(base: string): string {
  const name = `spanda_${base.toLowerCase().replace(/[^a-z0-9_]+/g, '_')}`.slice(0, 63);
  return name.replace(/_+$/, '') || 'spanda_cdc';
}

export async function connectAdmin(url: string): Promise<pg.Client> {
  // A host that drops packets would otherwise hold a start (and a shutdown behind it) for minutes.
  // Its own type parsers (dates and timestamps as Postgres wrote them), not pg's global ones.
  const client = new pg.Client({ connectionString: url, application_name: 'spanda-cdc', connectionTimeoutMillis: 10_000, types: cdcTypes, options: CDC_SESSION_OPTIONS });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    throw new ConfigError(`cannot connect to Postgres at ${redactUrl(url)}: ${errorMessage(err)}`);
  }
  return client;
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

/** Fails with the fix when the server cannot do logical replication or a table is missing. */
export async function checkServer(client: pg.Client, tables: readonly TableName[]): Promise<void> {
  const level = (await client.query<{ wal_level: string }>('SHOW wal_level')).rows[0]?.wal_level;
  if (level !== 'logical') {
    throw new ConfigError(`Postgres runs with wal_level=${level}; logical replication needs wal_level=logical (ALTER SYSTEM SET wal_level = logical, then restart Postgres)`);
  }
  for (const t of tables) {
    const found = await client.query('SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = $1 AND tablename = $2', [t.schema, t.table]);
    if (found.rowCount === 0) throw new ConfigError(`table ${qualified(t)} does not exist in ${client.database ?? 'the database'}`);
    await checkReplicaIdentity(client, t);
  }
}

/**
 * A table in a publication that publishes updates and deletes needs a replica identity, or Postgres refuses every
 * UPDATE and DELETE of it ("cannot update table … because it does not have a replica identity"): adding such a
 * table would break the application that writes it. Refused here, before the publication is touched, with the fix.
 */
async function checkReplicaIdentity(client: pg.Client, t: TableName): Promise<void> {
  const r = await client.query<{ ident: string; keyed: boolean }>(
    `SELECT c.relreplident AS ident,
            EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND (CASE WHEN c.relreplident = 'i' THEN i.indisreplident ELSE i.indisprimary END)) AS keyed
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2`,
    [t.schema, t.table],
  );
  const row = r.rows[0];
  if (!row || row.ident === 'f' || ((row.ident === 'd' || row.ident === 'i') && row.keyed)) return;
  const why = row.ident === 'n' ? 'its REPLICA IDENTITY is NOTHING' : row.ident === 'i' ? 'the index of its REPLICA IDENTITY is gone' : 'it has no primary key';
  throw new ConfigError(
    `table ${qualified(t)} cannot be replicated safely: ${why}, and once it is in a publication Postgres refuses every UPDATE and DELETE of it. ` +
      `Add a primary key, or run ALTER TABLE ${quoteTable(t)} REPLICA IDENTITY FULL (deletes then carry the whole old row), and start again`,
  );
}

/** Creates the publication for the tables, or adds the ones it lacks. */
export async function ensurePublication(client: pg.Client, name: string, tables: readonly TableName[]): Promise<void> {
  const exists = await client.query('SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1', [name]);
  if (exists.rowCount === 0) {
    try {
      await client.query(`CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ${tables.map(quoteTable).join(', ')}`);
      return;
    } catch (err) {
      // 42710: another runner created it first.
      if ((err as { code?: string }).code !== '42710') throw err;
    }
  }
  const current = await client.query<{ schemaname: string; tablename: string }>('SELECT schemaname, tablename FROM pg_catalog.pg_publication_tables WHERE pubname = $1', [name]);
  const have = new Set(current.rows.map((r) => `${r.schemaname}.${r.tablename}`));
  const missing = tables.filter((t) => !have.has(qualified(t)));
  if (missing.length > 0) await client.query(`ALTER PUBLICATION ${quoteIdent(name)} ADD TABLE ${missing.map(quoteTable).join(', ')}`);
}

/**
 * True when Postgres invalidated the slot (`wal_status = 'lost'`, Postgres 13+): it fell further behind than
 * max_slot_wal_keep_size and can no longer stream. Servers without the column answer false.
 */
export async function slotLost(client: pg.Client, slot: string): Promise<boolean> {
  try {
    const r = await client.query<{ wal_status: string | null }>('SELECT wal_status FROM pg_catalog.pg_replication_slots WHERE slot_name = $1', [slot]);
    return r.rows[0]?.wal_status === 'lost';
  } catch {
    return false;
  }
}

/**
 * Why the slot cannot be streamed from any more: `lost` (Postgres invalidated it), `missing` (it was dropped), or
 * undefined when it is there and usable.
 */
export async function slotGone(client: pg.Client, slot: string): Promise<'lost' | 'missing' | undefined> {
  if (!(await slotExists(client, slot))) return 'missing';
  return (await slotLost(client, slot)) ? 'lost' : undefined;
}

/** The columns identifying a row of the table: its replica identity index, else its primary key; empty when it has neither. */
export async function keyColumns(client: pg.Client, t: TableName): Promise<string[]> {
  const r = await client.query<{ name: string }>(
    `SELECT a.attname AS name
       FROM pg_catalog.pg_index i
       JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (i.indkey)
      WHERE n.nspname = $1 AND c.relname = $2 AND (CASE WHEN c.relreplident = 'i' THEN i.indisreplident ELSE i.indisprimary END)
      ORDER BY pg_catalog.array_position(i.indkey::int2[], a.attnum)`,
    [t.schema, t.table],
  );
  return r.rows.map((row) => row.name);
}

/** The application_name of the connection that creates a slot and holds its exported snapshot (at most 63 bytes, as Postgres keeps it). */
export const snapshotHolderName = (slot: string) => `spanda-snapshot:${slot}`.slice(0, 63);

/**
 * Who holds the slot: the pid of a walsender streaming from it, or of the connection still holding the snapshot it was
 * created with (the slot itself shows no active pid then); null when nobody; undefined when there is no such slot.
 */
export async function slotActivePid(client: pg.Client, slot: string): Promise<number | null | undefined> {
  const r = await client.query<{ active_pid: number | null }>('SELECT active_pid FROM pg_catalog.pg_replication_slots WHERE slot_name = $1', [slot]);
  const row = r.rows[0];
  if (row === undefined) return undefined;
  if (row.active_pid !== null) return row.active_pid;
  const holder = await client.query<{ pid: number }>('SELECT pid FROM pg_catalog.pg_stat_activity WHERE application_name = $1 LIMIT 1', [snapshotHolderName(slot)]);
  return holder.rows[0]?.pid ?? null;
}

export async function slotExists(client: pg.Client, slot: string): Promise<boolean> {
  const r = await client.query('SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = $1', [slot]);
  return (r.rowCount ?? 0) > 0;
}

/** Drops the slot, waiting (up to `timeoutMs`) for a walsender of a killed run to let go of it. */
export async function dropSlot(client: pg.Client, slot: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await client.query('SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots WHERE slot_name = $1', [slot]);
      return;
    } catch (err) {
      // 55006: the slot is still active for a walsender.
      if ((err as { code?: string }).code !== '55006' || Date.now() > deadline) throw err;
      await client.query('SELECT pg_catalog.pg_terminate_backend(active_pid) FROM pg_catalog.pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL', [slot]).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export interface CreatedSlot {
  readonly replication: pg.Client;
  readonly consistentPoint: string;
  readonly snapshotName: string;
}

/**
 * Creates the slot on a replication connection with EXPORT_SNAPSHOT. The snapshot exists only while that connection
 * stays open and runs nothing else: read the tables with SET TRANSACTION SNAPSHOT, then close it.
 */
export async function createSlotWithSnapshot(url: string, slot: string): Promise<CreatedSlot> {
  // `replication` is a libpq connection parameter node-postgres passes on; its ClientConfig type does not list it.
  const config: pg.ClientConfig & { replication: 'database' } = { connectionString: url, replication: 'database', application_name: snapshotHolderName(slot) };
  const replication = new pg.Client(config);
  replication.on('error', () => undefined);
  await replication.connect();
  try {
    const r = await replication.query<{ consistent_point: string; snapshot_name: string }>(`CREATE_REPLICATION_SLOT ${quoteIdent(slot)} LOGICAL pgoutput EXPORT_SNAPSHOT`);
    const row = r.rows[0];
    if (!row) throw new Error('CREATE_REPLICATION_SLOT returned no row');
    return { replication, consistentPoint: row.consistent_point, snapshotName: row.snapshot_name };
  } catch (err) {
    await replication.end().catch(() => undefined);
    throw err;
  }
}
