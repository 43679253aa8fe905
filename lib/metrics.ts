// Spanda's Prometheus metrics: createMetrics(registry) builds the typed set a node passes to its parts (served at GET /metrics).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { diskSpace } from './disk-space.ts';

/*
 * Conventions: every name is spanda_*, counters end in _total, durations are _seconds, sizes are plain counts.
 * Labels are bounded: processor, projection, source, stream, consumer, model, mode, stage, route, method, status,
 * outcome, kind, role, generation (a node keeps a few generations), connector (named in the connectors file). Never a
 * document id, tenant or query text.
 */

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Event-to-searchable delay: sub-second when idle, minutes under a backlog. `60` is the freshness SLO threshold (alerts use le="60"). */
export const FRESHNESS_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
/** The freshness objective the alert rules burn against: this share of documents searchable within FRESHNESS_SLO_SECONDS. */
export const FRESHNESS_SLO_SECONDS = 60;

export const PROCESSOR_OUTCOMES = ['ok', 'retried', 'dead_lettered'] as const;
export type ProcessorOutcome = (typeof PROCESSOR_OUTCOMES)[number];
export const QUERY_STAGES = ['wait', 'embed', 'retrieve', 'answer'] as const;
export type QueryStage = (typeof QUERY_STAGES)[number];
export const PROVIDER_ERROR_KINDS = ['transient', 'permanent'] as const;

