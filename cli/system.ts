// Composes a whole Spanda node: NATS (external or a child nats-server), streams, store, processors, projector and API.
import * as Effect from 'effect/Effect';
import type * as Scope from 'effect/Scope';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createApp } from '../api/app.ts';
import { QueryRecorder } from '../inference/record.ts';
import { searchOptions } from '../inference/settings.ts';
import { apiAuthFor, authorizeHeader } from '../api/auth.ts';
import { startApiServer, type ApiServer } from '../api/main.ts';
import { natsCheck } from '../api/routes/health.ts';
import { natsAuthOf, type SpandaConfig } from '../lib/config.ts';
import { humanBytes } from '../lib/bytes.ts';
import { humanDuration } from '../lib/duration.ts';
import { ConfigError, errorMessage } from '../lib/errors.ts';
import { attempt, resource } from '../lib/lifecycle.ts';
import type { Logger } from '../lib/log.ts';
import { watchDiskSpace } from '../lib/disk-space.ts';
import { createMetrics } from '../lib/metrics.ts';
import { instrumentEmbedder } from '../lib/metrics-embedder.ts';
import { startMetricsServer } from '../lib/metrics-server.ts';
import { chunkOptions } from '../processors/chunker/chunk.ts';
import { createEmbedder } from '../processors/embedder/handler.ts';
import type { EmbeddingProvider } from '../processors/embedder/provider.ts';
import type { AnyProcessor } from '../processors/processor.ts';
import { runProcessor, type RunningProcessor } from '../processors/runner.ts';
import { threadedEmbedderSpec, threadedProcessor } from '../processors/threaded/threaded.ts';
import type { RunningProjector } from '../projections/projector.ts';
import { catalogOpener, indexingSpec, INDEXING_ROLE, type ServedCatalog } from '../projections/catalog-serving.ts';
import { GenerationRouter, inferenceOpener } from '../projections/serving.ts';
import type { InferenceStore } from '../projections/store.ts';
import { followConnectorsFile } from '../connectors/connectors-file.ts';
import type { ConnectorStatus } from '../connectors/connector.ts';
import { fusionProfileFor } from '../processors/embedder/models.ts';
import { chunkerSettings, createProviders, generationRuntime, INFERENCE_ROLE, inferenceSpec, modelInfoOf, storeConfigOf } from './inference-runtime.ts';
import { chunkerFingerprint } from '../streams/events/index.ts';
import { activeRecord } from '../projections/generations.ts';
import { connectNats, type NatsHandle } from '../streams/nats.ts';
import { STREAMS, provision } from '../streams/provision.ts';
import { watchJetStream, type JetStreamWatch } from '../streams/jetstream-watch.ts';
import { isPortOpen, stopLeftoverNatsServer, superviseNatsServer, type SupervisedNatsServer } from '../streams/server.ts';
import { lockDataDir } from '../lib/data-dir-lock.ts';

export interface SpandaSystem {
  /** The parts this process runs. */
  readonly roles: ReadonlySet<Role>;
  /** The API's URL ('' when this process does not run the api role). */
  readonly apiUrl: string;
  readonly natsUrl: string;
  /** True when this process started its own nats-server. */
  readonly ownsNats: boolean;
  readonly nats: NatsHandle;
  /** The serving inference generation, following the KV alias. */
  readonly serving: GenerationRouter;
  /** The indexing catalog generation, following alias.indexing. */
  readonly catalog: GenerationRouter<ServedCatalog>;
  /** Every configured embedding model's provider (the first served a new node). */
  readonly providers: readonly EmbeddingProvider[];
  readonly processors: readonly RunningProcessor[];
  /** Of the generation serving now. */
  readonly store: InferenceStore;
  readonly provider: EmbeddingProvider;
  readonly projector: RunningProjector;
  readonly vectorWeight: number;
}

/** What one process can run; `spanda up` runs them all (plus a nats-server child and the sample corpus). */
export const ROLES = ['chunker', 'embedder', 'projector', 'api', 'connectors'] as const;
export type Role = (typeof ROLES)[number];

