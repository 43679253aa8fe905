// spanda debezium config|register: Debezium Server application.properties (NATS JetStream sink) or a Kafka Connect connector for the same tables.
import { writeFile } from 'node:fs/promises';
import { ConfigError } from '../../lib/errors.ts';
import { connectConnector, serverProperties, type DebeziumDeployment } from '../../connectors/cdc/debezium-config.ts';
import { registerConnector } from '../../connectors/cdc/kafka-connect.ts';
import type { Command, CommandContext } from '../main.ts';
import { UsageError, printJson } from '../output.ts';

const USAGE = [
  'spanda debezium config --table schema.table [--table …] [--format server|connect] [--topic-prefix dbserver1] [--database-url postgres://…] [--nats-url URL] [--name NAME] [--out FILE]',
  '       spanda debezium register --connect-url URL --table schema.table [--table …] [--topic-prefix …] [--database-url …] [--name NAME] [--json]',
].join('\n');

function deployment(ctx: CommandContext, tables: readonly string[]): DebeziumDeployment {
  const str = (k: string) => (typeof ctx.values[k] === 'string' ? (ctx.values[k] as string) : undefined);
  return {
    tables,
    databaseUrl: str('database-url') ?? 'postgres://postgres:postgres@postgres:5432/postgres',
    topicPrefix: str('topic-prefix') ?? 'dbserver1',
    // The NATS URL as Debezium Server reaches it (in compose: the nats service).
    natsUrl: str('nats-url') ?? 'nats://nats:4222',
    name: str('name') ?? 'spanda-postgres',
  };
}

export const debeziumCommand: Command = {
  usage: USAGE,
  options: {
    table: { type: 'string', multiple: true },
    format: { type: 'string' },
    'topic-prefix': { type: 'string' },
    'database-url': { type: 'string' },
    name: { type: 'string' },
    out: { type: 'string' },
    'connect-url': { type: 'string' },
  },
  async run(ctx) {
    const [sub, ...extra] = ctx.args;
    if ((sub !== 'config' && sub !== 'register') || extra.length > 0) throw new UsageError(`name a subcommand: config or register\nusage: ${USAGE}`);
    // parseArgs gives `multiple` options as arrays; CommandContext types values as scalars.
    const raw = (ctx.values as Record<string, unknown>).table;
    const tables = (Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : []).flatMap((t: unknown) => String(t).split(',')).filter((t) => t !== '');
    let d: DebeziumDeployment;
    let text: string;
    const format = typeof ctx.values.format === 'string' ? ctx.values.format : 'server';
    try {
      if (format !== 'server' && format !== 'connect') throw new ConfigError(`--format ${JSON.stringify(format)}: server or connect`);
      d = deployment(ctx, tables);
      text = format === 'server' || sub === 'register' ? serverProperties(d) : '';
    } catch (err) {
      if (err instanceof ConfigError) throw new UsageError(`${err.message}\nusage: ${USAGE}`);
      throw err;
    }
    if (sub === 'config') {
      const out = format === 'server' ? text : `${JSON.stringify(connectConnector(d), null, 2)}\n`;
      if (typeof ctx.values.out === 'string') await writeFile(ctx.values.out, out);
      else process.stdout.write(out);
      return 0;
    }
    const connectUrl = ctx.values['connect-url'];
    if (typeof connectUrl !== 'string') throw new UsageError(`give --connect-url http://connect:8083\nusage: ${USAGE}`);
    const result = await registerConnector(connectUrl, connectConnector(d));
    if (ctx.values.json) printJson({ name: d.name, created: result.created, status: result.status });
    else process.stdout.write(`${result.created ? 'created' : 'updated'} connector ${d.name}: ${result.status.connector.state}, ${result.status.tasks.length} task(s) running\n`);
    return 0;
  },
};
