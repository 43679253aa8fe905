// Any OpenAI-compatible chat completions endpoint (OpenAI, vLLM, llama.cpp server, Ollama, TGI's /v1): plain fetch, streaming over SSE.
import { ValidationError } from '../../lib/errors.ts';
import { parseSse } from '../sse.ts';
import { estimateUsage, type GenerationDelta, type GenerationInput, type GenerationResult, type Generator, type GeneratorKind } from './generator.ts';
import { DEFAULT_RETRY, request, withRetries, type RetryPolicy } from './http.ts';

export interface OpenAiGeneratorOptions {
  /** Base URL up to and including /v1, e.g. http://127.0.0.1:8000/v1 (vLLM), http://127.0.0.1:11434/v1 (Ollama). */
  readonly baseUrl: string;
  readonly model: string;
  readonly apiKey?: string;
  readonly retry?: RetryPolicy;
  readonly maxTokens?: number;
  readonly temperature?: number;
  /** Names used in error messages so a misconfiguration points at the right setting. */
  readonly settings?: { readonly url: string; readonly key: string };
  readonly kind?: GeneratorKind;
}

interface ChatCompletion {
  choices?: Array<{ message?: { content?: string | null }; finish_reason?: string | null }>;
  usage?: { prompt_tokens?: number; completion_tokens?: number };
}
interface ChatCompletionChunk {
  choices?: Array<{ delta?: { content?: string | null }; finish_reason?: string | null }>;
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
}

const finish = (reason: string | null | undefined): 'stop' | 'length' => (reason === 'length' ? 'length' : 'stop');

export function openAiGenerator(options: OpenAiGeneratorOptions): Generator {
  const url = `${options.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  const retry = options.retry ?? DEFAULT_RETRY;
  const settings = options.settings ?? { url: 'SPANDA_OPENAI_BASE_URL', key: 'SPANDA_OPENAI_API_KEY' };
  const setting = `${settings.url}, ${settings.key} and SPANDA_OPENAI_MODEL`;
  const headers = { 'content-type': 'application/json', ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}) };
  const body = (input: GenerationInput, stream: boolean) =>
    JSON.stringify({
      model: options.model,
      messages: input.messages,
      stream,
      ...(stream ? { stream_options: { include_usage: true } } : {}),
      ...((input.maxTokens ?? options.maxTokens) !== undefined ? { max_tokens: input.maxTokens ?? options.maxTokens } : {}),
      ...((input.temperature ?? options.temperature) !== undefined ? { temperature: input.temperature ?? options.temperature } : {}),
    });
  const post = (input: GenerationInput, stream: boolean) =>
    withRetries(
      `chat completion at ${url}`,
      retry,
      () => request(url, { method: 'POST', headers, body: body(input, stream), timeoutMs: retry.timeoutMs, setting, ...(input.signal ? { signal: input.signal } : {}) }),
      input.signal,
    );

  return {
    kind: options.kind ?? 'openai',
    model: options.model,
    async generate(input): Promise<GenerationResult> {
      const response = await post(input, false);
      const json = (await response.json()) as ChatCompletion;
      const choice = json.choices?.[0];
      const text = choice?.message?.content;
      if (typeof text !== 'string') throw new ValidationError(`${url} answered without choices[0].message.content; is it an OpenAI-compatible chat endpoint? (${setting})`);
      const estimated = estimateUsage(input.messages, text);
      return {
        text,
        finishReason: finish(choice?.finish_reason),
        usage: { promptTokens: json.usage?.prompt_tokens ?? estimated.promptTokens, completionTokens: json.usage?.completion_tokens ?? estimated.completionTokens },
      };
    },
    async *stream(input): AsyncGenerator<GenerationDelta> {
      const response = await post(input, true);
      if (!response.body) throw new Error(`${url} answered without a body`);
      let text = '';
      let reason: string | null | undefined;
      let usage: ChatCompletionChunk['usage'];
      for await (const event of parseSse(response.body)) {
        if (event.data === '[DONE]') break;
        const chunk = JSON.parse(event.data) as ChatCompletionChunk;
        if (chunk.usage) usage = chunk.usage;
        const choice = chunk.choices?.[0];
        if (choice?.finish_reason) reason = choice.finish_reason;
        const delta = choice?.delta?.content;
        if (typeof delta === 'string' && delta !== '') {
          text += delta;
          yield { text: delta };
        }
      }
      const estimated = estimateUsage(input.messages, text);
      yield {
        done: {
          text,
          finishReason: finish(reason),
          usage: { promptTokens: usage?.prompt_tokens ?? estimated.promptTokens, completionTokens: usage?.completion_tokens ?? estimated.completionTokens },
        },
      };
    },
  };
}
