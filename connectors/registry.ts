// Connectors by kind, started from one configuration file (SPANDA_CONNECTORS_FILE): what the `connectors` role runs.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError, errorMessage } from '../lib/errors.ts';
import { debeziumConnector } from './cdc/consumer.ts';
import { loadMapping, mappingFileSchema, parseMapping, tableMappingSchema } from './cdc/mapping.ts';
import { debeziumSubject } from './cdc/stream.ts';
import type { Connector } from './connector.ts';
import { parseTableName, qualified, replicationName, type TableName } from './postgres/setup.ts';
import { postgresSource } from './postgres/source.ts';
import { rssConnector } from './rss/rss.ts';
import type { ConfiguredConnector } from './connector-set.ts';

/** Debezium topic prefix of the embedded Postgres source (as `spanda ingest postgres` uses). */
const EMBEDDED_TOPIC_PREFIX = 'cdc';

const duration = z
  .string()
  .regex(/^\d+(ms|s|m|h)$/, 'a duration such as 30s, 10m or 1h')
  .transform((v) => {
    const n = Number(v.replace(/\D+$/, ''));
    const unit = v.replace(/^\d+/, '');
    return n * (({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as Record<string, number>)[unit] ?? 1);
  })
  .refine((ms) => ms >= 1000, 'at least 1s');

const rssEntry = z
  .object({
    kind: z.literal('rss'),
    feeds: z.array(z.string().url()).min(1),
    every: duration.default(600_000),
    tenant: z.string().optional(),
    source: z.string().optional(),
    deleteMissing: z.boolean().default(false),
  })
  .strict();

const debeziumEntry = z
  .object({
    kind: z.literal('debezium'),
    subjects: z.string().min(1),
    /** The table mapping, inline (as in a mapping file) or the path of a mapping file. */
    mapping: z.union([z.string().min(1), mappingFileSchema]),
  })
  .strict();

/** A connection URL written out, or `{ "env": "NAME" }` to read it (with its password) from the environment at load. */
const secretString = z
  .union([z.string().min(1), z.object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name') }).strict()])
  .transform((v, ctx) => {
    if (typeof v === 'string') return v;
    const value = process.env[v.env];
    if (value === undefined || value === '') {
      ctx.addIssue({ code: 'custom', message: `the environment variable ${v.env} is not set` });
      return z.NEVER;
    }
    return value;
  });

/**
 * One table (`table` + `mapping`, slot spanda_<schema>_<table>) or several on one slot (`name` + `tables`, slot
 * spanda_<name>): each slot decodes the server's whole WAL on its own, so one slot for many tables costs the database less.
 */
const postgresEntry = z
  .object({
    kind: z.literal('postgres'),
    url: secretString,
    table: z.string().min(1).optional(),
    mapping: tableMappingSchema.optional(),
    name: z.string().regex(/^[A-Za-z0-9_]{1,48}$/, 'letters, digits and _ (it names the replication slot spanda_<name>)').optional(),
    tables: z.record(z.string().min(1), tableMappingSchema).optional(),
  })
  .strict()
  .superRefine((e, ctx) => {
    const issue = (key: string, message: string) => ctx.addIssue({ code: 'custom', path: [key], message });
    if (e.tables !== undefined) {
      if (e.table !== undefined || e.mapping !== undefined) issue('tables', 'give either "table" with "mapping", or "name" with "tables"');
      if (e.name === undefined) issue('name', '"tables" needs a "name": the replication slot is spanda_<name>');
      if (Object.keys(e.tables).length === 0) issue('tables', 'list at least one table');
      return;
    }
    if (e.table === undefined) issue('table', 'required (or "name" with "tables" for several tables on one slot)');
    if (e.mapping === undefined) issue('mapping', 'required: how the table\'s rows become documents');
    if (e.name !== undefined) issue('name', '"name" goes with "tables"; one "table" names its slot after itself');
  });

export const connectorsFileSchema = z.array(z.discriminatedUnion('kind', [rssEntry, debeziumEntry, postgresEntry]));
export type ConnectorsFile = z.input<typeof connectorsFileSchema>;

type PgTable = { readonly table: TableName; readonly mapping: z.input<typeof tableMappingSchema> };
interface PostgresPlan {
  readonly slot: string;
  readonly tables: readonly PgTable[];
}

/**
 * Each Postgres entry's slot and tables, by entry index. A table's change subjects (and a one-table entry's slot and
 * saved position) are named after it, so a table may be read by one entry only, and a slot belongs to one entry.
 */
function postgresPlans(entries: z.output<typeof connectorsFileSchema>, file: string): Map<number, PostgresPlan> {
  const plans = new Map<number, PostgresPlan>();
  const tableOwner = new Map<string, number>();
  const slotOwner = new Map<string, number>();
  entries.forEach((entry, i) => {
    if (entry.kind !== 'postgres') return;
    const listed: Array<[string, string, z.input<typeof tableMappingSchema>]> = entry.tables
      ? Object.entries(entry.tables).map(([t, m]) => [`tables.${t}`, t, m])
      : [['table', entry.table ?? '', entry.mapping ?? { idColumns: [], textColumns: [] }]];
    const tables = listed.map(([key, text, mapping]): PgTable => {
      let table: TableName;
      try {
        table = parseTableName(text);
      } catch (err) {
        throw new ConfigError(`invalid connectors file ${file}: entry ${i} key ${key}: ${errorMessage(err)}`);
      }
      const first = tableOwner.get(qualified(table));
      if (first !== undefined) {
        throw new ConfigError(`invalid connectors file ${file}: entries ${first} and ${i} both read the Postgres table ${qualified(table)}; its change subjects (and a one-table entry's slot and saved position) are named after it, so list it once`);
      }
      tableOwner.set(qualified(table), i);
      return { table, mapping };
    });
    const only = tables[0]?.table;
    const slot = replicationName(entry.name ?? (only ? `${only.schema}_${only.table}` : ''));
    const other = slotOwner.get(slot);
    if (other !== undefined) throw new ConfigError(`invalid connectors file ${file}: entries ${other} and ${i} would share the replication slot ${slot}; give each a "name" of its own`);
    slotOwner.set(slot, i);
    plans.set(i, { slot, tables });
  });
  return plans;
}

/** Reads and validates a connectors file; every problem names the entry and the key. */
export async function loadConnectors(file: string): Promise<ConfiguredConnector[]> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read the connectors file ${file}: ${errorMessage(err)}; it is a JSON array of { "kind": "rss" | "debezium" | "postgres", … }`);
  }
  const parsed = connectorsFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `entry ${String(i.path[0] ?? '?')}${i.path.length > 1 ? ` key ${i.path.slice(1).join('.')}` : ''}: ${i.message}`);
    throw new ConfigError(`invalid connectors file ${file}: ${issues.slice(0, 5).join('; ')}`);
  }
  const plans = postgresPlans(parsed.data, file);
  const connectors: ConfiguredConnector[] = [];
  // An entry's key is what it says (and, for a mapping file, what the file says): unchanged entries keep running on reload.
  const add = (entry: unknown, connector: Connector, extra: unknown = null) => connectors.push({ key: JSON.stringify([connector.name, entry, extra]), connector });
  for (const [i, entry] of parsed.data.entries()) {
    if (entry.kind === 'rss') {
      add(
        entry,
        rssConnector({
          feeds: entry.feeds,
          everyMs: entry.every,
          deleteMissing: entry.deleteMissing,
          ...(entry.tenant !== undefined ? { tenant: entry.tenant } : {}),
          ...(entry.source !== undefined ? { source: entry.source } : {}),
        }),
      );
    } else if (entry.kind === 'debezium') {
      // A relative mapping path is read next to the connectors file, wherever the process was started.
      const mapping = typeof entry.mapping === 'string' ? await loadMapping(path.resolve(path.dirname(file), entry.mapping)) : parseMapping(entry.mapping, file);
      add(entry, debeziumConnector({ subjects: entry.subjects, mapping }), mapping);
    } else {
      // The embedded source writes Debezium envelopes; a consumer per table turns its subject's changes into documents.
      const plan = plans.get(i) as PostgresPlan;
      for (const { table, mapping } of plan.tables) {
        const parsedMapping = parseMapping({ tables: { [qualified(table)]: mapping } }, file);
        add(entry, debeziumConnector({ subjects: debeziumSubject(EMBEDDED_TOPIC_PREFIX, table.schema, table.table), mapping: parsedMapping }));
      }
      add(entry, postgresSource({ url: entry.url, tables: plan.tables.map((t) => qualified(t.table)), topicPrefix: EMBEDDED_TOPIC_PREFIX, slot: plan.slot }));
    }
  }
  return connectors;
}
