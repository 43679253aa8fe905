// Query vectors by text for each embedding model in use: a question asked again skips the model (15-50 ms offline).
import type { QueryEmbedder } from '../projections/serving.ts';

/** Distinct query texts remembered per model. */
export const QUERY_VECTOR_CACHE_SIZE = 1000;

/**
 * Longer texts are embedded every time, never remembered (POST /v1/query takes at most 4,000 characters; a chat's last
 * message may be far longer): the cache holds at most ~10 MB per model (8 KB of text and a 2 KB 512-d vector each).
 */
export const QUERY_VECTOR_MAX_TEXT = 4000;

/**
 * The vector of one query text, embedded once per model while it stays among the most recently asked texts. Equal
 * questions arriving together share one model call; a call that fails is not remembered, so the next one tries again.
 * A model is deterministic for a text (the same vector the embedder would give it again), and the cache follows the
 * provider object: a generation with another model, or a restarted node, starts empty.
 */
export class QueryVectors {
  private readonly byProvider = new WeakMap<QueryEmbedder, Map<string, Promise<Float32Array>>>();

  constructor(
    private readonly size = QUERY_VECTOR_CACHE_SIZE,
    private readonly maxText = QUERY_VECTOR_MAX_TEXT,
  ) {
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`query vector cache size must be a non-negative integer, got ${size}`);
  }

  async vector(embedder: QueryEmbedder, text: string): Promise<Float32Array> {
    if (this.size === 0 || text.length > this.maxText) return this.embed(embedder, text);
    let cache = this.byProvider.get(embedder);
    if (!cache) this.byProvider.set(embedder, (cache = new Map()));
    let entry = cache.get(text);
    if (entry) {
      cache.delete(text); // most recent last: Map keeps insertion order
    } else {
      entry = this.embed(embedder, text);
      const forget = () => {
        if (cache.get(text) === entry) cache.delete(text);
      };
      entry.catch(forget);
      const oldest = cache.size >= this.size ? cache.keys().next() : undefined;
      if (oldest && !oldest.done) cache.delete(oldest.value);
    }
    cache.set(text, entry);
    // A copy: whoever holds the vector may change it without changing what the next asker gets.
    return (await entry).slice();
  }

  private async embed(embedder: QueryEmbedder, text: string): Promise<Float32Array> {
    const [vector] = await embedder.embed([text]);
    if (!vector) throw new Error(`the ${embedder.info.id} embedder returned no vector for the query`);
    return vector;
  }
}
