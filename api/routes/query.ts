// POST /v1/query: retrieve (hybrid, vector or keyword) within the tenant, answer extractively with citations, log both as events.
import { Hono } from 'hono';
import { z } from 'zod';
import { errorMessage } from '../../lib/errors.ts';
import { defaultMetrics } from '../../lib/metrics.ts';
import { eventMetadata } from '../../streams/codec.ts';
import { SEARCH_MODES, queryFilterSchema, type QueryAnswered, type QueryFilter, type QueryReceived } from '../../streams/events/index.ts';
import { newEventId } from '../../streams/ids.ts';
import { publishEvent } from '../../streams/publisher.ts';
import { subjects } from '../../streams/subjects.ts';
import { waitForApplied } from '../../projections/read-your-writes.ts';
import { search } from '../../projections/search.ts';
import type { SearchFilter, SearchHit } from '../../projections/store.ts';
import { extractiveAnswer } from '../answer.ts';
import type { ApiDeps } from '../deps.ts';
import { parseWith, readJson, tenantOf } from '../validation.ts';

export const queryRequestSchema = z
  .object({
    query: z.string().trim().min(1, 'query must not be empty').max(4000),
    k: z.number().int().min(1).max(100).default(5),
    mode: z.enum(SEARCH_MODES).default('hybrid'),
    filter: queryFilterSchema.optional(),
    /** Read-your-writes: wait until the serving generation has applied this DOCUMENTS sequence (a `seq` from POST /v1/documents). */
    after_seq: z.number().int().min(1).optional(),
    /** How long to wait for after_seq before answering 504 (default 10 s, at most 60 s). */
    timeout_ms: z.number().int().min(1).max(60_000).default(10_000),
  })
  .strict();

const asList = <T>(v: T | T[] | undefined): T[] | undefined => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);

function toSearchFilter(filter: QueryFilter | undefined): SearchFilter | undefined {
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

export function queryRoutes(deps: ApiDeps): Hono {
  const app = new Hono();
  const metrics = deps.metrics ?? defaultMetrics();
  app.post('/', async (c) => {
    const started = performance.now();
    const tenant = tenantOf(c);
    const req = parseWith(queryRequestSchema, await readJson(c), 'query');
    const filter = toSearchFilter(req.filter);
    // One generation for the whole query: its model embeds the query and its store answers, even across a swap.
    const { hits, generation, model } = await deps.serving.use(async (g) => {
      if (req.after_seq !== undefined) await waitForApplied(deps.nats, g, req.after_seq, req.timeout_ms);
      const vector = req.mode === 'keyword' ? undefined : (await g.embedder.embed([req.query]))[0];
      const found = await search(g.store, {
        tenant,
        mode: req.mode,
        k: req.k,
        text: req.query,
        vectorWeight: g.vectorWeight,
        ...(vector ? { vector } : {}),
        ...(filter ? { filter } : {}),
      });
      return { hits: found, generation: g.id, model: g.embedder.info.id };
    });
    const { answer } = extractiveAnswer(req.query, hits);
    const tookMs = Math.round((performance.now() - started) * 100) / 100;
    const queryId = newEventId();
    metrics.queries.labels(req.mode).inc();
    metrics.querySeconds.labels(req.mode).observe(tookMs / 1000);
    if (deps.recordQueries !== false) {
      recordQuery(deps, { queryId, tenant, req, hits, answer, tookMs, model, generation, traceparent: c.req.header('traceparent') });
    }
    return c.json({ queryId, answer, results: hits.map(toResult), took_ms: tookMs, mode: req.mode, model, generation });
  });
  return app;
}

// The answer goes out first; the events follow. A query must not fail because the log is briefly unreachable.
function recordQuery(
  deps: ApiDeps,
  q: {
    queryId: string;
    tenant: string;
    req: z.output<typeof queryRequestSchema>;
    hits: SearchHit[];
    answer: string;
    tookMs: number;
    model: string;
    generation: string;
    traceparent: string | undefined;
  },
): void {
  const subject = subjects.queries(q.tenant);
  const received: QueryReceived = {
    type: 'query.received',
    data: { queryId: q.queryId, tenant: q.tenant, query: q.req.query, mode: q.req.mode, k: q.req.k, ...(q.req.filter ? { filter: q.req.filter } : {}) },
    metadata: eventMetadata('query.received', { source: '/api', subject: q.queryId, traceparent: q.traceparent }),
  };
  const answered: QueryAnswered = {
    type: 'query.answered',
    data: {
      queryId: q.queryId,
      tenant: q.tenant,
      query: q.req.query,
      answer: q.answer,
      results: q.hits.map((h) => ({ chunkId: h.chunkId, docId: h.docId, source: h.source, seq: h.docSeq, score: h.score })),
      tookMs: q.tookMs,
      generator: 'extractive',
      embeddingModel: q.model,
      generation: q.generation,
    },
    metadata: eventMetadata('query.answered', { source: '/api', subject: q.queryId, traceparent: q.traceparent }),
  };
  void (async () => {
    await publishEvent(deps.nats, subject, received, { msgId: `${q.queryId}:received` });
    await publishEvent(deps.nats, subject, answered, { msgId: `${q.queryId}:answered` });
  })().catch((err) => deps.logger.warn('query events not recorded', { queryId: q.queryId, error: errorMessage(err) }));
}
