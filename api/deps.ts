// What the HTTP API needs from the running system, passed in so app.ts does no I/O at import and tests can build it.
import type { Logger } from '../lib/log.ts';
import type { NatsHandle } from '../streams/nats.ts';
import type { Serving } from '../projections/serving.ts';

export type { QueryEmbedder } from '../projections/serving.ts';

export interface ApiDeps {
  readonly nats: NatsHandle;
  /** The generation serving queries now (store, projector, the embedder of its model, its fusion weight), pinned per call. */
  readonly serving: Serving;
  readonly maxBodyBytes: number;
  readonly logger: Logger;
  /** Publish query.received / query.answered events (default true). */
  readonly recordQueries?: boolean;
  /**
   * Show store counts (documents, chunks, vectors) in /readyz (default false: readiness probes are unauthenticated and
   * the counts are data about the tenants). A per-request admin check can take its place once API keys exist.
   */
  readonly readyzDetail?: boolean;
}
