// Optional reranking of retrieved chunks by a cross-encoder: a TEI /rerank endpoint, or HF Inference through @huggingface/inference.
import { InferenceClient } from '@huggingface/inference';
import { mapHfError } from './generators/hf.ts';
import { ConfigError, TransientError } from '../lib/errors.ts';
import { mapLimit } from '../streams/publisher.ts';
import { DEFAULT_RETRY, isRetryableStatus, request, retryAfterMs, withRetries, type RetryPolicy } from './generators/http.ts';

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

export interface HfRerankerOptions {
  /** A cross-encoder on HF Inference (e.g. cross-encoder/ms-marco-MiniLM-L-6-v2); with an endpoint URL, only a name. */
  readonly model?: string;
  /** An HF Inference Endpoint (or any server of the same text-classification API) running the cross-encoder. */
  readonly endpointUrl?: string;
  readonly token?: string;
  /** The label whose score is relevance, for a cross-encoder with several labels (one label: its score). */
  readonly label?: string;
  readonly retry?: RetryPolicy;
  /** Pairs scored at once (one request each: the client reads one result per call). */
  readonly concurrency?: number;
  /** Replaces fetch (tests route the HF router to a fake). */
  readonly fetch?: typeof fetch;
}

const HF_SETTING = 'SPANDA_RERANK_MODEL, SPANDA_RERANK_URL or HF_TOKEN';

/**
 * Characters of a passage sent to an HF cross-encoder. HF's text classification does not truncate, and cross-encoders
 * take ~512 tokens: a longer pair is refused (400) and would fail the query, so the passage's head is scored.
 */
export const HF_PASSAGE_CHARS = 1600;

/**
 * A cross-encoder through @huggingface/inference text classification of a (query, passage) pair, as HF documents it
 * for rerankers: inputs {text, text_pair} → [{label, score}]. One request per pair (the client keeps one result per
 * call), several at once; 429/5xx retried honouring Retry-After.
 */
export function hfReranker(options: HfRerankerOptions): Reranker {
  if (!options.model && !options.endpointUrl) throw new ConfigError('SPANDA_RERANK=hf needs SPANDA_RERANK_MODEL (a cross-encoder on HF Inference, e.g. cross-encoder/ms-marco-MiniLM-L-6-v2) or SPANDA_RERANK_URL (an Inference Endpoint running one)');
  if (!options.endpointUrl && !options.token) throw new ConfigError('SPANDA_RERANK=hf with SPANDA_RERANK_MODEL calls HF Inference, which needs HF_TOKEN (a token from hf.co/settings/tokens)');
  const retry = options.retry ?? { ...DEFAULT_RETRY, timeoutMs: 30_000 };
  const where = options.endpointUrl ?? `HF Inference (${options.model})`;
  const baseFetch = options.fetch ?? fetch;
  const client = new InferenceClient(options.token, {
    // Timeout per attempt; a retryable status is raised here, where Retry-After is still readable (the client's error drops headers).
    fetch: async (url, init) => {
      const timeout = AbortSignal.timeout(retry.timeoutMs);
      const response = await baseFetch(url, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout });
      if (isRetryableStatus(response.status)) {
        throw new TransientError(`${where} answered ${response.status}: ${(await response.text()).slice(0, 200)}`, retryAfterMs(response.headers.get('retry-after')));
      }
      return response;
    },
    ...(options.endpointUrl ? { endpointUrl: options.endpointUrl } : {}),
  });
  const label = options.label ?? 'LABEL_1';
  const scoreOf = (labels: ReadonlyArray<{ label: string; score: number }>): number => {
    if (labels.length === 1) return (labels[0] as { score: number }).score;
    const match = labels.find((l) => l.label === label);
    if (!match) throw new ConfigError(`${where} answered labels ${labels.map((l) => l.label).join(', ')}, none named ${label}; set SPANDA_RERANK_LABEL to the relevance label`);
    return match.score;
  };
  const one = async (query: string, text: string, signal?: AbortSignal): Promise<number> =>
    withRetries(
      `rerank at ${where}`,
      retry,
      async () => {
        try {
          const labels = await client.textClassification(
            {
              ...(options.model ? { model: options.model } : {}),
              ...(options.endpointUrl ? {} : { provider: 'hf-inference' as const }),
              // HF's documented pair input for cross-encoders; the client's type names only a string.
              inputs: { text: query, text_pair: text.slice(0, HF_PASSAGE_CHARS) } as unknown as string,
            },
            signal ? { signal } : {},
          );
          return scoreOf(labels);
        } catch (err) {
          throw mapHfError(err, where, HF_SETTING);
        }
      },
      signal,
    );
  return {
    name: `hf:${options.model ?? new URL(options.endpointUrl as string).host}`,
    async rerank(query, texts, signal) {
      return mapLimit(texts, options.concurrency ?? 8, (text) => one(query, text, signal));
    },
  };
}

export function createReranker(config: {
  rerank: 'none' | 'tei' | 'hf';
  rerankUrl: string | undefined;
  rerankModel: string | undefined;
  rerankLabel?: string | undefined;
  hfToken: string | undefined;
  generatorTimeoutMs: number;
}): Reranker | undefined {
  if (config.rerank === 'none') return undefined;
  if (config.rerank === 'hf') {
    return hfReranker({
      ...(config.rerankModel ? { model: config.rerankModel } : {}),
      ...(config.rerankUrl ? { endpointUrl: config.rerankUrl } : {}),
      ...(config.hfToken ? { token: config.hfToken } : {}),
      ...(config.rerankLabel ? { label: config.rerankLabel } : {}),
      retry: { ...DEFAULT_RETRY, timeoutMs: config.generatorTimeoutMs },
    });
  }
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
