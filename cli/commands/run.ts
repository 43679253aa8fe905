// spanda run <role…>: runs any subset of chunker, embedder, projector, api and connectors as one process on an existing NATS.
import path from 'node:path';
import { runUntilSignal } from '../../lib/lifecycle.ts';
import { createLogger, redactUrl, routeProcessWarnings } from '../../lib/log.ts';
import { assertOpenBindAllowed } from '../../api/auth.ts';
import { configFrom, NODE_OPTIONS } from '../env.ts';
import type { Command } from '../main.ts';
import { UsageError } from '../output.ts';
import { ROLES, spandaSystem, type Role } from '../system.ts';

const ROLE_HELP: Readonly<Record<Role, string>> = {
  chunker: 'DOCUMENTS → CHUNKS (competing consumers: run as many as you like)',
  embedder: 'CHUNKS → EMBEDDINGS, one consumer per model in SPANDA_MODELS (competing consumers)',
  projector: 'keeps the inference generation (SQLite in --data-dir, or Weaviate/Qdrant) and the indexing catalog current',
  api: 'the HTTP API; projects its own SQLite replica unless the store is Weaviate/Qdrant (then reads the active generation)',
  connectors: 'runs the connectors in SPANDA_CONNECTORS_FILE (RSS feeds, Debezium subjects, Postgres CDC)',
};

export const runCommand: Command = {
  usage:
    `spanda run <role…> [--nats-url URL] [--data-dir DIR] [--port N] [--host H] [--json]\n\nroles:\n` +
    ROLES.map((r) => `  ${r.padEnd(11)} ${ROLE_HELP[r]}`).join('\n') +
    '\n\nUnlike `spanda up`, it starts no nats-server and loads no sample corpus: point it at a running NATS.',
  options: NODE_OPTIONS,

  async run(ctx) {
    if (ctx.args.length === 0) throw new UsageError(`name at least one role\nusage: ${this.usage}`);
    const unknown = ctx.args.filter((r) => !(ROLES as readonly string[]).includes(r));
    if (unknown.length > 0) throw new UsageError(`unknown role${unknown.length > 1 ? 's' : ''} ${unknown.map((r) => JSON.stringify(r)).join(', ')}\nusage: ${this.usage}`);
    const roles = new Set(ctx.args as Role[]);
    const config = configFrom(ctx);
    const logger = createLogger(`spanda-${[...roles].join('+')}`, config.logLevel, undefined, { format: config.logFormat });
    routeProcessWarnings(logger);
    if (roles.has('api')) {
      assertOpenBindAllowed({ host: config.host, keysConfigured: config.apiKeysFile !== undefined || config.apiKeysBucket !== undefined, allowOpen: config.allowOpen });
    }
    logger.info('starting', { roles: [...roles].join(','), dataDir: config.dataDir, nats: redactUrl(config.natsUrl) });
    await runUntilSignal(spandaSystem(config, logger, { roles, startNats: false }), logger, (system) => {
      const banner = { roles: [...roles], api: system.apiUrl || null, nats: redactUrl(system.natsUrl), dataDir: path.resolve(config.dataDir), pid: process.pid };
      if (ctx.values.json) process.stdout.write(`${JSON.stringify({ status: 'running', ...banner })}\n`);
      else process.stdout.write(`Spanda ${[...roles].join(', ')} running (NATS ${banner.nats}${system.apiUrl ? `; API ${system.apiUrl}` : ''}; pid ${process.pid})\n`);
    });
    return 0;
  },
};
