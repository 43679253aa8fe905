// Composes a whole Spanda node: NATS (external or a child nats-server), streams, store, processors, projector and API.
import * as Effect from 'effect/Effect';
import type * as Scope from 'effect/Scope';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createApp } from '../api/app.ts';
import { startApiServer, type ApiServer } from '../api/main.ts';
import type { SpandaConfig } from '../lib/config.ts';
import { ConfigError } from '../lib/errors.ts';
import { resource } from '../lib/lifecycle.ts';
import type { Logger } from '../lib/log.ts';
import { createChunker } from '../processors/chunker/handler.ts';
import { createEmbedder } from '../processors/embedder/handler.ts';
import { createEmbeddingProvider } from '../processors/embedder/models.ts';
import type { EmbeddingProvider } from '../processors/embedder/provider.ts';
import { runProcessor, type RunningProcessor } from '../processors/runner.ts';
import { inferenceProjection } from '../projections/inference.ts';
import { runProjector, type RunningProjector } from '../projections/projector.ts';
import type { InferenceStore } from '../projections/store.ts';
import { openSqliteStore } from '../projections/stores/sqlite/index.ts';
import { connectNats, type NatsHandle } from '../streams/nats.ts';
import { provision } from '../streams/provision.ts';
import { isPortOpen, stopLeftoverNatsServer, superviseNatsServer } from '../streams/server.ts';
import { lockDataDir } from '../lib/data-dir-lock.ts';

export interface SpandaSystem {
  readonly apiUrl: string;
  readonly natsUrl: string;
  /** True when this process started its own nats-server. */
  readonly ownsNats: boolean;
  readonly nats: NatsHandle;
  readonly store: InferenceStore;
  readonly provider: EmbeddingProvider;
  readonly projector: RunningProjector;
  readonly processors: readonly RunningProcessor[];
  readonly vectorWeight: number;
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '0.0.0.0', '::1', '[::1]']);

function parseNatsUrl(url: string): { host: string; port: number } {
  let parsed: URL;
  try {
    parsed = new URL(url.includes('://') ? url : `nats://${url}`);
  } catch {
    throw new ConfigError(`NATS_URL ${JSON.stringify(url)} is not a URL; use e.g. nats://127.0.0.1:4222`);
  }
  return { host: parsed.hostname, port: parsed.port ? Number(parsed.port) : 4222 };
}

/** Connects to NATS at the configured URL, or starts a child nats-server there when nothing listens and the host is local. */
function natsConnection(config: SpandaConfig, logger: Logger): Effect.Effect<{ handle: NatsHandle; owns: boolean }, Error, Scope.Scope> {
  return Effect.gen(function* () {
    const { host, port } = parseNatsUrl(config.natsUrl);
    const natsDir = path.join(config.dataDir, 'nats');
    // Our own child from a run that was SIGKILLed still listens: stop it rather than adopt a process nobody owns.
    if (yield* Effect.promise(() => stopLeftoverNatsServer(natsDir))) logger.warn('stopped a nats-server left behind by an earlier run', { dataDir: natsDir });
    const reachable = yield* Effect.promise(() => isPortOpen(host === 'localhost' ? '127.0.0.1' : host, port, 1000));
    let owns = false;
    let url = config.natsUrl;
    // A remote server may still be starting (a container next to this one): connectNats keeps trying for a while.
    if (!reachable && LOCAL_HOSTS.has(host)) {
      // Supervised: if the child dies, it is restarted on the same store and port, and the client below reconnects.
      const server = yield* resource(
        'nats-server',
        logger,
        () =>
          superviseNatsServer(
            { dataDir: natsDir, host: host === 'localhost' ? '127.0.0.1' : host.replace(/^\[|\]$/g, ''), port },
            { logger: logger.child('nats-server') },
          ),
        (s) => s.stop(),
      );
      logger.info('started nats-server', { url: server.url, pid: server.pid, dataDir: natsDir });
      owns = true;
      url = server.url;
    }
    const handle = yield* resource(
      'NATS connection',
      logger,
      () => connectNats({ url, name: 'spanda', connectTimeoutMs: owns ? 10_000 : 30_000, logger: logger.child('nats') }),
      (h) => h.drain(),
    );
    return { handle, owns };
  });
}

/** Starts every part of a node in order; the scope stops them in reverse (API first, NATS last). */
export function spandaSystem(config: SpandaConfig, logger: Logger): Effect.Effect<SpandaSystem, Error, Scope.Scope> {
  return Effect.gen(function* () {
    yield* Effect.promise(() => mkdir(config.dataDir, { recursive: true }));
    yield* resource('data dir lock', logger, () => lockDataDir(config.dataDir), (lock) => lock.release());
    const { handle, owns } = yield* natsConnection(config, logger);
    const provisioned = yield* Effect.tryPromise({ try: () => provision(handle), catch: (e) => e as Error });
    if (provisioned.created.length > 0) logger.info('created streams', { streams: provisioned.created.join(',') });

    const provider = yield* resource(
      'embedder',
      logger,
      async () => createEmbeddingProvider(config.embedder, config.embedWorkers !== undefined ? { workers: config.embedWorkers } : {}),
      (p) => p.close(),
    );
    const model = provider.info;
    const projection = inferenceProjection({ id: model.id, dims: model.dims });
    const generation = `${model.id}-v${projection.version}`;
    const storePath = path.join(config.dataDir, 'inference', `${generation}.sqlite`);
    yield* Effect.promise(() => mkdir(path.dirname(storePath), { recursive: true }));
    const store = yield* resource('inference store', logger, () => openSqliteStore({ path: storePath, model: { id: model.id, dims: model.dims } }), (s) => s.close());
    yield* Effect.promise(() =>
      provisioned.kv.put('inference.active', JSON.stringify({ model: model.id, dims: model.dims, generation, updatedAt: new Date().toISOString() })),
    );

    const chunker = createChunker({ size: config.chunkSize, overlap: config.chunkOverlap });
    const embedder = createEmbedder(provider);
    const processors: RunningProcessor[] = [];
    for (const processor of [chunker, embedder]) {
      processors.push(yield* resource(processor.name, logger, async () => runProcessor(handle, processor, { logger }), (p) => p.stop()));
    }
    const projector = yield* resource('projector', logger, async () => runProjector(handle, projection, store, { logger }), (p) => p.stop());

    const vectorWeight = config.vectorWeight ?? provider.fusion.vectorWeight;
    const app = createApp({ nats: handle, store, embedder: provider, vectorWeight, projector, maxBodyBytes: config.maxBodyBytes, logger: logger.child('api') });
    const server: ApiServer = yield* resource('API server', logger, () => startApiServer(app, { host: config.host, port: config.port }), (s) => s.close());

    return {
      apiUrl: server.url,
      natsUrl: handle.url,
      ownsNats: owns,
      nats: handle,
      store,
      provider,
      projector,
      processors,
      vectorWeight,
    };
  });
}
