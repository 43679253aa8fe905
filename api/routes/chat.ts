// POST /v1/chat/completions: the OpenAI chat completions API over retrieval, so OpenAI clients and SDKs work unchanged.
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import { ValidationError } from '../../lib/errors.ts';
import { defaultMetrics } from '../../lib/metrics.ts';
import { SEARCH_MODES, queryFilterRequestSchema } from '../../streams/events/index.ts';
import type { ChatMessage } from '../../inference/prompts/prompt.ts';
import { answerQuery, streamQuery, type Inference, type QueryAnswer, type QueryRequest } from '../../inference/query.ts';
import type { ApiDeps } from '../deps.ts';
import { problemFromError } from '../problems.ts';
import { parseWith, readJson, tenantOf } from '../validation.ts';
import { observeQuery, toResult, toSearchFilter } from './query.ts';

const textPart = z.looseObject({ type: z.string(), text: z.string().optional() });
const messageSchema = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z.union([z.string(), z.array(textPart), z.null()]).optional(),
});

/** OpenAI's request shape (unknown OpenAI fields are accepted and ignored); `k`, `mode`, `filter`, `after_seq` steer retrieval. */
export const chatRequestSchema = z.looseObject({
  model: z.string().optional(),
  messages: z.array(messageSchema).min(1, 'messages must hold at least one message').max(200),
  stream: z.boolean().default(false),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  max_tokens: z.number().int().min(1).max(32_768).nullish(),
  max_completion_tokens: z.number().int().min(1).max(32_768).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  n: z.literal(1, 'only n = 1 is supported').nullish(),
  k: z.number().int().min(1).max(100).default(5),
  mode: z.enum(SEARCH_MODES).default('hybrid'),
  filter: queryFilterRequestSchema.optional(),
  after_seq: z.number().int().min(1).optional(),
});

type ChatRequestMessage = z.infer<typeof messageSchema>;

function textOf(m: ChatRequestMessage): string {
  if (typeof m.content === 'string') return m.content;
  if (!m.content) return '';
  return m.content.map((p) => (p.type === 'text' && typeof p.text === 'string' ? p.text : '')).join('');
}

/** The last user turn is the question retrieval answers; earlier user/assistant/system turns become the history. */
export function splitConversation(messages: readonly ChatRequestMessage[]): { question: string; history: ChatMessage[] } {
  const last = messages.findLastIndex((m) => m.role === 'user');
  const question = last === -1 ? '' : textOf(messages[last] as ChatRequestMessage).trim();
  if (question === '') throw new ValidationError('messages must end with a user message that has text: it is the question retrieval answers', ['messages: no user text']);
  if (question.length > 4000) throw new ValidationError('the last user message is longer than 4000 characters', ['messages: question too long']);
  const history = messages.slice(0, last).flatMap((m): ChatMessage[] => {
    const content = textOf(m);
    if (content === '') return [];
    if (m.role === 'user' || m.role === 'assistant') return [{ role: m.role, content }];
    if (m.role === 'system' || m.role === 'developer') return [{ role: 'system', content }];
    return [];
  });
  return { question, history };
}

/** The model name responses carry: the generator's, marked extractive when no LLM wrote the text. */
const modelName = (a: { generator: { kind: string; model: string } }) => (a.generator.kind === 'extractive' ? 'spanda-extractive' : a.generator.model);

const spandaExtension = (a: QueryAnswer) => ({
  queryId: a.queryId,
  generator: a.generator.kind,
  template: a.template,
  generation: a.generation,
  embedding_model: a.model,
  citations: a.citations,
  results: a.hits.map(toResult),
});

export function chatRoutes(deps: ApiDeps, inference: Inference): Hono {
  const app = new Hono();
  const metrics = deps.metrics ?? defaultMetrics();
  app.post('/', async (c) => {
    const tenant = tenantOf(c);
    const body = parseWith(chatRequestSchema, await readJson(c), 'chat completion request');
    const { question, history } = splitConversation(body.messages);
    const searchFilter = toSearchFilter(body.filter);
    const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? undefined;
    const traceparent = c.req.header('traceparent');
    const req: QueryRequest = {
      tenant,
      query: question,
      k: body.k,
      mode: body.mode,
      history,
      ...(body.filter ? { filter: body.filter } : {}),
      ...(searchFilter ? { searchFilter } : {}),
      ...(body.after_seq !== undefined ? { afterSeq: body.after_seq } : {}),
      ...(maxTokens !== undefined ? { maxTokens } : {}),
      ...(body.temperature !== undefined && body.temperature !== null ? { temperature: body.temperature } : {}),
      api: 'chat',
      stream: body.stream,
      ...(traceparent ? { traceparent } : {}),
      signal: c.req.raw.signal,
    };
    const created = Math.floor(Date.now() / 1000);
    if (!body.stream) {
      const a = await answerQuery(inference, req);
      observeQuery(metrics, body.mode, a);
      return c.json({
        id: `chatcmpl-${a.queryId}`,
        object: 'chat.completion',
        created,
        model: modelName(a),
        system_fingerprint: a.generation,
        choices: [{ index: 0, message: { role: 'assistant', content: a.answer, refusal: null }, logprobs: null, finish_reason: a.finishReason }],
        usage: { prompt_tokens: a.usage.promptTokens, completion_tokens: a.usage.completionTokens, total_tokens: a.usage.promptTokens + a.usage.completionTokens },
        spanda: spandaExtension(a),
      });
    }
    const events = streamQuery(inference, req);
    const first = await events.next();
    const model = inference.generator.kind === 'extractive' ? 'spanda-extractive' : inference.generator.model;
    return streamSSE(c, async (sse) => {
      let id = 'chatcmpl-';
      const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
        sse.writeSSE({ data: JSON.stringify({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: null, choices, ...extra }) });
      try {
        for (let step = first; !step.done; step = await events.next()) {
          const e = step.value;
          if (e.type === 'retrieved') {
            id = `chatcmpl-${e.queryId}`;
            await chunk([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]);
          } else if (e.type === 'delta') {
            await chunk([{ index: 0, delta: { content: e.text }, logprobs: null, finish_reason: null }]);
          } else {
            const a = e.answer;
            observeQuery(metrics, body.mode, a);
            await chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: a.finishReason }], { spanda: spandaExtension(a) });
            if (body.stream_options?.include_usage) {
              await chunk([], { usage: { prompt_tokens: a.usage.promptTokens, completion_tokens: a.usage.completionTokens, total_tokens: a.usage.promptTokens + a.usage.completionTokens } });
            }
          }
        }
      } catch (err) {
        // OpenAI's streams report a failure as an `error` object in a data line.
        const { problem } = problemFromError(err);
        if (problem.status >= 500) deps.logger.error('streamed chat completion failed', { error: problem.detail });
        await sse.writeSSE({ data: JSON.stringify({ error: { message: problem.detail, type: problem.type, code: problem.status } }) });
      }
      await sse.writeSSE({ data: '[DONE]' });
    });
  });
  return app;
}
