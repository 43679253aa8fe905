// The embedding provider contract: a model's identity and limits, how text is windowed for it, and batched embedding.
import type { ModelInfo } from '../../streams/events/index.ts';

/** How hybrid search weighs this model's vector scores against BM25 (0 = keyword only, 1 = vector only). */
export interface FusionProfile {
  readonly vectorWeight: number;
}

/** What a worker thread needs to build the same provider (processors/threaded/): only pure, synchronous ones have one. */
export interface ThreadableProvider {
  readonly kind: 'hash';
  readonly dims: number;
}

export interface EmbeddingProvider {
  /** Model id (a subject token), dims, whether vectors are unit length, and the tokens it reads of one input. */
  readonly info: ModelInfo;
  /** Default fusion weights for hybrid search with this model, measured on SciFact (see BENCHMARKS.md). */
  readonly fusion: FusionProfile;
  /**
   * Splits a chunk's text into windows the model reads whole (each at most info.maxTokens tokens), in order.
   * Deterministic; text that fits is one window. Empty text gives one empty window.
   */
  windows(text: string): string[];
  /** Embeds each text (already windowed); one vector of info.dims per text, in input order. */
  embed(texts: readonly string[]): Promise<Float32Array[]>;
  close(): Promise<void>;
  /**
   * Present when embedding is CPU work on the calling thread's event loop (the hash embedder) that another thread could
   * do as well: the node then runs this model's embedder in a worker thread built from it.
   */
  readonly threadable?: ThreadableProvider;
}
