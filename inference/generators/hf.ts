// Hugging Face generation through @huggingface/inference chat completion: HF Inference Providers (a model id) or a TGI endpoint URL.
import { InferenceClient, InferenceClientProviderApiError } from '@huggingface/inference';
import { ConfigError, TransientError } from '../../lib/errors.ts';
import { estimateUsage, type GenerationDelta, type GenerationInput, type GenerationResult, type Generator } from './generator.ts';
import { DEFAULT_RETRY, isRetryableStatus, retryAfterMs, withRetries, type RetryPolicy } from './http.ts';

export interface HfGeneratorOptions {
  /** A model id served by HF Inference Providers (e.g. meta-llama/Llama-3.1-8B-Instruct); with an endpoint URL, sent as the model name. */
  readonly model?: string;
  /** A TGI (or Inference Endpoint) URL; the client posts to <url>/v1/chat/completions. */
  readonly endpointUrl?: string;
  readonly token?: string;
  /** Inference provider for a model id ("auto" by default). */
  readonly provider?: string;
  readonly retry?: RetryPolicy;
  readonly maxTokens?: number;
  readonly temperature?: number;
}

const SETTING = 'HF_TOKEN, SPANDA_HF_MODEL or SPANDA_HF_ENDPOINT_URL';

/** The HF client's errors keep the HTTP status; map 429/5xx to retryable, auth failures to configuration naming `setting`. */
export function mapHfError(err: unknown, where: string, setting: string): unknown {
  if (err instanceof InferenceClientProviderApiError) {
    const status = err.httpResponse.status;
    if (isRetryableStatus(status)) return new TransientError(`${where} answered ${status}: ${err.message}`);
    if (status === 401 || status === 403 || status === 404) return new ConfigError(`${where} answered ${status} (${err.message}); check ${setting}`);
  }
  if (err instanceof TypeError || (err instanceof Error && err.name === 'TimeoutError')) return new TransientError(`${where}: ${err.message}`);
  return err;
}

export function hfGenerator(options: HfGeneratorOptions): Generator {
  if (!options.model && !options.endpointUrl) throw new ConfigError(`SPANDA_GENERATOR=hf needs SPANDA_HF_MODEL (a model on HF Inference Providers) or SPANDA_HF_ENDPOINT_URL (a TGI endpoint)`);
  if (!options.endpointUrl && !options.token) throw new ConfigError('SPANDA_GENERATOR=hf with SPANDA_HF_MODEL calls HF Inference Providers, which needs HF_TOKEN (a token from hf.co/settings/tokens)');
  const retry = options.retry ?? DEFAULT_RETRY;
  const where = options.endpointUrl ?? `HF Inference Providers (${options.model})`;
  // The per-attempt timeout rides on the client's fetch; Retry-After is read there too, as the client's error drops headers.
  let lastRetryAfter: number | undefined;
  const timedFetch: typeof fetch = async (url, init) => {
    const timeout = AbortSignal.timeout(retry.timeoutMs);
    const response = await fetch(url, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout });
    lastRetryAfter = retryAfterMs(response.headers.get('retry-after'));
    return response;
  };
  const client = new InferenceClient(options.token, { fetch: timedFetch, ...(options.endpointUrl ? { endpointUrl: options.endpointUrl } : {}) });
  const args = (input: GenerationInput) => ({
    ...(options.model ? { model: options.model } : {}),
    ...(options.provider && !options.endpointUrl ? { provider: options.provider as 'auto' } : {}),
    messages: input.messages.map((m) => ({ role: m.role, content: m.content })),
    ...((input.maxTokens ?? options.maxTokens) !== undefined ? { max_tokens: input.maxTokens ?? options.maxTokens } : {}),
    ...((input.temperature ?? options.temperature) !== undefined ? { temperature: input.temperature ?? options.temperature } : {}),
  });
  const attempt = async <T>(fn: () => Promise<T>): Promise<T> => {
    lastRetryAfter = undefined;
    try {
      return await fn();
    } catch (err) {
      const mapped = mapHfError(err, where, SETTING);
      throw mapped instanceof TransientError && lastRetryAfter !== undefined ? new TransientError(mapped.message, lastRetryAfter) : mapped;
    }
  };

  return {
    kind: 'hf',
    model: options.model ?? options.endpointUrl ?? 'tgi',
    async generate(input): Promise<GenerationResult> {
      const out = await withRetries(`chat completion at ${where}`, retry, () => attempt(() => client.chatCompletion(args(input), input.signal ? { signal: input.signal } : {})), input.signal);
      const choice = out.choices[0];
      const text = choice?.message.content ?? '';
      const estimated = estimateUsage(input.messages, text);
      return {
        text,
        finishReason: choice?.finish_reason === 'length' ? 'length' : 'stop',
        usage: { promptTokens: out.usage?.prompt_tokens ?? estimated.promptTokens, completionTokens: out.usage?.completion_tokens ?? estimated.completionTokens },
      };
    },
    async *stream(input): AsyncGenerator<GenerationDelta> {
      // Retry only the opening of the stream: once a delta went out, a retry would repeat text.
      const iterator = await withRetries(
        `chat completion at ${where}`,
        retry,
        () =>
          attempt(async () => {
            const it = client.chatCompletionStream(args(input), input.signal ? { signal: input.signal } : {})[Symbol.asyncIterator]();
            const first = await it.next();
            return { it, first };
          }),
        input.signal,
      );
      let text = '';
      let reason: string | undefined;
      let usage: { prompt_tokens?: number; completion_tokens?: number } | undefined;
      for (let step = iterator.first; !step.done; step = await iterator.it.next().catch((err: unknown) => Promise.reject(mapHfError(err, where, SETTING)))) {
        const chunk = step.value;
        if (chunk.usage) usage = chunk.usage;
        const choice = chunk.choices[0];
        if (choice?.finish_reason) reason = choice.finish_reason;
        const delta = choice?.delta.content;
        if (typeof delta === 'string' && delta !== '') {
          text += delta;
          yield { text: delta };
        }
      }
      const estimated = estimateUsage(input.messages, text);
      yield {
        done: {
          text,
          finishReason: reason === 'length' ? 'length' : 'stop',
          usage: { promptTokens: usage?.prompt_tokens ?? estimated.promptTokens, completionTokens: usage?.completion_tokens ?? estimated.completionTokens },
        },
      };
    },
  };
}