/** Creates every Spanda metric in `registry` (a new one by default), with Node's process metrics under spanda_process_. */
export function createMetrics(registry: Registry = new Registry()) {
  collectDefaultMetrics({ register: registry, prefix: 'spanda_process_' });
  const registers = [registry];
  // Connectors report through their status, read at each scrape (watchConnectors below).
  const connectorSources: Array<() => readonly ConnectorSnapshot[]> = [];
  const connectorSnapshots = () => connectorSources.flatMap((source) => source());
  // The data dir whose disk the space gauges report (watchDataDir below); none until a node says.
  let dataDir: string | undefined;
  // Both gauges read the same statfs: one call per scrape, kept for a second.
  let lastSpace: { at: number; dir: string; space: ReturnType<typeof diskSpace> } | undefined;
  const dataDirSpace = () => {
    if (dataDir === undefined) return undefined;
    if (!lastSpace || lastSpace.dir !== dataDir || Date.now() - lastSpace.at > 1000) lastSpace = { at: Date.now(), dir: dataDir, space: diskSpace(dataDir) };
    return lastSpace.space;
  };
  return {
    registry,

    // The disk holding the data dir (SQLite projections, a local nats-server's store).
    dataDirFreeBytes: new Gauge({
      name: 'spanda_data_dir_free_bytes',
      help: 'Bytes still free for this process on the disk holding the data dir (SQLite projections, a local nats-server store)',
      registers,
      collect() {
        const space = dataDirSpace();
        if (space) this.set(space.free);
      },
    }),
    dataDirSizeBytes: new Gauge({
      name: 'spanda_data_dir_size_bytes',
      help: 'Size of the disk holding the data dir',
      registers,
      collect() {
        const space = dataDirSpace();
        if (space) this.set(space.size);
      },
    }),
    /** Reports the disk holding `dir` in spanda_data_dir_free_bytes and spanda_data_dir_size_bytes. */
    watchDataDir(dir: string): void {
      dataDir = dir;
    },

    // Connectors (connectors/supervisor.ts).
    connectorUp: new Gauge({
      name: 'spanda_connector_up',
      help: 'Whether a configured connector is running (1) or starting, waiting to retry after a failure, or stopped (0)',
      labelNames: ['connector'] as const,
      registers,
      collect() {
        this.reset();
        for (const c of connectorSnapshots()) this.labels(c.name).set(c.state === 'running' ? 1 : 0);
      },
    }),
    connectorPublished: new Counter({
      name: 'spanda_connector_published_total',
      help: 'Documents a connector published (new versions stored) since the process started',
      labelNames: ['connector'] as const,
      registers,
      collect() {
        this.reset();
        for (const c of connectorSnapshots()) this.labels(c.name).inc(c.published);
      },
    }),
    connectorRestarts: new Counter({
      name: 'spanda_connector_restarts_total',
      help: 'Failed starts and failed runs of a connector, each retried with backoff',
      labelNames: ['connector'] as const,
      registers,
      collect() {
        // Every connector has its series from the start, so rates and alerts see 0 rather than nothing.
        for (const c of connectorSnapshots()) this.labels(c.name).inc(0);
      },
    }),
    /** Reports these connectors' status in spanda_connector_up and spanda_connector_published_total; returns the undo. */
    watchConnectors(source: () => readonly ConnectorSnapshot[]): () => void {
      connectorSources.push(source);
      return () => {
        const i = connectorSources.indexOf(source);
        if (i >= 0) connectorSources.splice(i, 1);
      };
    },

    // Processors (processors/runner.ts).
    processorEvents: new Counter({
      name: 'spanda_processor_events_total',
      help: 'Input events settled by a processor, by outcome (ok, retried, dead_lettered)',
      labelNames: ['processor', 'outcome'] as const,
      registers,
    }),
    processorOutputs: new Counter({
      name: 'spanda_processor_outputs_total',
      help: 'Events published by a processor',
      labelNames: ['processor'] as const,
      registers,
    }),
    processorBatchSeconds: new Histogram({
      name: 'spanda_processor_batch_seconds',
      help: 'Time to handle a batch of inputs and publish its outputs',
      labelNames: ['processor'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    processorBatchSize: new Histogram({
      name: 'spanda_processor_batch_size',
      help: 'Inputs handled together in one batch',
      labelNames: ['processor'] as const,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
      registers,
    }),
    stageLatencySeconds: new Histogram({
      name: 'spanda_stage_latency_seconds',
      help: 'Time from an input entering its stream to its outputs being acknowledged (queueing plus processing), by stage',
      labelNames: ['stage'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
      registers,
    }),

    // Consumers and the DLQ, polled from JetStream (lib/metrics-collector.ts).
    consumerPending: new Gauge({
      name: 'spanda_consumer_pending_messages',
      help: 'Messages in the stream not yet delivered to the durable consumer (num_pending)',
      labelNames: ['stream', 'consumer'] as const,
      registers,
    }),
    consumerStalls: new Counter({
      name: 'spanda_consumer_stalls_total',
      help: 'Times a consumer heard nothing from NATS on its open pull request for two heartbeats (~1 s) and asked again; nats-server before 2.9.16 forgets some expired pull requests',
      labelNames: ['stream', 'consumer'] as const,
      registers,
    }),
    consumerAckPending: new Gauge({
      name: 'spanda_consumer_ack_pending_messages',
      help: 'Messages delivered to the consumer and not yet acknowledged (num_ack_pending)',
      labelNames: ['stream', 'consumer'] as const,
      registers,
    }),
    dlqMessages: new Gauge({
      name: 'spanda_dlq_messages',
      help: 'Entries in the DLQ stream, by the stage that rejected them',
      labelNames: ['processor'] as const,
      registers,
    }),
    dlqEvents: new Counter({
      name: 'spanda_dlq_events_total',
      help: 'Inputs this process sent to the DLQ (first rejection of a log event only), by stage',
      labelNames: ['processor'] as const,
      registers,
    }),

    // Embedding providers (lib/metrics-embedder.ts wraps a provider).
    embedderBatchSize: new Histogram({
      name: 'spanda_embedder_batch_size',
      help: 'Texts embedded in one provider call',
      labelNames: ['model'] as const,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
      registers,
    }),
    embedderBatchSeconds: new Histogram({
      name: 'spanda_embedder_batch_seconds',
      help: 'Duration of one provider embed call',
      labelNames: ['model'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    providerErrors: new Counter({
      name: 'spanda_provider_errors_total',
      help: 'Failed provider calls by model and kind (transient: retried by the runner; permanent: the input is dead-lettered)',
      labelNames: ['model', 'kind'] as const,
      registers,
    }),

    // Projections (projections/projector.ts).
    projectionEvents: new Counter({
      name: 'spanda_projection_events_total',
      help: 'Events applied to a projection',
      labelNames: ['projection', 'source'] as const,
      registers,
    }),
    projectionCheckpoint: new Gauge({
      name: 'spanda_projection_checkpoint_sequence',
      help: 'Last stream sequence a projection has applied (its checkpoint)',
      labelNames: ['projection', 'source'] as const,
      registers,
    }),
    projectionPending: new Gauge({
      name: 'spanda_projection_pending_messages',
      help: 'Messages in the source stream not yet applied to the projection',
      labelNames: ['projection', 'source'] as const,
      registers,
    }),
    projectionSecondsSinceProgress: new Gauge({
      name: 'spanda_projection_seconds_since_progress',
      help: 'Seconds since the projection last applied a batch while events were pending (0 when caught up)',
      labelNames: ['projection'] as const,
      registers,
    }),
    projectionFailures: new Gauge({
      name: 'spanda_projection_consecutive_failures',
      help: 'Failed attempts to apply in a row (0 after a batch applies)',
      labelNames: ['projection'] as const,
      registers,
    }),
    freshnessSeconds: new Histogram({
      name: 'spanda_freshness_seconds',
      help: 'End to end: a document version entering DOCUMENTS (its stream timestamp) to its chunks or vectors applied in the serving generation',
      labelNames: ['projection', 'source'] as const,
      buckets: FRESHNESS_BUCKETS,
      registers,
    }),
    generationInfo: new Gauge({
      name: 'spanda_projection_generation_info',
      help: 'The generation a node serves per role (value 1), with its model and store',
      labelNames: ['role', 'generation', 'model', 'store'] as const,
      registers,
    }),

    // Queries and HTTP (api/).
    queries: new Counter({
      name: 'spanda_queries_total',
      help: 'Queries answered, by mode',
      labelNames: ['mode'] as const,
      registers,
    }),
    querySeconds: new Histogram({
      name: 'spanda_query_seconds',
      help: 'Query latency by mode, from request parsed to answer built',
      labelNames: ['mode'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    queryStageSeconds: new Histogram({
      name: 'spanda_query_stage_seconds',
      help: 'Query latency by mode and stage (wait: read-your-writes, embed, retrieve, answer)',
      labelNames: ['mode', 'stage'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    httpRequests: new Counter({
      name: 'spanda_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers,
    }),
    httpSeconds: new Histogram({
      name: 'spanda_http_request_seconds',
      help: 'HTTP request duration by route',
      labelNames: ['method', 'route'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
  };
}

export type SpandaMetrics = ReturnType<typeof createMetrics>;

/** What the connector metrics read of a connector's status. */
export interface ConnectorSnapshot {
  readonly name: string;
  readonly state: string;
  readonly published: number;
}

let processDefault: SpandaMetrics | undefined;

/**
 * The process's fallback set, created on first use (never at import), for parts built without `metrics` (tests, tools).
 * A node creates its own with createMetrics() and passes it to every part, so two nodes in one process never mix.
 */
export function defaultMetrics(): SpandaMetrics {
  return (processDefault ??= createMetrics());
}
