// Optional reranking of retrieved chunks by a cross-encoder: a TEI /rerank endpoint (local or an HF Inference Endpoint).
import { ConfigError } from '../lib/errors.ts';
import { DEFAULT_RETRY, request, withRetries, type RetryPolicy } from './generators/http.ts';

export interface Reranker {
  readonly name: string;
  /** A relevance score per text, in input order (higher is more relevant). */
  rerank(query: string, texts: readonly string[], signal?: AbortSignal): Promise<number[]>;
}

export interface TeiRerankerOptions {
  readonly url: string;
  readonly token?: string;
  readonly model?: string;
  readonly retry?: RetryPolicy;
}

/** TEI's documented API: POST /rerank {query, texts, truncate} → [{index, score}] (sorted by score, so mapped back by index). */
export function teiReranker(options: TeiRerankerOptions): Reranker {
  const url = `${options.url.replace(/\/+$/, '')}/rerank`;
  const retry = options.retry ?? { ...DEFAULT_RETRY, timeoutMs: 30_000 };
  const headers = { 'content-type': 'application/json', ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) };
  return {
    name: `tei:${options.model ?? new URL(options.url).host}`,
    async rerank(query, texts, signal) {
      if (texts.length === 0) return [];
      const response = await withRetries(
        `rerank at ${url}`,
        retry,
        () => request(url, { method: 'POST', headers, body: JSON.stringify({ query, texts, truncate: true }), timeoutMs: retry.timeoutMs, setting: 'SPANDA_RERANK_URL', ...(signal ? { signal } : {}) }),
        signal,
      );
      const ranked = (await response.json()) as Array<{ index: number; score: number }>;
      if (!Array.isArray(ranked)) throw new Error(`${url} did not answer a list of {index, score}; is SPANDA_RERANK_URL a TEI reranker?`);
      const scores = texts.map(() => Number.NEGATIVE_INFINITY);
      for (const r of ranked) if (Number.isInteger(r.index) && r.index >= 0 && r.index < texts.length && Number.isFinite(r.score)) scores[r.index] = r.score;
      return scores;
    },
  };
}

export function createReranker(config: { rerank: 'none' | 'tei'; rerankUrl: string | undefined; rerankModel: string | undefined; hfToken: string | undefined; generatorTimeoutMs: number }): Reranker | undefined {
  if (config.rerank === 'none') return undefined;
  if (!config.rerankUrl) throw new ConfigError('SPANDA_RERANK=tei needs SPANDA_RERANK_URL (a text-embeddings-inference server running a reranker, e.g. http://127.0.0.1:8081)');
  return teiReranker({
    url: config.rerankUrl,
    ...(config.hfToken ? { token: config.hfToken } : {}),
    ...(config.rerankModel ? { model: config.rerankModel } : {}),
    retry: { ...DEFAULT_RETRY, timeoutMs: config.generatorTimeoutMs },
  });
}

/** Reorders items by reranker score (stable for ties: the retrieval order decides). */
export function reorder<T>(items: readonly T[], scores: readonly number[]): Array<{ item: T; score: number }> {
  return items
    .map((item, i) => ({ item, score: scores[i] ?? Number.NEGATIVE_INFINITY, i }))
    .sort((a, b) => b.score - a.score || a.i - b.i)
    .map(({ item, score }) => ({ item, score }));
}
