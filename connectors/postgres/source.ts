// The embedded Postgres CDC source: consistent snapshot, then pgoutput logical replication, written as Debezium change events to JetStream; the slot advances only past what JetStream stored.
import type pg from 'pg';
import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import { z } from 'zod';
import { errorMessage, UnavailableError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import { connectorState, type Connector, type ConnectorContext, type ConnectorOutcome, type ConnectorState, type RunningConnector } from '../connector.ts';
import { encodeChange, type ChangeEvent, type Row } from '../cdc/envelope.ts';
import { UNAVAILABLE_VALUE } from '../cdc/map-change.ts';
import { debeziumSubject, ensureCdcStream } from '../cdc/stream.ts';
import { changeEvent, jsonRow, keyImage, type ChangeOrigin } from './envelope-builder.ts';
import { formatLsn, parseLsn, type Lsn } from './lsn.ts';
import { messageLimit, publishSize, refuseOversized, rowKeyText } from './oversize.ts';
import { CDC_SESSION_OPTIONS, withCdcTypes } from './value-types.ts';
import {
  checkServer,
  connectAdmin,
  createSlotWithSnapshot,
  dropSlot,
  ensurePublication,
  keyColumns,
  parseTableName,
  qualified,
  quoteIdent,
  quoteTable,
  redactUrl,
  replicationName,
  slotActivePid,
  slotExists,
  slotGone,
  slotLost,
  type TableName,
} from './setup.ts';

const MISSING_SLOT =
  'the replication slot was dropped while the source ran; creating it again with a new snapshot: rows deleted meanwhile stay indexed until deleted again';

const LOST_SLOT =
  'Postgres invalidated the replication slot (it fell further behind than max_slot_wal_keep_size); taking a new snapshot: rows deleted while it was lost stay indexed until deleted again';

export interface PostgresSourceConfig {
  readonly url: string;
  /** "schema.table" names; they form the publication. */
  readonly tables: readonly string[];
  /** Debezium's topic.prefix: change events go to `<topicPrefix>.<schema>.<table>`. */
  readonly topicPrefix: string;
  /** Replication slot and publication names (default spanda_<topicPrefix>). */
  readonly slot?: string;
  readonly publication?: string;
  /** Stream to create when none holds `<topicPrefix>.>` (default DebeziumStream). */
  readonly streamName?: string;
  /** Stop once everything up to the WAL position at start is stored. */
  readonly once?: boolean;
  /** Change events published but not yet acknowledged by JetStream before replication pauses (default 512). */
  readonly maxInFlight?: number;
  readonly snapshotBatchRows?: number;
}

/** The replication position kept in KV (bucket spanda-connectors, key postgres.<slot>). */
export const positionSchema = z.object({
  phase: z.enum(['snapshot', 'streaming']),
  slot: z.string(),
  consistentPoint: z.string(),
  /** Everything before this LSN is stored in JetStream (and confirmed to the slot, or about to be). */
  lsn: z.string(),
  tables: z.array(z.string()),
  updatedAt: z.string(),
});
export type Position = z.infer<typeof positionSchema>;

export interface RunningPostgresSource extends RunningConnector {
  /** Resolves once the initial snapshot is stored (at once when resuming a stream). */
  readonly snapshotted: Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for `work` at most `ms`: tearing down a replication connection mid-start can leave its promises unsettled. */
const within = (work: Promise<unknown>, ms: number) => Promise.race([work.catch(() => undefined), sleep(ms)]);

/** Ordered publish pipeline: publishes run concurrently, positions are confirmed strictly in order once all before them are stored. */
class AckPipeline {
  private readonly queue: Array<{ kind: 'publish'; done: Promise<unknown> } | { kind: 'position'; lsn: Lsn }> = [];
  private draining = false;
  private failed: unknown;
  inFlight = 0;
  constructor(
    private readonly onPosition: (lsn: Lsn) => void,
    private readonly onFailure: (err: unknown) => void,
    private readonly onDrained: () => void,
  ) {}
  publish(done: Promise<unknown>): void {
    done.catch(() => undefined);
    this.inFlight += 1;
    this.queue.push({ kind: 'publish', done });
    void this.drain();
  }
  position(lsn: Lsn): void {
    this.queue.push({ kind: 'position', lsn });
    void this.drain();
  }
  get idle(): boolean {
    return this.queue.length === 0 && !this.draining;
  }
  private async drain(): Promise<void> {
    if (this.draining || this.failed !== undefined) return;
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        const head = this.queue[0];
        if (!head) break;
        if (head.kind === 'publish') {
          try {
            await head.done;
          } catch (err) {
            this.failed = err;
            this.queue.length = 0;
            this.onFailure(err);
            return;
          }
          this.inFlight -= 1;
        } else this.onPosition(head.lsn);
        this.queue.shift();
        this.onDrained();
      }
    } finally {
      this.draining = false;
    }
  }
}

