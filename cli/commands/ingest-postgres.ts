// spanda ingest postgres: snapshot one table, then stream its changes (logical replication) as Debezium events, mapped to documents.
import { ConfigError, errorMessage } from '../../lib/errors.ts';
import { createLogger } from '../../lib/log.ts';
import { openConnectorBucket } from '../../connectors/connector.ts';
import { debeziumConnector } from '../../connectors/cdc/consumer.ts';
import { parseMapping } from '../../connectors/cdc/mapping.ts';
import { debeziumSubject } from '../../connectors/cdc/stream.ts';
import { parseTableName, qualified, replicationName, type TableName } from '../../connectors/postgres/setup.ts';
import { postgresSource } from '../../connectors/postgres/source.ts';
import { removePostgresSource } from '../../connectors/postgres/remove.ts';
import type { CommandContext } from '../main.ts';
import { provision } from '../../streams/provision.ts';
import { connectFrom, stringFlag } from '../env.ts';
import { UsageError, printJson } from '../output.ts';
import type { IngestSubcommand } from './ingest.ts';

/** Debezium topic prefix of the embedded source: change events land on cdc.<schema>.<table>. */
export const EMBEDDED_TOPIC_PREFIX = 'cdc';

/** --table's value, its error naming the flag. */
function tableFlag(text: string): TableName {
  try {
    return parseTableName(text);
  } catch (err) {
    throw new ConfigError(`--table ${errorMessage(err)}`);
  }
}

