// What the HTTP API needs from the running system, passed in so app.ts does no I/O at import and tests can build it.
import type { Logger } from '../lib/log.ts';
import type { ModelInfo } from '../streams/events/index.ts';
import type { NatsHandle } from '../streams/nats.ts';
import type { RunningProjector } from '../projections/projector.ts';
import type { InferenceStore } from '../projections/store.ts';

/** Turns query text into a vector of the active model. */
export interface QueryEmbedder {
  readonly info: ModelInfo;
  embed(texts: readonly string[]): Promise<Float32Array[]>;
}

export interface ApiDeps {
  readonly nats: NatsHandle;
  readonly store: InferenceStore;
  readonly embedder: QueryEmbedder;
  /** Hybrid fusion weight of the vector side for the active model. */
  readonly vectorWeight: number;
  readonly projector?: RunningProjector;
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
