// Query vectors by text for each embedding model in use: a question asked again skips the model (15-40 ms offline).
import type { QueryEmbedder } from '../projections/serving.ts';

/** Distinct query texts remembered per model: at most ~10 MB (2 KB a 512-d vector, 8 KB a 4,000-character query). */
export const QUERY_VECTOR_CACHE_SIZE = 1000;

/**
 * The vector of one query text, embedded once per model while it stays among the most recently asked texts. Equal
 * questions arriving together share one model call; a call that fails is not remembered, so the next one tries again.
 * A model is deterministic for a text (the same vector the embedder would give it again), and the cache follows the
 * provider object: a generation with another model, or a restarted node, starts empty.
 */
export class QueryVectors {
  private readonly byProvider = new WeakMap<QueryEmbedder, Map<string, Promise<Float32Array>>>();

  constructor(private readonly size = QUERY_VECTOR_CACHE_SIZE) {
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`query vector cache size must be a non-negative integer, got ${size}`);
  }

  async vector(embedder: QueryEmbedder, text: string): Promise<Float32Array> {
    if (this.size === 0) return this.embed(embedder, text);
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
