// The spanda command: parses the command line and dispatches to up, publish, delete, query and inspect.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError, reportError } from './output.ts';

export interface CommandContext {
  readonly args: readonly string[];
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
}

export interface Command {
  readonly usage: string;
  readonly options: NonNullable<ParseArgsConfig['options']>;
  run(ctx: CommandContext): Promise<number | void>;
}

const COMMON_OPTIONS = {
  'nats-url': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

// Commands load lazily: `spanda inspect` should not pay for the embedder, the store and the API at start-up.
const COMMANDS: Readonly<Record<string, { summary: string; load: () => Promise<Command> }>> = {
  run: { summary: 'run some roles of a node (chunker, embedder, projector, api, connectors) as one process; see `spanda run --help`', load: async () => (await import('./commands/run.ts')).runCommand },
  up: { summary: 'run a Spanda node: NATS (started if none answers), processors, projection and the HTTP API', load: async () => (await import('./commands/up.ts')).upCommand },
  publish: { summary: 'publish documents from files, a directory, or - (JSONL on stdin)', load: async () => (await import('./commands/publish.ts')).publishCommand },
  delete: { summary: 'delete one document: publish document.deleted for <source> <id> and print its DOCUMENTS sequence', load: async () => (await import('./commands/delete.ts')).deleteCommand },
  erase: { summary: "erase one document (or, with --all, a whole tenant): delete it, then purge every earlier version's content from the log (DOCUMENTS, CHUNKS, EMBEDDINGS, citing answers, DLQ)", load: async () => (await import('./commands/erase.ts')).eraseCommand },
  query: { summary: 'ask a running node a question and print the cited answer', load: async () => (await import('./commands/query.ts')).queryCommand },
  replay: { summary: 'rebuild a projection as a new generation from the log, verify it, switch the alias', load: async () => (await import('./commands/replay.ts')).replayCommand },
  verify: { summary: "compare a projection's digest with one computed straight from the log (exit 1 on mismatch)", load: async () => (await import('./commands/verify.ts')).verifyCommand },
  projections: { summary: 'list generations, roll back to a kept one, collect retired ones', load: async () => (await import('./commands/projections.ts')).projectionsCommand },
  ingest: { summary: 'run a connector: rss (feeds), postgres (CDC), debezium (change events on NATS)', load: async () => (await import('./commands/ingest.ts')).ingestCommand },
  eval: { summary: 'measure retrieval on a BEIR data set (nDCG@10, Recall@10, MRR@10, latency) through a private node', load: async () => (await import('./commands/eval.ts')).evalCommand },
  dataset: { summary: 'export fine-tuning JSONL (chat or completion) from answers with positive feedback; --push-to-hub', load: async () => (await import('./commands/dataset.ts')).datasetCommand },
  debezium: { summary: 'Debezium deployment: config writes application.properties (NATS JetStream sink) or a Kafka Connect connector; register applies it', load: async () => (await import('./commands/debezium.ts')).debeziumCommand },
  inspect: { summary: 'show streams, consumers (lag) or decoded events of a subject', load: async () => (await import('./commands/inspect.ts')).inspectCommand },
  dlq: { summary: 'list, show, re-drive or purge dead-lettered events (filters: --processor, --stream, --reason, --since)', load: async () => (await import('./commands/dlq.ts')).dlqCommand },
};

function help(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(9)} ${c.summary}`);
  return [
    'spanda — streaming RAG on NATS JetStream',
    '',
    'usage: spanda <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    'Every command takes --nats-url URL (or NATS_URL) and --json. Run `spanda <command> --help` for its options.',
  ].join('\n');
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(`${help()}\n`);
    return name === undefined ? 2 : 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    process.stderr.write(`spanda: unknown command ${JSON.stringify(name)}\n\n${help()}\n`);
    return 2;
  }
  try {
    const command = await entry.load();
    let parsed;
    try {
      parsed = parseArgs({ args: [...rest], options: { ...COMMON_OPTIONS, ...command.options }, allowPositionals: true, strict: true });
    } catch (err) {
      throw new UsageError(`${(err as Error).message}\nusage: ${command.usage}`);
    }
    if (parsed.values.help) {
      process.stdout.write(`usage: ${command.usage}\n`);
      return 0;
    }
    const code = await command.run({ args: parsed.positionals, values: parsed.values as Record<string, string | boolean | undefined> });
    return code ?? 0;
  } catch (err) {
    return reportError(err);
  }
}
