// spanda up: runs a whole node on embedded defaults (child nats-server, SQLite store, offline embedder) plus the sample corpus.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertOpenBindAllowed, loadApiKeysFile } from '../../api/auth.ts';
import { runUntilSignal } from '../../lib/lifecycle.ts';
import { createLogger, redactUrl, routeProcessWarnings, type Logger } from '../../lib/log.ts';
import { publishFrom } from '../../connectors/files/publish.ts';
import { configFrom, NODE_OPTIONS } from '../env.ts';
import type { Command } from '../main.ts';
import { spandaSystem, type SpandaSystem } from '../system.ts';

export const SAMPLE_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'sample');

function reportProgress(system: SpandaSystem, logger: Logger): NodeJS.Timeout {
  let wasCaughtUp = true;
  const timer = setInterval(() => {
    // No generation is served while the node stops (or between a swap's close and open): skip the tick. Thrown from a
    // timer, the error would end the process with exit code 1 in the middle of a clean shutdown.
    let projector: SpandaSystem['projector'];
    try {
      projector = system.projector;
    } catch {
      return;
    }
    const caughtUp = projector.caughtUp();
    if (!caughtUp || !wasCaughtUp) {
      const positions = projector.positions().map((p) => `${p.key} at ${p.applied} (${p.pending} to go)`);
      logger.info(caughtUp ? 'indexing caught up' : 'indexing', { positions: positions.join(', ') });
    }
    wasCaughtUp = caughtUp;
  }, 5000);
  timer.unref();
  return timer;
}

export const upCommand: Command = {
  usage:
    'spanda up [--port 8080] [--host 127.0.0.1] [--data-dir .spanda] [--nats-url URL] [--embedder offline|hash] [--models M,…] [--store sqlite|weaviate|qdrant] [--no-sample]\n' +
    '          [--generator extractive|openai|hf] [--prompt NAME[@VERSION]] [--keyword-expansion none|rm3]\n' +
    '          [--config FILE] [--api-keys FILE] [--allow-open] [--cors-origins LIST]',
  options: { ...NODE_OPTIONS, 'no-sample': { type: 'boolean' } },

  async run(ctx) {
    const config = configFrom(ctx);
    const logger = createLogger('spanda', config.logLevel, undefined, { format: config.logFormat });
    routeProcessWarnings(logger);
    // Before anything starts: an open API on a reachable address is refused at once, not after NATS and the store are up.
    assertOpenBindAllowed({ host: config.host, keysConfigured: config.apiKeysFile !== undefined || config.apiKeysBucket !== undefined, allowOpen: config.allowOpen });
    if (config.apiKeysFile !== undefined) await loadApiKeysFile(config.apiKeysFile);
    logger.info('starting', { dataDir: config.dataDir, nats: redactUrl(config.natsUrl), embedder: config.embedder });
    await runUntilSignal(spandaSystem(config, logger), logger, (system) => {
      const banner = {
        api: system.apiUrl,
        nats: redactUrl(system.natsUrl),
        ownsNats: system.ownsNats,
        model: system.provider.info.id,
        vectorWeight: system.vectorWeight,
        dataDir: path.resolve(config.dataDir),
      };
      const keyed = config.apiKeysFile !== undefined || config.apiKeysBucket !== undefined;
      if (ctx.values.json) process.stdout.write(`${JSON.stringify({ status: 'up', ...banner })}\n`);
      else {
        process.stdout.write(
          `Spanda is up at ${system.apiUrl}  (NATS ${banner.nats}${system.ownsNats ? ', started here' : ''}; model ${banner.model}; data ${banner.dataDir})\n` +
            `  try: curl -s -X POST ${system.apiUrl}/v1/query${keyed ? ` -H "authorization: Bearer $KEY"` : ''} -H 'content-type: application/json' -d '{"query":"What is hybrid search?"}'\n` +
            (keyed ? `  (API keys are required: KEY is one with the "query" scope${config.sample ? '; the sample corpus is in tenant "default"' : ''})\n` : ''),
        );
      }
      reportProgress(system, logger);
      if (config.sample) {
        void publishFrom(system.nats, SAMPLE_DIR, { tenant: 'default', source: 'sample', skipUnchanged: true, skip: new Set(['README.md']) })
          .then((summary) => logger.info('sample corpus loaded', { published: summary.published, unchanged: summary.unchanged }))
          .catch((err: unknown) => logger.warn('sample corpus not loaded', { error: err instanceof Error ? err.message : String(err) }));
      }
    });
    return 0;
  },
};
