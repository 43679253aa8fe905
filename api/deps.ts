// What the HTTP API needs from the running system, passed in so app.ts does no I/O at import and tests can build it.
import type { Logger } from '../lib/log.ts';
import type { ApiAuth } from './auth.ts';
import type { SpandaMetrics } from '../lib/metrics.ts';
import type { NatsHandle } from '../streams/nats.ts';
import type { ServedCatalog } from '../projections/catalog-serving.ts';
import type { Generations } from '../projections/generations.ts';
import type { Serving } from '../projections/serving.ts';
import type { SearchOptions } from '../projections/search.ts';
import type { Generator } from '../inference/generators/generator.ts';
import type { PromptTemplate } from '../inference/prompts/prompt.ts';
import type { Reranker } from '../inference/rerank.ts';
import type { QueryRecorder } from '../inference/record.ts';
import type { ConnectorStatus } from '../connectors/connector.ts';

export type { QueryEmbedder } from '../projections/serving.ts';

export interface ApiDeps {
  readonly nats: NatsHandle;
  /**
   * How long JetStream has not answered its probe, and asking it now (streams/jetstream-watch.ts); absent: only the
   * connection is checked.
   */
  readonly jetstream?: { silentForMs(): number; answersNow?(): Promise<boolean>; suspect?(): void };
  /** The generation serving queries now (store, projector, the embedder of its model, its fusion weight), pinned per call. */
  readonly serving: Serving;
  /** The indexing catalog (document versions and stage lineage); absent in tests that do not run it. */
  readonly catalog?: { use<T>(fn: (catalog: ServedCatalog) => Promise<T>): Promise<T> };
  /** Generation records and aliases in KV, for GET /v1/projections. */
  readonly generations?: Generations;
  readonly maxBodyBytes: number;
  readonly logger: Logger;
  /** Publish query.received / query.answered events (default true). */
  readonly recordQueries?: boolean;
  /** Publishes them in batches; whoever passes it flushes it when the API stops. Absent: each query's on its own. */
  readonly queryRecorder?: QueryRecorder;
  /**
   * Show store counts (documents, chunks, vectors) in /readyz (default false: readiness probes are unauthenticated and
   * the counts are data about the tenants). A per-request admin check can take its place once API keys exist.
   */
  readonly readyzDetail?: boolean;
  /** API keys, rate limits, /metrics protection. Absent: open single-user mode (tenant from x-tenant). */
  readonly auth?: ApiAuth;
  /** Origins allowed by CORS ("*" for any); absent or empty: no CORS headers. */
  readonly corsOrigins?: readonly string[];
  /** The node's metrics, served at /metrics (the process default when omitted). */
  readonly metrics?: SpandaMetrics;
  /**
   * The query path (inference/), all optional: what is unset comes from the environment when the app is built
   * (SPANDA_GENERATOR, SPANDA_PROMPT, SPANDA_RERANK…; see inference/settings.ts), so a node is configured by env alone.
   */
  readonly generator?: Generator;
  readonly promptTemplate?: PromptTemplate;
  /** null: no reranker, whatever the environment says. */
  readonly reranker?: Reranker | null;
  readonly search?: SearchOptions;
  /** Status of the connectors this process runs, for GET /v1/connectors; absent when it runs none. */
  readonly connectors?: () => readonly ConnectorStatus[];
}
