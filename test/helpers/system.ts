// Test helper: a whole Spanda node in this process (own nats-server child, temp data dir, hash embedder, no sample).
import { rm } from 'node:fs/promises';
import { loadConfig, type SpandaConfig } from '../../lib/config.ts';
import { startScoped } from '../../lib/lifecycle.ts';
import { createLogger } from '../../lib/log.ts';
import { spandaSystem, type SpandaSystem } from '../../cli/system.ts';
import { freePort } from '../../streams/server.ts';
import { tempDir } from './nats.ts';

export interface TestSystem {
  readonly system: SpandaSystem;
  readonly config: SpandaConfig;
  readonly dir: string;
  /** Stops the node but keeps its data dir (to start it again). */
  stop(): Promise<void>;
  /** Stops the node and deletes its data dir. */
  destroy(): Promise<void>;
}

export async function startTestSystem(overrides: Record<string, string> = {}, dir?: string): Promise<TestSystem> {
  const dataDir = dir ?? (await tempDir('spanda-system-'));
  const config = loadConfig(
    {
      SPANDA_DATA_DIR: dataDir,
      NATS_URL: overrides.NATS_URL ?? `nats://127.0.0.1:${await freePort()}`,
      PORT: String(await freePort()),
      SPANDA_EMBEDDER: 'hash',
      SPANDA_SAMPLE: 'false',
      ...overrides,
    },
    {},
  );
  const logger = createLogger('test', process.env.SPANDA_TEST_LOG === '1' ? 'debug' : 'silent');
  const started = await startScoped(spandaSystem(config, logger));
  return {
    system: started.value,
    config,
    dir: dataDir,
    stop: () => started.close(),
    destroy: async () => {
      await started.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
