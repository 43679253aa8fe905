// Turns CLI flags into configuration overrides (flags win over environment variables) and common connections.
import { FLAG_TO_ENV, loadConfig, natsAuthOf, type SpandaConfig } from '../lib/config.ts';
import { connectNats, type NatsHandle } from '../streams/nats.ts';
import type { CommandContext } from './main.ts';

export function configFrom(ctx: CommandContext): SpandaConfig {
  const overrides: Record<string, string> = {};
  for (const [flag, variable] of Object.entries(FLAG_TO_ENV)) {
    const value = ctx.values[flag];
    if (typeof value === 'string') overrides[variable] = value;
  }
  if (ctx.values['no-sample'] === true) overrides.SPANDA_SAMPLE = 'false';
  if (ctx.values['allow-open'] === true) overrides.SPANDA_ALLOW_OPEN = 'true';
  return loadConfig(overrides);
}

export function connectFrom(ctx: CommandContext): Promise<NatsHandle> {
  const config = configFrom(ctx);
  return connectNats({ url: config.natsUrl, name: 'spanda-cli', connectTimeoutMs: 3000, auth: natsAuthOf(config) });
}

export function stringFlag(ctx: CommandContext, name: string): string | undefined {
  const value = ctx.values[name];
  return typeof value === 'string' ? value : undefined;
}

/** Options every command that runs node parts takes (`spanda up`, `spanda run`): where, which models and store, auth. */
export const NODE_OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  'data-dir': { type: 'string' },
  embedder: { type: 'string' },
  models: { type: 'string' },
  store: { type: 'string' },
  'vector-weight': { type: 'string' },
  'keyword-expansion': { type: 'string' },
  generator: { type: 'string' },
  prompt: { type: 'string' },
  'embed-workers': { type: 'string' },
  config: { type: 'string' },
  'api-keys': { type: 'string' },
  'allow-open': { type: 'boolean' },
  'cors-origins': { type: 'string' },
} as const;