export interface SystemOptions {
  /** Parts to run (default all). */
  readonly roles?: ReadonlySet<Role>;
  /** Start a nats-server child when nothing listens on a local NATS_URL (default true; `spanda run` connects only). */
  readonly startNats?: boolean;
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
function natsConnection(
  config: SpandaConfig,
  logger: Logger,
  startNats: boolean,
): Effect.Effect<{ handle: NatsHandle; owns: boolean; jetstream: JetStreamWatch }, Error, Scope.Scope> {
  return Effect.gen(function* () {
    const { host, port } = parseNatsUrl(config.natsUrl);
    const natsDir = path.join(config.dataDir, 'nats');
    // Our own child from a run that was SIGKILLed still listens: stop it rather than adopt a process nobody owns.
    if (yield* attempt(() => stopLeftoverNatsServer(natsDir))) logger.warn('stopped a nats-server left behind by an earlier run', { dataDir: natsDir });
    const reachable = yield* attempt(() => isPortOpen(host === 'localhost' ? '127.0.0.1' : host, port, 1000));
    let server: SupervisedNatsServer | undefined;
    let url = config.natsUrl;
    // A remote server may still be starting (a container next to this one): connectNats keeps trying for a while.
    if (!reachable && LOCAL_HOSTS.has(host) && startNats) {
      // Supervised: if the child dies, it is restarted on the same store and port, and the client below reconnects.
      server = yield* resource(
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
      url = server.url;
    }
    const owns = server !== undefined;
    const handle = yield* resource(
      'NATS connection',
      logger,
      () => connectNats({ url, name: 'spanda', connectTimeoutMs: owns ? 10_000 : 30_000, logger: logger.child('nats'), auth: natsAuthOf(config) }),
      (h) => h.drain(),
    );
    // A server that stops answering JetStream (nats-server 2.9 after a write to a full disk) is reported, and restarted
    // when it is our child.
    const jetstream = yield* resource(
      'JetStream watch',
      logger,
      async () => watchJetStream(handle, { logger: logger.child('nats'), ...(server ? { restart: (reason: string) => server.restart(reason), storeDir: natsDir } : {}) }),
      async (w) => w.stop(),
    );
    return { handle, owns, jetstream };
  });
}

/**
 * Starts the parts of a node in order; the scope stops them in reverse (API first, NATS last). Every part is stateless
 * but the projections: chunker and embedder processes share their durable consumers (competing consumers), and a
 * process that projects keeps its SQLite generations in its own data dir.
 */
/** The configured chunker settings, refused naming the settings when they cannot work together. */
function configuredChunker(config: SpandaConfig): ReturnType<typeof chunkOptions> {
  try {
    return chunkOptions({ size: config.chunkSize, overlap: config.chunkOverlap });
  } catch (err) {
    throw new ConfigError(`SPANDA_CHUNK_SIZE=${config.chunkSize}, SPANDA_CHUNK_OVERLAP=${config.chunkOverlap}: ${errorMessage(err)}`);
  }
}

export function spandaSystem(config: SpandaConfig, logger: Logger, options: SystemOptions = {}): Effect.Effect<SpandaSystem, Error, Scope.Scope> {
  return Effect.gen(function* () {
    const roles = options.roles ?? new Set<Role>(ROLES);
    const serves = roles.has('projector') || roles.has('api');
    yield* attempt(() => mkdir(config.dataDir, { recursive: true }));
    // The data dir holds the nats-server child's store and the local projections: one `spanda up` per data dir.
    if (options.startNats ?? true) yield* resource('data dir lock', logger, () => lockDataDir(config.dataDir), (lock) => lock.release());
    const { handle, owns, jetstream } = yield* natsConnection(config, logger, options.startNats ?? true);
    const queries = { maxAgeMs: config.queriesMaxAgeMs, maxBytes: config.queriesMaxBytes };
    const dlq = { maxAgeMs: config.dlqMaxAgeMs, maxBytes: config.dlqMaxBytes };
    const provisioned = yield* Effect.tryPromise({ try: () => provision(handle, { queries, dlq }), catch: (e) => e as Error });
    if (provisioned.created.length > 0) logger.info('created streams', { streams: provisioned.created.join(',') });
    const limits = (retention: { maxAgeMs: number; maxBytes: number }) => ({
      maxAge: retention.maxAgeMs > 0 ? humanDuration(retention.maxAgeMs) : 'none',
      maxBytes: retention.maxBytes > 0 ? humanBytes(retention.maxBytes) : 'none',
    });
    const changed = (stream: string) => provisioned.updated.includes(stream) || provisioned.created.includes(stream);
    if (changed(STREAMS.QUERIES)) {
      logger.info('QUERIES keeps queries, answers and feedback for a while; older ones are dropped (SPANDA_QUERIES_MAX_AGE, SPANDA_QUERIES_MAX_BYTES; 0 keeps them)', limits(queries));
    }
    if (changed(STREAMS.DLQ)) {
      logger.info('the DLQ keeps rejected events for a while; older entries are dropped, their originals stay in the log (SPANDA_DLQ_MAX_AGE, SPANDA_DLQ_MAX_BYTES; 0 keeps them)', limits(dlq));
    }

    const providers = yield* resource(
      'embedders',
      logger,
      // Models run where they embed (embedder) and where queries are embedded (api).
      async () => (roles.has('embedder') || roles.has('api') ? createProviders(config) : []),
      async (ps) => void (await Promise.all(ps.map((p) => p.close()))),
    );
    const provider = providers[0];

    // One metrics registry per node, passed to every part (two nodes in one process never mix their series).
    const metrics = createMetrics();
    // The data dir's disk: SQLite projections and a local nats-server stop writing when it is full.
    if (serves || owns) {
      metrics.watchDataDir(config.dataDir);
      yield* resource('disk space watch', logger, async () => watchDiskSpace(config.dataDir, logger), async (stop) => stop());
    }
    const runtime = generationRuntime(handle, provisioned.kv, config, providers, logger);
    // The configured chunker, plus the serving generation's own when its settings differ (changed chunk settings
    // re-chunk every document on a consumer of their own, while the serving generation keeps getting new documents
    // until `spanda replay` moves it to the new settings).
    // Validated now, so settings that cannot work stop the node before anything starts.
    const chunkers = [configuredChunker(config)];
    if (roles.has('chunker')) {
      const active = yield* attempt(() => activeRecord(runtime.generations, INFERENCE_ROLE));
      const settings = active?.chunkerSettings;
      if (settings && chunkerFingerprint(settings) !== chunkerFingerprint(chunkerSettings(config))) {
        logger.warn('chunk settings differ from the serving generation: chunking with both until `spanda replay` moves it to the new ones', {
          serving: `${settings.size}/${settings.overlap}`,
          configured: `${config.chunkSize}/${config.chunkOverlap}`,
        });
        chunkers.push({ size: settings.size, overlap: settings.overlap });
      }
    }
    const processors: RunningProcessor[] = [];
    // Chunking and hash embedding are CPU work: they run in worker threads (processors/threaded/), so this thread only
    // decodes, publishes and acks, and the node's other parts (API, projector) keep the event loop. Models with their
    // own threads or servers are called from here. One embedder per configured model: a model added later backfills
    // EMBEDDINGS from CHUNKS (its consumer starts at 1).
    const wanted: Array<() => AnyProcessor> = [
      ...(roles.has('chunker') ? chunkers.map((c) => () => threadedProcessor({ kind: 'chunker', ...c })) : []),
      ...(roles.has('embedder')
        ? providers.map((p) => {
            const threaded = threadedEmbedderSpec(p);
            return () => (threaded ? threadedProcessor(threaded, { metrics }) : createEmbedder(instrumentEmbedder(p, metrics)));
          })
        : []),
    ];
    for (const create of wanted) {
      const processor = create();
      processors.push(
        yield* resource(
          processor.name,
          logger,
          async () => runProcessor(handle, processor, { logger, metrics, stopGraceMs: config.shutdownGraceMs }),
          (p) => p.stop(),
        ),
      );
    }

    // The API serves the role's active generation and follows its alias; a new node creates the first one.
    // An API process without the projector role still projects a local SQLite replica itself; a remote store
    // (Weaviate, Qdrant) is written by the projector processes and only read here.
    const project = roles.has('projector') || config.store === 'sqlite';
    const initialModel = provider?.info ?? modelInfoOf(config.embedder);
    const serving = serves
      ? yield* resource(
          'inference generation',
          logger,
          async () => {
            const withOverride = {
              ...runtime,
              projectorOptions: { metrics },
              requireEmbedder: roles.has('api'),
              ...(config.vectorWeight !== undefined ? { vectorWeightOverride: config.vectorWeight } : {}),
              ...(roles.has('api') ? { keywordExpansion: config.keywordExpansion } : {}),
            };
            const router = new GenerationRouter(withOverride, INFERENCE_ROLE, inferenceOpener(withOverride, { project }));
            await router.start({
              spec: await inferenceSpec(config, initialModel),
              chunkerSettings: chunkerSettings(config),
              vectorWeight: config.vectorWeight ?? provider?.fusion.vectorWeight ?? fusionProfileFor(initialModel.id)?.vectorWeight ?? 0.5,
            });
            return router;
          },
          (r) => r.stop(),
        )
      : undefined;

    // The indexing catalog: every document version and what each stage did with it; follows alias.indexing the same way.
    const catalog = serves
      ? yield* resource(
          'indexing catalog',
          logger,
          async () => {
            // Its own store kind and location (SPANDA_CATALOG_STORE; a Weaviate catalog on SPANDA_WEAVIATE_URL_INDEXING): a
            // remote catalog is written by projector processes only, like a remote inference store.
            const opener = catalogOpener(handle, storeConfigOf(config, INDEXING_ROLE), logger, metrics, { projectRemote: roles.has('projector') });
            const router = new GenerationRouter(runtime, INDEXING_ROLE, opener);
            await router.start({ spec: indexingSpec(config.catalogStore), vectorWeight: 0 });
            return router;
          },
          (r) => r.stop(),
        )
      : undefined;

    let connectorStatus: (() => ConnectorStatus[]) | undefined;
    if (roles.has('connectors')) {
      const file = config.connectorsFile;
      if (file === undefined) {
        // Asked for by name (`spanda run connectors`) it is worth a warning; as part of `spanda up` it is the default.
        const say = options.roles ? logger.warn.bind(logger) : logger.debug.bind(logger);
        say('the connectors role runs nothing: set SPANDA_CONNECTORS_FILE to a JSON array of connectors (see the README)');
      } else {
        const followed = yield* resource(
          'connectors',
          logger,
          async () => {
            const f = await followConnectorsFile(file, handle, logger, { onFailure: (name) => metrics.connectorRestarts.labels(name).inc() });
            return { f, unwatch: metrics.watchConnectors(() => f.set.status()) };
          },
          async ({ f, unwatch }) => {
            await f.stop();
            unwatch();
          },
        );
        connectorStatus = () => followed.f.set.status();
      }
    }

    let server: ApiServer | undefined;
    if (roles.has('api') && serving && catalog) {
      const auth = yield* resource('API keys', logger, () => apiAuthFor(config, handle, logger.child('auth')), async (a) => a.keys?.stop());
      const apiLogger = logger.child('api');
      const queryRecorder = new QueryRecorder(apiLogger);
      const app = createApp({ nats: handle, jetstream, serving, catalog, generations: runtime.generations, maxBodyBytes: config.maxBodyBytes, logger: apiLogger, metrics, auth, corsOrigins: config.corsOrigins, search: searchOptions(config), queryRecorder, ...(connectorStatus ? { connectors: connectorStatus } : {}) });
      // Once the last request is answered, the queries' events still waiting are published before NATS drains.
      server = yield* resource('API server', logger, () => startApiServer(app, { host: config.host, port: config.port, graceMs: config.shutdownGraceMs }), async (s) => {
        await s.close();
        await queryRecorder.flush();
      });
    } else {
      // Without the API, a process still answers probes and scrapes on PORT: /healthz, /readyz, /metrics (admin scope).
      const auth = yield* resource('API keys', logger, () => apiAuthFor(config, handle, logger.child('auth')), async (a) => a.keys?.stop());
      const listener = yield* resource(
        'metrics listener',
        logger,
        async () => {
          try {
            return await startMetricsServer({
              host: config.host,
              port: config.port,
              metrics,
              ready: () => {
                const health = serving?.current().projector?.health();
                const nats = natsCheck({ nats: handle, jetstream });
                const ok = nats.ok && (health?.ok ?? true);
                return { ok, detail: { nats: nats.ok, ...(nats.detail ? { natsDetail: nats.detail } : {}), ...(health ? { projection: health.detail } : {}) } };
              },
              ...(config.metricsPublic ? {} : { authorize: (header: string | undefined) => void authorizeHeader(auth, header, 'admin') }),
              ...(connectorStatus
                ? { json: { '/v1/connectors': () => ({ connectors: connectorStatus?.() ?? [] }) }, authorizeJson: (header: string | undefined) => void authorizeHeader(auth, header, 'admin') }
                : {}),
            });
          } catch (err) {
            // Several role processes on one host: the work matters more than the probe port; say how to get both.
            logger.warn('no metrics listener: its port is taken; give each process its own --port to scrape it', { port: config.port, error: errorMessage(err) });
            return undefined;
          }
        },
        async (l) => l?.close(),
      );
      if (listener) logger.info('metrics listener', { url: listener.url });
    }
    const notServing = () => new ConfigError('this process runs neither the projector nor the api role: it serves no generation');
    const served = () => {
      if (!serving) throw notServing();
      return serving.current();
    };

    return {
      roles,
      apiUrl: server?.url ?? '',
      natsUrl: handle.url,
      ownsNats: owns,
      nats: handle,
      get serving() {
        if (!serving) throw notServing();
        return serving;
      },
      get catalog() {
        if (!catalog) throw notServing();
        return catalog;
      },
      providers,
      processors,
      get store() {
        return served().store;
      },
      get provider() {
        return served().embedder as EmbeddingProvider;
      },
      get projector() {
        return served().projector as RunningProjector;
      },
      get vectorWeight() {
        return served().vectorWeight;
      },
    };
  });
}