const list = (value: string | undefined) => (value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');

const USAGE =
  'spanda ingest postgres --url postgres://… --table schema.table --id-column COL --text-columns A,B [--title-column C] [--metadata-columns D,E] [--source NAME] [--tenant T] [--once] [--json] [--nats-url URL]\n' +
  '       spanda ingest postgres --url postgres://… (--table schema.table | --name NAME) --remove [--json] [--nats-url URL]   (drop the replication slot, publication entry, saved position and change consumers)';

export const ingestPostgres: IngestSubcommand = {
  usage: USAGE,
  accepts: ['url', 'table', 'id-column', 'text-columns', 'title-column', 'metadata-columns', 'source', 'tenant', 'once', 'remove', 'name'],
  async run(ctx) {
    const url = stringFlag(ctx, 'url') ?? process.env.DATABASE_URL;
    const tableArg = stringFlag(ctx, 'table');
    if (ctx.values.remove === true) return remove(ctx, url, tableArg);
    if (ctx.values.name !== undefined) throw new UsageError(`--name goes with --remove (the slot of a connectors-file entry with several tables)\nusage: ${USAGE}`);
    const idColumns = list(stringFlag(ctx, 'id-column'));
    const textColumns = list(stringFlag(ctx, 'text-columns'));
    if (!url || !tableArg || idColumns.length === 0 || textColumns.length === 0) {
      throw new UsageError(`give --url, --table, --id-column and --text-columns\nusage: ${USAGE}`);
    }
    let table;
    let mapping;
    try {
      table = tableFlag(tableArg);
      const title = stringFlag(ctx, 'title-column');
      const source = stringFlag(ctx, 'source');
      mapping = parseMapping(
        {
          tables: {
            [qualified(table)]: {
              idColumns,
              textColumns,
              metadataColumns: list(stringFlag(ctx, 'metadata-columns')),
              tenant: stringFlag(ctx, 'tenant') ?? 'default',
              ...(title !== undefined ? { titleColumn: title } : {}),
              ...(source !== undefined ? { source } : {}),
            },
          },
        },
        'from the command line',
      );
    } catch (err) {
      if (err instanceof ConfigError) throw new UsageError(`${err.message}\nusage: ${USAGE}`);
      throw err;
    }
    const subjects = debeziumSubject(EMBEDDED_TOPIC_PREFIX, table.schema, table.table);
    const once = ctx.values.once === true;
    const logger = createLogger('spanda', ctx.values.json ? 'warn' : undefined);
    const handle = await connectFrom(ctx);
    try {
      await provision(handle);
      const kv = await openConnectorBucket(handle);
      const connectorCtx = { nats: handle, kv, logger };
      const consumer = await debeziumConnector({ subjects, mapping }).start(connectorCtx);
      // The consumer stops before the connection drains when the source cannot start (it would log the drain as a failure).
      const source = await postgresSource({
        url,
        tables: [qualified(table)],
        topicPrefix: EMBEDDED_TOPIC_PREFIX,
        slot: replicationName(`${table.schema}_${table.table}`),
        once,
      })
        .start(connectorCtx)
        .catch(async (err: unknown) => {
          await consumer.stop();
          throw err;
        });
      const stopAll = () => void source.stop().then(() => consumer.stop());
      process.once('SIGINT', stopAll);
      process.once('SIGTERM', stopAll);
      const outcome = await source.done;
      if (once && outcome.ok) {
        // Done when the consumer has turned every stored change event into document events.
        while (!(await consumer.caughtUp())) await new Promise((r) => setTimeout(r, 100));
      }
      await consumer.stop();
      const result = { ok: outcome.ok, ...(outcome.error !== undefined ? { error: outcome.error } : {}), source: source.status(), consumer: consumer.status() };
      if (ctx.values.json) printJson(result);
      else {
        const s = result.source.details ?? {};
        const c = result.consumer.details ?? {};
        process.stdout.write(
          `${qualified(table)}: ${String(s.snapshotRows ?? 0)} snapshot rows, ${String(s.changes ?? 0)} changes up to ${String(s.confirmedLsn)}; ` +
            `documents: ${String(c.published ?? 0)} upserted, ${String(c.deleted ?? 0)} deleted, ${String(c.unchanged ?? 0)} unchanged, ${String(c.skipped ?? 0)} skipped, ${String(c.deadLettered ?? 0)} to the DLQ\n`,
        );
        if (outcome.error) process.stderr.write(`spanda: ${outcome.error}\n`);
      }
      return outcome.ok ? 0 : 1;
    } finally {
      await handle.drain();
    }
  },
};

const sizeOf = (bytes: number) => (bytes < 1024 * 1024 ? `${Math.round(bytes / 1024)} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`);

/** --remove: what `spanda ingest postgres` (or a postgres entry of the connectors file) set up for the table goes away. */
async function remove(ctx: CommandContext, url: string | undefined, tableArg: string | undefined): Promise<number> {
  const name = stringFlag(ctx, 'name');
  if (!url || (tableArg === undefined) === (name === undefined)) throw new UsageError(`--remove needs --url, and --table or (for a connectors-file entry with several tables) --name\nusage: ${USAGE}`);
  const others = ['id-column', 'text-columns', 'title-column', 'metadata-columns', 'source', 'tenant', 'once'].filter((k) => ctx.values[k] !== undefined);
  if (others.length > 0) throw new UsageError(`--remove takes only --url and --table or --name, not ${others.map((k) => `--${k}`).join(', ')}\nusage: ${USAGE}`);
  let table: TableName | undefined;
  try {
    if (tableArg !== undefined) table = tableFlag(tableArg);
  } catch (err) {
    throw new UsageError(`${errorMessage(err)}\nusage: ${USAGE}`);
  }
  const slotName = replicationName(table ? `${table.schema}_${table.table}` : (name ?? ''));
  const nats = await connectFrom(ctx).catch(() => undefined);
  try {
    const result = await removePostgresSource({ url, slot: slotName, ...(table ? { tables: [table] } : {}), topicPrefix: EMBEDDED_TOPIC_PREFIX, ...(nats ? { nats } : {}) });
    if (ctx.values.json) printJson({ ...(table ? { table: qualified(table) } : {}), ...result });
    else {
      const slot = result.slot
        ? `replication slot ${result.slot.name} dropped${result.slot.retainedBytes !== null ? ` (it held ${sizeOf(result.slot.retainedBytes)} of WAL)` : ''}`
        : 'no replication slot';
      const publication = { dropped: 'publication dropped', 'table removed': 'removed from the publication', absent: 'not in a publication' }[result.publication];
      const position = { deleted: 'saved position deleted', absent: 'no saved position', kept: 'saved position kept' }[result.position];
      const consumer = { deleted: 'change consumers deleted', absent: 'no change consumer', kept: 'change consumers kept' }[result.consumer];
      process.stdout.write(`${result.tables.join(', ') || slotName}: ${slot}; ${publication}; ${position}; ${consumer}. Documents already ingested stay indexed.\n`);
      for (const w of result.warnings) process.stderr.write(`spanda: ${w}\n`);
    }
    return result.warnings.length > 0 ? 1 : 0;
  } finally {
    await nats?.drain();
  }
}