export interface PostgresSource extends Connector {
  start(ctx: ConnectorContext): Promise<RunningPostgresSource>;
}

export function postgresSource(config: PostgresSourceConfig): PostgresSource {
  const tables: TableName[] = config.tables.map(parseTableName);
  const slot = config.slot ?? replicationName(config.topicPrefix);
  const publication = config.publication ?? slot;
  const maxInFlight = config.maxInFlight ?? 512;
  const name = `postgres:${slot}`;
  // Fail fast on names that cannot be subject tokens.
  for (const t of tables) debeziumSubject(config.topicPrefix, t.schema, t.table);

  return {
    name,
    async start({ nats: handle, kv, logger }) {
      const log: Logger = logger.child('postgres');
      const state = connectorState(kv, 'postgres');
      let admin = await connectAdmin(config.url);
      // The server closes this connection when it restarts; replication resumes on a connection of its own, and the
      // next query here (a TOASTed value to fill) reconnects instead of failing every session from then on.
      let adminBroken = false;
      const watchAdmin = (client: pg.Client) => {
        const broken = () => {
          if (admin === client) adminBroken = true;
        };
        client.on('error', broken);
        client.on('end', broken);
      };
      watchAdmin(admin);
      const liveAdmin = async (): Promise<pg.Client> => {
        if (!adminBroken) return admin;
        const old = admin;
        admin = await connectAdmin(config.url);
        adminBroken = false;
        watchAdmin(admin);
        void old.end().catch(() => undefined);
        log.info('reconnected to Postgres for queries', { url: redactUrl(config.url) });
        return admin;
      };
      let db = admin.database ?? 'postgres';
      let cdcStream: { name: string; maxMsgSize: number } | undefined;
      try {
        await checkServer(admin, tables);
        await ensurePublication(admin, publication, tables);
        const found = await ensureCdcStream(handle, { subjects: `${config.topicPrefix}.>`, ...(config.streamName !== undefined ? { streamName: config.streamName } : {}) });
        // A stream Debezium created may cap its messages below the server's max_payload.
        cdcStream = { name: found.stream, maxMsgSize: (await handle.jsm.streams.info(found.stream)).config.max_msg_size ?? -1 };
        db = (await admin.query<{ db: string }>('SELECT current_database() AS db')).rows[0]?.db ?? db;
      } catch (err) {
        await admin.end().catch(() => undefined);
        throw err;
      }

      let runState: ConnectorState = 'running';
      let stopping = false;
      let lastError: string | undefined;
      const counts = { snapshotRows: 0, changes: 0, transactions: 0, refused: 0 };
      let position: Position | undefined;
      let confirmed: Lsn = 0n;
      let target: Lsn | undefined;
      let wake: (() => void) | undefined;
      let resolveSnapshotted!: () => void;
      const snapshotted = new Promise<void>((r) => (resolveSnapshotted = r));

      /** Key columns per table, read once (for naming a refused row); `fallback` when Postgres cannot say. */
      const keysByTable = new Map<string, Promise<readonly string[]>>();
      const keysOf = (t: TableName, fallback: readonly string[]): Promise<readonly string[]> => {
        const name = qualified(t);
        let found = keysByTable.get(name);
        if (!found) {
          found = liveAdmin().then((client) => keyColumns(client, t));
          keysByTable.set(name, found);
          found.catch(() => keysByTable.delete(name));
        }
        return found.catch(() => fallback);
      };

      /**
       * Publishes one change event; one over the server's max_payload can never be stored, so it is refused to the DLQ
       * with its table, row key and size, and the source moves on past it (resolving like a stored change).
       */
      const publishChange = (event: ChangeEvent, msgId: string, fallbackKeys: readonly string[] = []): Promise<unknown> => {
        const table: TableName = { schema: event.source.schema ?? 'public', table: event.source.table ?? '' };
        const subject = debeziumSubject(config.topicPrefix, table.schema, table.table);
        const data = encodeChange(event);
        const size = publishSize(data, msgId);
        const maxPayload = handle.maxPayload();
        const limit = messageLimit(maxPayload, cdcStream);
        if (size <= limit.bytes) return handle.js.publish(subject, data, { msgID: msgId, timeout: 10_000 });
        return (async () => {
          const keys = await keysOf(table, fallbackKeys);
          const reason = await refuseOversized(handle, { event, subject, msgId, slot, size, limit, maxPayload, keyColumns: keys });
          counts.refused += 1;
          log.warn('change too large for NATS refused to the DLQ (dlq.cdc)', { table: qualified(table), key: rowKeyText(event.after ?? event.before, keys), bytes: size, limit: limit.bytes, reason });
        })();
      };

      let lastSaved = 0;
      let saving: Promise<unknown> = Promise.resolve();
      const savePosition = (force = false): Promise<unknown> => {
        if (!position) return saving;
        const now = Date.now();
        if (!force && now - lastSaved < 500) return saving;
        lastSaved = now;
        const value: Position = { ...position, lsn: formatLsn(confirmed), updatedAt: new Date(now).toISOString() };
        position = value;
        saving = saving.then(() => state.put([slot], value)).catch((err: unknown) => log.warn('cannot save the replication position to KV; the slot still holds it', { error: errorMessage(err) }));
        return saving;
      };

      /**
       * An update under REPLICA IDENTITY DEFAULT does not carry TOASTed values it left unchanged. They are read from the
       * row as it is now (a later change of the same row follows in the stream anyway); a row already gone keeps
       * Debezium's placeholder, which the mapping refuses with its reason.
       */
      async function fillUnchanged(event: ChangeEvent, rel: Pgoutput.MessageRelation): Promise<ChangeEvent> {
        const after = event.after ?? {};
        const missing = Object.keys(after).filter((c) => after[c] === UNAVAILABLE_VALUE);
        const keys = rel.keyColumns.length > 0 ? rel.keyColumns : [];
        if (keys.length === 0 || keys.some((k) => after[k] === null || after[k] === undefined || after[k] === UNAVAILABLE_VALUE)) return event;
        const where = keys.map((k, i) => `${quoteIdent(k)} = $${i + 1}`).join(' AND ');
        const row = (await (await liveAdmin()).query<Record<string, unknown>>(`SELECT ${missing.map(quoteIdent).join(', ')} FROM ${quoteTable({ schema: rel.schema, table: rel.name })} WHERE ${where}`, keys.map((k) => after[k]))).rows[0];
        return row ? { ...event, after: { ...after, ...jsonRow(row, missing) } } : event;
      }

      /** Snapshot: a new slot exports the snapshot its stream starts after; the rows are read inside that snapshot. */
      async function snapshot(): Promise<void> {
        const holder = await slotActivePid(admin, slot);
        if (holder !== undefined && holder !== null) {
          // Another source (a second process with the same entry) is snapshotting or streaming from it: dropping the
          // slot would cut that one off mid-snapshot. This one waits, as a standby, and tries again.
          throw new UnavailableError(`replication slot ${slot} is in use by another process (pid ${holder}): this source waits and tries again; stop the other one to hand over`);
        }
        if (holder === null) {
          log.warn('dropping a replication slot whose snapshot never finished; taking the snapshot again', { slot });
          await dropSlot(admin, slot);
        }
        const created = await createSlotWithSnapshot(config.url, slot);
        position = { phase: 'snapshot', slot, consistentPoint: created.consistentPoint, lsn: created.consistentPoint, tables: tables.map(qualified), updatedAt: new Date().toISOString() };
        await state.put([slot], position);
        log.info('replication slot created; snapshot started', { slot, consistentPoint: created.consistentPoint });
        const reader = await connectAdmin(config.url);
        const cp = parseLsn(created.consistentPoint);
        const tsMs = Date.now();
        try {
          await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
          await reader.query(`SET TRANSACTION SNAPSHOT '${created.snapshotName.replace(/'/g, "''")}'`);
          for (const t of tables) {
            await reader.query(`DECLARE spanda_snapshot NO SCROLL CURSOR FOR SELECT * FROM ${quoteTable(t)}`);
            let ordinal = 0;
            for (;;) {
              const batch = await reader.query<Record<string, unknown>>(`FETCH ${config.snapshotBatchRows ?? 1000} FROM spanda_snapshot`);
              if (batch.rows.length === 0) break;
              const origin: ChangeOrigin = { serverName: config.topicPrefix, db, schema: t.schema, table: t.table, tsMs, lsn: cp, snapshot: 'true' };
              const pending = batch.rows.map((row) =>
                publishChange(changeEvent('r', origin, null, jsonRow(row)), `pg:${slot}:snapshot:${created.consistentPoint}:${qualified(t)}:${ordinal++}`),
              );
              await Promise.all(pending);
              counts.snapshotRows += batch.rows.length;
              if (stopping) throw new Error('stopped during the snapshot; it restarts on the next run');
            }
            await reader.query('CLOSE spanda_snapshot');
          }
          await reader.query('COMMIT');
        } finally {
          await reader.end().catch(() => undefined);
          await created.replication.end().catch(() => undefined);
        }
        confirmed = cp;
        position = { ...position, phase: 'streaming', lsn: created.consistentPoint };
        await state.put([slot], position);
        log.info('snapshot stored', { rows: counts.snapshotRows, consistentPoint: created.consistentPoint });
      }

      /** One replication session from the confirmed position; resolves when stopped, finished (--once) or failed. */
      async function stream(): Promise<void> {
        const service = new LogicalReplicationService(
          { connectionString: config.url, application_name: 'spanda-cdc', options: CDC_SESSION_OPTIONS },
          // Acknowledgements are ours alone: the library's automatic ones would confirm what JetStream has not stored.
          { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: false } },
        );
        keepClientErrorsHandled(service);
        // The library reports lsn + 1 as flushed; we pass lsn - 1 so the slot's confirmed_flush_lsn is exactly the
        // end of the last transaction JetStream stored. A transaction whose commit record starts there is then still
        // sent after a restart (Postgres skips only commits that start before confirmed_flush_lsn).
        const report = (lsn: Lsn, ping = false) => (lsn > 0n ? service.acknowledge(formatLsn(lsn - 1n), ping).catch(() => false) : Promise.resolve(false));
        let failure: unknown;
        let finish!: () => void;
        const finished = new Promise<void>((r) => (finish = r));
        const socket = () => (service as unknown as { _connection?: { stream?: { pause?: () => void; resume?: () => void } } })._connection?.stream;
        let paused = false;
        const pipeline = new AckPipeline(
          (lsn) => {
            if (lsn <= confirmed) return;
            confirmed = lsn;
            void report(lsn);
            void savePosition();
            if (target !== undefined && confirmed >= target) finish();
          },
          (err) => {
            failure = err;
            finish();
          },
          () => {
            if (paused && pipeline.inFlight < maxInFlight / 2) {
              paused = false;
              socket()?.resume?.();
            }
          },
        );
        let txn: { xid: number; commitLsn: Lsn; tsMs: number; n: number } | undefined;

        // Publishes are issued strictly in WAL order; one that must first read unchanged TOAST values waits, and so do
        // the ones after it (the consumer relies on the stream's order per row).
        let issueChain: Promise<unknown> = Promise.resolve();
        const emit = (event: ChangeEvent, rel: Pgoutput.MessageRelation, fillToast = false) => {
          if (!txn) return;
          // Key columns as pgoutput marks them (every column under REPLICA IDENTITY FULL: none to name a row by).
          const keyHint = rel.replicaIdentity === 'full' ? [] : rel.keyColumns;
          counts.changes += 1;
          const msgId = `pg:${slot}:${formatLsn(txn.commitLsn)}:${txn.n++}`;
          const fill = fillToast && event.after !== null && event.after !== undefined && Object.values(event.after).includes(UNAVAILABLE_VALUE);
          const issued = issueChain.then(async () => ({ ack: publishChange(fill ? await fillUnchanged(event, rel) : event, msgId, keyHint) }));
          issueChain = issued.catch(() => undefined);
          pipeline.publish(issued.then((x) => x.ack));
          if (!paused && pipeline.inFlight >= maxInFlight) {
            paused = true;
            socket()?.pause?.();
          }
        };
        const origin = (rel: Pgoutput.MessageRelation, lsn: Lsn): ChangeOrigin => ({
          serverName: config.topicPrefix,
          db,
          schema: rel.schema,
          table: rel.name,
          tsMs: txn?.tsMs ?? Date.now(),
          ...(txn ? { txId: txn.xid, commitLsn: txn.commitLsn } : {}),
          lsn,
        });
        const columnsOf = (rel: Pgoutput.MessageRelation) => rel.columns.map((c) => c.name);

        service.on('data', (lsnText: string, msg: Pgoutput.Message) => {
          try {
            const lsn = parseLsn(lsnText);
            switch (msg.tag) {
              case 'begin':
                txn = { xid: msg.xid, commitLsn: msg.commitLsn ? parseLsn(msg.commitLsn) : lsn, tsMs: Number(BigInt(msg.commitTime as bigint) / 1000n), n: 0 };
                return;
              case 'insert':
                emit(changeEvent('c', origin(msg.relation, lsn), null, jsonRow(msg.new, columnsOf(msg.relation))), msg.relation);
                return;
              case 'update': {
                const after = jsonRow(msg.new, columnsOf(msg.relation));
                if (msg.key) {
                  // The key changed: Debezium writes a delete of the old key and a create of the new one.
                  emit(changeEvent('d', origin(msg.relation, lsn), keyImage(msg.key, columnsOf(msg.relation)), null), msg.relation);
                  emit(changeEvent('c', origin(msg.relation, lsn), null, after), msg.relation);
                } else emit(changeEvent('u', origin(msg.relation, lsn), msg.old ? jsonRow(msg.old, columnsOf(msg.relation)) : null, after), msg.relation, true);
                return;
              }
              case 'delete': {
                const before: Row = msg.old ? jsonRow(msg.old, columnsOf(msg.relation)) : keyImage(msg.key ?? {}, columnsOf(msg.relation));
                emit(changeEvent('d', origin(msg.relation, lsn), before, null), msg.relation);
                return;
              }
              case 'truncate':
                for (const rel of msg.relations) emit(changeEvent('t', origin(rel, lsn), null, null), rel);
                return;
              case 'commit':
                counts.transactions += 1;
                pipeline.position(msg.commitEndLsn ? parseLsn(msg.commitEndLsn) : lsn);
                txn = undefined;
                return;
              default:
                return;
            }
          } catch (err) {
            failure = err;
            finish();
          }
        });
        // A session the server accepted: the source runs again (it says `retrying` between sessions).
        service.on('start', () => {
          if (runState === 'retrying') runState = 'running';
        });
        service.on('heartbeat', (lsnText: string, _ts: number, shouldRespond: boolean) => {
          // Between transactions everything the server sent up to here is queued before this marker, so once it is
          // stored the slot may move on (keeps WAL from piling up while only other tables change).
          if (!txn) pipeline.position(parseLsn(lsnText));
          if (shouldRespond) void report(confirmed);
        });
        service.on('error', (err: Error) => {
          failure = err;
          finish();
        });
        const keepalive = setInterval(() => void report(confirmed, target !== undefined), target !== undefined ? 250 : 10_000);
        const stopWatch = setInterval(() => {
          if (stopping) finish();
        }, 100);
        wake = finish;
        // Row values parsed like the snapshot's (value-types.ts), not with pg's global parsers.
        const plugin = withCdcTypes(new PgoutputPlugin({ protoVersion: 1, publicationNames: [publication] }));
        const subscribed = service.subscribe(plugin, slot, formatLsn(confirmed)).catch((err: unknown) => {
          failure ??= err;
          finish();
        });
        log.info('streaming changes', { slot, from: formatLsn(confirmed), ...(target !== undefined ? { until: formatLsn(target) } : {}) });
        if (target !== undefined && confirmed >= target) finish();
        await finished;
        clearInterval(keepalive);
        clearInterval(stopWatch);
        // Whatever is in flight either lands (and is confirmed) or is sent again by the next session.
        const deadline = Date.now() + 5000;
        while (failure === undefined && !pipeline.idle && Date.now() < deadline) await sleep(20);
        await report(confirmed);
        await within(service.destroy(), 2000);
        await within(subscribed, 1000);
        if (failure !== undefined) throw failure;
      }

      async function run(): Promise<void> {
        const saved = await state.get([slot], positionSchema).catch((err: unknown) => {
          log.warn('ignoring an unreadable replication position', { error: errorMessage(err) });
          return undefined;
        });
        const lost = saved?.value.phase === 'streaming' && (await slotLost(admin, slot));
        if (lost) log.warn(LOST_SLOT, { slot });
        if (saved?.value.phase === 'streaming' && !lost && (await slotExists(admin, slot))) {
          position = saved.value;
          confirmed = parseLsn(saved.value.lsn);
          const slotRow = await admin.query<{ confirmed_flush_lsn: string | null }>('SELECT confirmed_flush_lsn FROM pg_catalog.pg_replication_slots WHERE slot_name = $1', [slot]);
          const slotLsn = slotRow.rows[0]?.confirmed_flush_lsn;
          if (slotLsn && parseLsn(slotLsn) > confirmed) confirmed = parseLsn(slotLsn);
          log.info('resuming replication', { slot, lsn: formatLsn(confirmed) });
        } else {
          if (saved?.value.phase === 'streaming') log.warn('the replication slot is gone; taking a new snapshot', { slot });
          await snapshot();
        }
        resolveSnapshotted();
        // The insert position, not the write position: with synchronous_commit=off a commit that already returned may
        // not be written yet, and --once must still include it.
        if (config.once) {
          target = parseLsn((await admin.query<{ lsn: string }>('SELECT pg_catalog.pg_current_wal_insert_lsn()::text AS lsn')).rows[0]?.lsn ?? '0/0');
          // A record after the target, so the server's send position passes it even on an idle database (pgoutput
          // does not forward this message: the subscription asks for messages 'false').
          await admin.query("SELECT pg_catalog.pg_logical_emit_message(false, 'spanda-cdc', 'once')").catch(() => undefined);
        }
        for (let attempt = 0; !stopping; attempt++) {
          if (target !== undefined && confirmed >= target) return;
          try {
            await stream();
            if (target !== undefined && confirmed >= target) return;
            attempt = 0;
          } catch (err) {
            if (stopping) return;
            lastError = errorMessage(err);
            // Postgres may still be restarting: a failed check is neither a lost nor a missing slot.
            const gone = await liveAdmin()
              .then((client) => slotGone(client, slot))
              .catch(() => undefined);
            if (gone !== undefined) {
              // Resuming can never work again: only a new slot, and with it a new snapshot, gets the table back.
              log.warn(gone === 'lost' ? LOST_SLOT : MISSING_SLOT, { slot, error: lastError });
              await snapshot();
              continue;
            }
            if (runState === 'running') runState = 'retrying';
            log.warn('replication session ended; resuming from the last stored position', { error: lastError, lsn: formatLsn(confirmed) });
            await sleep(Math.min(250 * 2 ** Math.min(attempt, 5), 5000));
          }
        }
      }

      const done: Promise<ConnectorOutcome> = run()
        .then(
          () => ({ ok: true }) as ConnectorOutcome,
          (err: unknown) => {
            lastError = errorMessage(err);
            log.error('postgres source failed', { error: lastError, url: redactUrl(config.url) });
            return { ok: false, error: lastError } as ConnectorOutcome;
          },
        )
        .then(async (outcome) => {
          resolveSnapshotted();
          await savePosition(true);
          await admin.end().catch(() => undefined);
          runState = outcome.ok ? 'stopped' : 'failed';
          return outcome;
        });

      return {
        name,
        done,
        snapshotted,
        status: () => ({
          name,
          state: runState,
          published: counts.snapshotRows + counts.changes - counts.refused,
          ...(lastError !== undefined ? { lastError } : {}),
          details: {
            slot,
            publication,
            phase: position?.phase ?? 'starting',
            confirmedLsn: formatLsn(confirmed),
            ...(target !== undefined ? { targetLsn: formatLsn(target) } : {}),
            ...counts,
          },
        }),
        async stop() {
          if (!stopping) {
            stopping = true;
            runState = 'stopping';
            wake?.();
          }
          await done;
        },
      };
    },
  };
}

/** For tests and tools: the position a source saved, read straight from KV. */
export async function savedPosition(ctx: { kv: ConnectorContext['kv'] }, slot: string): Promise<Position | undefined> {
  return (await connectorState(ctx.kv, 'postgres').get([slot], positionSchema))?.value;
}

/**
 * The replication library removes every listener from its pg client when it stops (each session's end, and before it
 * connects again), but the client can still receive the server's last word after that: Postgres shutting down sends
 * 57P01 "terminating connection due to administrator command" to every connection, and a pg client with no 'error'
 * listener throws it, which ended the test process once in CI. Each client the library stops keeps a listener that
 * drops it: the session already ended, and the next one reconnects.
 */
export function keepClientErrorsHandled(service: LogicalReplicationService): void {
  const internals = service as unknown as { _client: pg.Client | null; stop: () => Promise<LogicalReplicationService> };
  const stop = internals.stop.bind(service);
  internals.stop = async () => {
    const client = internals._client;
    try {
      return await stop();
    } finally {
      client?.on('error', () => undefined);
    }
  };
}
