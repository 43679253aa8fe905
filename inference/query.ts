// The query path: retrieve → prompt → generate → record. HTTP routes (/v1/query, /v1/chat/completions) only adapt it.
import type { Logger } from '../lib/log.ts';
import type { NatsHandle } from '../streams/nats.ts';
import type { QueryAnswered, QueryFilter, QueryReceived, SearchMode } from '../streams/events/index.ts';
import { newEventId } from '../streams/ids.ts';
import type { SearchOptions } from '../projections/search.ts';
import type { Serving } from '../projections/serving.ts';
import type { SearchFilter, SearchHit } from '../projections/store.ts';
import type { GenerationResult, Generator, TokenUsage } from './generators/generator.ts';
import { citedMarkers, renderPrompt, type ChatMessage, type PromptTemplate, type RenderedPrompt } from './prompts/prompt.ts';
import { answeredEvent, publishAnswered, publishReceived, receivedEvent, recordInBackground, type QueryRecorder } from './record.ts';
import type { Reranker } from './rerank.ts';
import { retrieve, type Retrieval } from './retrieve.ts';

export interface Inference {
  readonly serving: Serving;
  readonly nats: NatsHandle;
  readonly generator: Generator;
  readonly template: PromptTemplate;
  readonly reranker?: Reranker;
  readonly search?: SearchOptions;
  readonly logger: Logger;
  /** Publish query.received / query.answered (default true). */
  readonly record?: boolean;
  /** Publishes them in batches (record.ts); without one, each query's events go out on their own. */
  readonly recorder?: QueryRecorder;
}

export interface QueryRequest {
  readonly tenant: string;
  readonly query: string;
  readonly k: number;
  readonly mode: SearchMode;
  /** As the user wrote it (recorded); `searchFilter` is what the store gets. */
  readonly filter?: QueryFilter;
  readonly searchFilter?: SearchFilter;
  readonly afterSeq?: number;
  readonly timeoutMs?: number;
  /** Earlier chat turns, placed between the system prompt and the question. */
  readonly history?: readonly ChatMessage[];
  readonly maxTokens?: number;
  readonly temperature?: number;
  readonly api: 'query' | 'chat';
  readonly stream: boolean;
  readonly traceparent?: string;
  readonly signal?: AbortSignal;
}

export interface Timings {
  readonly waitMs: number;
  readonly embedMs: number;
  readonly searchMs: number;
  readonly rerankMs?: number;
  readonly generateMs: number;
  readonly totalMs: number;
}

export interface QueryAnswer {
  readonly queryId: string;
  readonly answer: string;
  readonly hits: SearchHit[];
  /** Markers [n] the answer uses (n is a 1-based index into hits). */
  readonly citations: number[];
  readonly generation: string;
  readonly model: string;
  readonly generator: { readonly kind: string; readonly model: string };
  readonly template: { readonly name: string; readonly version: number };
  readonly finishReason: 'stop' | 'length';
  readonly usage: TokenUsage;
  readonly timings: Timings;
}

/** What a streaming query yields: the retrieval first, the answer's text deltas, then the whole answer. */
export type QueryStreamEvent =
  | { readonly type: 'retrieved'; readonly queryId: string; readonly hits: SearchHit[]; readonly generation: string; readonly model: string }
  | { readonly type: 'delta'; readonly text: string }
  | { readonly type: 'answered'; readonly answer: QueryAnswer };

const round = (x: number) => Math.round(x * 100) / 100;

function prepare(inference: Inference, req: QueryRequest) {
  const queryId = newEventId();
  const received: QueryReceived['data'] = {
    queryId,
    tenant: req.tenant,
    query: req.query,
    mode: req.mode,
    k: req.k,
    ...(req.filter ? { filter: req.filter } : {}),
    api: req.api,
    generator: inference.generator.kind,
    template: { name: inference.template.name, version: inference.template.version },
    stream: req.stream,
  };
  return { queryId, received };
}

async function retrieveFor(inference: Inference, req: QueryRequest): Promise<Retrieval> {
  return retrieve(
    { serving: inference.serving, nats: inference.nats, ...(inference.reranker ? { reranker: inference.reranker } : {}), ...(inference.search ? { search: inference.search } : {}) },
    {
      tenant: req.tenant,
      query: req.query,
      k: req.k,
      mode: req.mode,
      ...(req.searchFilter ? { filter: req.searchFilter } : {}),
      ...(req.afterSeq !== undefined ? { afterSeq: req.afterSeq } : {}),
      ...(req.timeoutMs !== undefined ? { timeoutMs: req.timeoutMs } : {}),
    },
  );
}

