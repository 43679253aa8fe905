// spanda ingest <connector>: dispatches to one module per connector (ingest-rss.ts, ingest-postgres.ts, ingest-debezium.ts), loaded lazily.
import type { ParseArgsConfig } from 'node:util';
import type { Command, CommandContext } from '../main.ts';
import { UsageError } from '../output.ts';

/** One `spanda ingest <name>` subcommand. `ctx.args` no longer holds the subcommand's name. */
export interface IngestSubcommand {
  readonly usage: string;
  /** Option names (from INGEST_OPTIONS) this subcommand accepts besides --nats-url, --json and --help. */
  readonly accepts: readonly string[];
  run(ctx: CommandContext): Promise<number | void>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

// main.ts parses options strictly before dispatch, so every subcommand's options are declared here; each subcommand
// then refuses the ones it does not accept (listed in its `accepts`).
const INGEST_OPTIONS: Options = {
  // shared
  source: { type: 'string' },
  tenant: { type: 'string' },
  // rss (cli/commands/ingest-rss.ts)
  every: { type: 'string' },
  'delete-missing': { type: 'boolean' },
  // postgres (cli/commands/ingest-postgres.ts, CDC) — add postgres options here
  url: { type: 'string' },
  table: { type: 'string' },
  'id-column': { type: 'string' },
  'text-columns': { type: 'string' },
  'title-column': { type: 'string' },
  'metadata-columns': { type: 'string' },
  once: { type: 'boolean' },
  remove: { type: 'boolean' },
  name: { type: 'string' },
  // debezium (cli/commands/ingest-debezium.ts, CDC) — add debezium options here
  subjects: { type: 'string' },
  mapping: { type: 'string' },
};

// `usage` is repeated here (not read from the module) because `spanda ingest --help` is answered before dispatch.
const SUBCOMMANDS: Readonly<Record<string, { usage: string; load: () => Promise<IngestSubcommand> }>> = {
  rss: {
    usage: 'spanda ingest rss <url…> [--every 10m] [--source NAME] [--tenant T] [--delete-missing] [--json] [--nats-url URL]',
    load: async () => (await import('./ingest-rss.ts')).ingestRss,
  },
  postgres: {
    usage: 'spanda ingest postgres --url postgres://… --table schema.table --id-column COL --text-columns A,B [--title-column C] [--metadata-columns D,E] [--source NAME] [--tenant T] [--once] [--json] [--nats-url URL]\n  spanda ingest postgres --url postgres://… (--table schema.table | --name NAME) --remove [--json] [--nats-url URL]',
    load: async () => (await import('./ingest-postgres.ts')).ingestPostgres,
  },
  debezium: { usage: "spanda ingest debezium --subjects 'PREFIX.>' --mapping mapping.json [--json] [--nats-url URL]", load: async () => (await import('./ingest-debezium.ts')).ingestDebezium },
};

function usage(): string {
  return [
    'spanda ingest <connector> [options]',
    '',
    ...Object.values(SUBCOMMANDS).map((s) => `  ${s.usage}`),
  ].join('\n');
}

const COMMON = new Set(['nats-url', 'json', 'help']);

export const ingestCommand: Command = {
  get usage() {
    return usage();
  },
  options: INGEST_OPTIONS,
  async run(ctx) {
    const [name, ...args] = ctx.args;
    if (name === undefined) throw new UsageError(`name a connector\nusage: ${usage()}`);
    const entry = SUBCOMMANDS[name];
    if (!entry) throw new UsageError(`unknown connector ${JSON.stringify(name)}\nusage: ${usage()}`);
    const sub = await entry.load();
    const accepted = new Set([...COMMON, ...sub.accepts]);
    const unknown = Object.keys(ctx.values).filter((k) => ctx.values[k] !== undefined && !accepted.has(k));
    if (unknown.length > 0) throw new UsageError(`spanda ingest ${name} does not take ${unknown.map((k) => `--${k}`).join(', ')}\nusage: ${sub.usage}`);
    return sub.run({ args, values: ctx.values });
  },
};
