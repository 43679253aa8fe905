// POST /v1/query: a thin adapter over the query path (inference/query.ts); JSON by default, server-sent events with "stream": true.
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import { defaultMetrics, type SpandaMetrics } from '../../lib/metrics.ts';
import { SEARCH_MODES, queryFilterRequestSchema, type QueryFilter } from '../../streams/events/index.ts';
import type { SearchFilter, SearchHit } from '../../projections/store.ts';
import { answerQuery, streamQuery, type Inference, type QueryAnswer, type QueryRequest } from '../../inference/query.ts';
import { inferenceOf } from '../../inference/settings.ts';
import type { ApiDeps } from '../deps.ts';
import { problemFromError } from '../problems.ts';
import { parseWith, readJson, tenantOf } from '../validation.ts';

export const queryRequestSchema = z
  .object({
    query: z.string().trim().min(1, 'query must not be empty').max(4000),
    k: z.number().int().min(1).max(100).default(5),
    mode: z.enum(SEARCH_MODES).default('hybrid'),
    filter: queryFilterRequestSchema.optional(),
    /** Read-your-writes: wait until the serving generation has applied this DOCUMENTS sequence (a `seq` from POST /v1/documents). */
    after_seq: z.number().int().min(1).optional(),
    /** How long to wait for after_seq before answering 504 (default 10 s, at most 60 s). */
    timeout_ms: z.number().int().min(1).max(60_000).default(10_000),
    /** Stream the answer as server-sent events: `retrieval`, `token`…, `citations`, `done` (or `error`). */
    stream: z.boolean().default(false),
    max_tokens: z.number().int().min(1).max(32_768).optional(),
    temperature: z.number().min(0).max(2).optional(),
  })
  .strict();

const asList = <T>(v: T | T[] | undefined): T[] | undefined => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);

export function toSearchFilter(filter: QueryFilter | undefined): SearchFilter | undefined {
  if (!filter) return undefined;
  const source = asList(filter.source);
  const docId = asList(filter.docId);
  return {
    ...(source ? { source } : {}),
    ...(docId ? { docId } : {}),
    ...(filter.metadata ? { metadata: filter.metadata } : {}),
  };
}

export function toResult(hit: SearchHit) {
  return {
    docId: hit.docId,
    source: hit.source,
    chunkId: hit.chunkId,
    title: hit.title ?? null,
    url: hit.url ?? null,
    text: hit.text,
    score: hit.score,
    seq: hit.docSeq,
    ...(hit.heading !== undefined ? { heading: hit.heading } : {}),
    metadata: hit.metadata,
  };
}

/** The answer as the API shows it (both the JSON body and the stream's `done` event build on this). */
export function answerSummary(a: QueryAnswer, mode: string) {
  return {
    queryId: a.queryId,
    answer: a.answer,
    citations: a.citations,
    took_ms: a.timings.totalMs,
    mode,
    model: a.model,
    generation: a.generation,
    generator: a.generator,
    template: a.template,
    finish_reason: a.finishReason,
    usage: { prompt_tokens: a.usage.promptTokens, completion_tokens: a.usage.completionTokens },
    timings: a.timings,
  };
}

export function observeQuery(metrics: SpandaMetrics, mode: string, a: QueryAnswer): void {
  const t = a.timings;
  metrics.queries.labels(mode).inc();
  metrics.querySeconds.labels(mode).observe(t.totalMs / 1000);
  if (t.waitMs > 0) metrics.queryStageSeconds.labels(mode, 'wait').observe(t.waitMs / 1000);
  if (t.embedMs > 0) metrics.queryStageSeconds.labels(mode, 'embed').observe(t.embedMs / 1000);
  metrics.queryStageSeconds.labels(mode, 'retrieve').observe((t.searchMs + (t.rerankMs ?? 0)) / 1000);
  metrics.queryStageSeconds.labels(mode, 'answer').observe(t.generateMs / 1000);
}

export function queryRoutes(deps: ApiDeps, inference: Inference = inferenceOf(deps)): Hono {
  const app = new Hono();
  const metrics = deps.metrics ?? defaultMetrics();
  app.post('/', async (c) => {
    const tenant = tenantOf(c);
    const body = parseWith(queryRequestSchema, await readJson(c), 'query');
    const searchFilter = toSearchFilter(body.filter);
    const traceparent = c.req.header('traceparent');
    const req: QueryRequest = {
      tenant,
      query: body.query,
      k: body.k,
      mode: body.mode,
      ...(body.filter ? { filter: body.filter } : {}),
      ...(searchFilter ? { searchFilter } : {}),
      ...(body.after_seq !== undefined ? { afterSeq: body.after_seq } : {}),
      timeoutMs: body.timeout_ms,
      ...(body.max_tokens !== undefined ? { maxTokens: body.max_tokens } : {}),
      ...(body.temperature !== undefined ? { temperature: body.temperature } : {}),
      api: 'query',
      stream: body.stream,
      ...(traceparent ? { traceparent } : {}),
      signal: c.req.raw.signal,
    };
    if (!body.stream) {
      const a = await answerQuery(inference, req);
      observeQuery(metrics, body.mode, a);
      return c.json({ ...answerSummary(a, body.mode), results: a.hits.map(toResult) });
    }
    // Retrieval runs before the stream opens, so a bad filter or a read-your-writes timeout is still a problem+json status.
    const events = streamQuery(inference, req);
    const first = await events.next();
    return streamSSE(c, async (sse) => {
      try {
        for (let step = first; !step.done; step = await events.next()) {
          const e = step.value;
          if (e.type === 'retrieved') {
            await sse.writeSSE({ event: 'retrieval', data: JSON.stringify({ queryId: e.queryId, model: e.model, generation: e.generation, results: e.hits.map(toResult) }) });
          } else if (e.type === 'delta') {
            await sse.writeSSE({ event: 'token', data: JSON.stringify({ text: e.text }) });
          } else {
            const a = e.answer;
            observeQuery(metrics, body.mode, a);
            await sse.writeSSE({ event: 'citations', data: JSON.stringify({ citations: a.citations, results: a.citations.map((n) => ({ n, ...toResult(a.hits[n - 1] as SearchHit) })) }) });
            await sse.writeSSE({ event: 'done', data: JSON.stringify(answerSummary(a, body.mode)) });
          }
        }
      } catch (err) {
        // Headers are gone: the failure travels as an `error` event carrying the problem it would have been.
        const { problem } = problemFromError(err);
        if (problem.status >= 500) deps.logger.error('streamed query failed', { error: problem.detail });
        await sse.writeSSE({ event: 'error', data: JSON.stringify(problem) });
      }
    });
  });
  return app;
}
