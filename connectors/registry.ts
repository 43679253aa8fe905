// Connectors by kind, started from one configuration file (SPANDA_CONNECTORS_FILE): what the `connectors` role runs.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError, errorMessage } from '../lib/errors.ts';
import { debeziumConnector } from './cdc/consumer.ts';
import { loadMapping, mappingFileSchema, parseMapping, tableMappingSchema } from './cdc/mapping.ts';
import { debeziumSubject } from './cdc/stream.ts';
import type { Connector } from './connector.ts';
import { parseTableName, qualified, replicationName } from './postgres/setup.ts';
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

const postgresEntry = z
  .object({
    kind: z.literal('postgres'),
    url: secretString,
    table: z.string().min(1),
    mapping: tableMappingSchema,
  })
  .strict();

export const connectorsFileSchema = z.array(z.discriminatedUnion('kind', [rssEntry, debeziumEntry, postgresEntry]));
export type ConnectorsFile = z.input<typeof connectorsFileSchema>;

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
  // The slot, its saved position and the change subjects are named after the table: two entries for one table would share them.
  const tableOf = (text: string, i: number) => {
    try {
      return qualified(parseTableName(text));
    } catch (err) {
      throw new ConfigError(`invalid connectors file ${file}: entry ${i} key table: ${errorMessage(err).replace(/^--table /, '')}`);
    }
  };
  const tables = parsed.data.flatMap((entry, i) => (entry.kind === 'postgres' ? [[i, tableOf(entry.table, i)] as const] : []));
  for (const [i, table] of tables) {
    const first = tables.find(([, t]) => t === table)?.[0];
    if (first !== undefined && first !== i) {
      throw new ConfigError(`invalid connectors file ${file}: entries ${first} and ${i} both read the Postgres table ${table}; its replication slot, saved position and change subjects are named after the table, so list it once`);
    }
  }
  const connectors: ConfiguredConnector[] = [];
  // An entry's key is what it says (and, for a mapping file, what the file says): unchanged entries keep running on reload.
  const add = (entry: unknown, connector: Connector, extra: unknown = null) => connectors.push({ key: JSON.stringify([connector.name, entry, extra]), connector });
  for (const entry of parsed.data) {
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
      // The embedded source writes Debezium envelopes; a consumer of its subjects turns them into documents.
      const table = parseTableName(entry.table);
      const mapping = parseMapping({ tables: { [qualified(table)]: entry.mapping } }, file);
      add(entry, debeziumConnector({ subjects: debeziumSubject(EMBEDDED_TOPIC_PREFIX, table.schema, table.table), mapping }));
      add(entry, postgresSource({ url: entry.url, tables: [qualified(table)], topicPrefix: EMBEDDED_TOPIC_PREFIX, slot: replicationName(`${table.schema}_${table.table}`) }));
    }
  }
  return connectors;
}