function promptFor(inference: Inference, req: QueryRequest, hits: readonly SearchHit[]): RenderedPrompt {
  return renderPrompt(
    inference.template,
    req.query,
    hits.map((h) => ({ chunkId: h.chunkId, text: h.text, ...(h.title !== undefined ? { title: h.title } : {}) })),
    req.history ?? [],
  );
}

function finishAnswer(
  inference: Inference,
  req: QueryRequest,
  queryId: string,
  received: QueryReceived['data'],
  retrieval: Retrieval,
  prompt: RenderedPrompt,
  result: GenerationResult,
  started: number,
  generateMs: number,
): QueryAnswer {
  const answer: QueryAnswer = {
    queryId,
    answer: result.text,
    hits: retrieval.hits,
    citations: citedMarkers(result.text, prompt.passages.length),
    generation: retrieval.generation,
    model: retrieval.model,
    generator: { kind: inference.generator.kind, model: inference.generator.model },
    template: prompt.template,
    finishReason: result.finishReason,
    usage: result.usage,
    timings: { ...retrieval.timings, generateMs: round(generateMs), totalMs: round(performance.now() - started) },
  };
  if (inference.record !== false) {
    const data: QueryAnswered['data'] = {
      queryId,
      tenant: req.tenant,
      query: req.query,
      answer: answer.answer,
      results: answer.hits.map((h) => ({ chunkId: h.chunkId, docId: h.docId, source: h.source, seq: h.docSeq, score: h.score })),
      tookMs: answer.timings.totalMs,
      generator: answer.generator.kind,
      embeddingModel: answer.model,
      generation: answer.generation,
      ...(answer.generator.kind !== 'extractive' ? { generatorModel: answer.generator.model } : {}),
      template: answer.template,
      context: prompt.passages.map((p) => ({ n: p.n, chunkId: p.chunkId, ...(p.title !== undefined ? { title: p.title } : {}), text: p.text })),
      citations: answer.citations,
      timings: answer.timings,
      usage: answer.usage,
      ...(retrieval.reranker ? { reranker: retrieval.reranker } : {}),
    };
    // After the response is written, with other queries' events: encoding both events and writing them to NATS are no
    // part of the answer's latency. One connection keeps their order on the stream.
    const publish = async () => {
      await Promise.all([
        publishReceived(inference.nats, receivedEvent(received, req.traceparent)),
        publishAnswered(inference.nats, answeredEvent(data, req.traceparent)),
      ]);
    };
    if (inference.recorder) inference.recorder.record(queryId, publish);
    else setImmediate(() => void recordInBackground(inference.logger, queryId, publish));
  }
  return answer;
}

/** Answers a query in one piece. */
export async function answerQuery(inference: Inference, req: QueryRequest): Promise<QueryAnswer> {
  const started = performance.now();
  const { queryId, received } = prepare(inference, req);
  const retrieval = await retrieveFor(inference, req);
  const prompt = promptFor(inference, req, retrieval.hits);
  const t = performance.now();
  const result = await inference.generator.generate({
    question: req.query,
    messages: prompt.messages,
    passages: prompt.passages,
    ...(req.maxTokens !== undefined ? { maxTokens: req.maxTokens } : {}),
    ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
    ...(req.signal ? { signal: req.signal } : {}),
  });
  return finishAnswer(inference, req, queryId, received, retrieval, prompt, result, started, performance.now() - t);
}

/** Answers a query as a stream: the retrieved hits, the generator's deltas, then the whole answer (recorded like any other). */
export async function* streamQuery(inference: Inference, req: QueryRequest): AsyncGenerator<QueryStreamEvent> {
  const started = performance.now();
  const { queryId, received } = prepare(inference, req);
  const retrieval = await retrieveFor(inference, req);
  yield { type: 'retrieved', queryId, hits: retrieval.hits, generation: retrieval.generation, model: retrieval.model };
  const prompt = promptFor(inference, req, retrieval.hits);
  const t = performance.now();
  for await (const delta of inference.generator.stream({
    question: req.query,
    messages: prompt.messages,
    passages: prompt.passages,
    ...(req.maxTokens !== undefined ? { maxTokens: req.maxTokens } : {}),
    ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
    ...(req.signal ? { signal: req.signal } : {}),
  })) {
    if ('done' in delta) {
      yield { type: 'answered', answer: finishAnswer(inference, req, queryId, received, retrieval, prompt, delta.done, started, performance.now() - t) };
      return;
    }
    yield { type: 'delta', text: delta.text };
  }
}
