// Retrieval for one query: pin the serving generation, wait for read-your-writes, embed with its model, search, rerank.
import type { NatsHandle } from '../streams/nats.ts';
import type { SearchMode } from '../streams/events/index.ts';
import { waitForApplied } from '../projections/read-your-writes.ts';
import { search, type SearchOptions } from '../projections/search.ts';
import type { Serving } from '../projections/serving.ts';
import type { SearchFilter, SearchHit } from '../projections/store.ts';
import { QueryVectors } from './query-vectors.ts';
import { reorder, type Reranker } from './rerank.ts';

export interface RetrieveRequest {
  readonly tenant: string;
  readonly query: string;
  readonly k: number;
  readonly mode: SearchMode;
  readonly filter?: SearchFilter;
  /** Read-your-writes: wait until the generation has applied this DOCUMENTS sequence. */
  readonly afterSeq?: number;
  readonly timeoutMs?: number;
}

export interface RetrieveTimings {
  readonly waitMs: number;
  readonly embedMs: number;
  readonly searchMs: number;
  readonly rerankMs?: number;
}

export interface Retrieval {
  readonly hits: SearchHit[];
  /** The generation that answered and its embedding model. */
  readonly generation: string;
  readonly model: string;
  readonly timings: RetrieveTimings;
  readonly reranker?: string;
}

export interface RetrieveContext {
  readonly serving: Serving;
  /** Needed only for read-your-writes. */
  readonly nats?: NatsHandle;
  readonly reranker?: Reranker;
  /** How many hits the reranker sees (it then keeps k); default max(20, 2k). */
  readonly rerankDepth?: number;
  readonly search?: SearchOptions;
  /** Query vectors remembered by text (default: one cache for the process, per model). */
  readonly queryVectors?: QueryVectors;
}

const processQueryVectors = new QueryVectors();

const ms = (since: number) => Math.round((performance.now() - since) * 100) / 100;

/** One generation for the whole retrieval: its model embeds the query and its store answers, even across a swap. */
export async function retrieve(ctx: RetrieveContext, req: RetrieveRequest): Promise<Retrieval> {
  const reranker = ctx.reranker;
  const depth = reranker ? Math.max(req.k, ctx.rerankDepth ?? Math.max(20, 2 * req.k)) : req.k;
  const found = await ctx.serving.use(async (g) => {
    let t = performance.now();
    if (req.afterSeq !== undefined) {
      if (!ctx.nats) throw new Error('read-your-writes needs a NATS connection');
      await waitForApplied(ctx.nats, g, req.afterSeq, req.timeoutMs ?? 10_000);
    }
    const waitMs = ms(t);
    t = performance.now();
    const vector = req.mode === 'keyword' ? undefined : await (ctx.queryVectors ?? processQueryVectors).vector(g.embedder, req.query);
    const embedMs = ms(t);
    t = performance.now();
    const hits = await search(
      g.store,
      {
        tenant: req.tenant,
        mode: req.mode,
        k: depth,
        text: req.query,
        vectorWeight: g.vectorWeight,
        ...(vector ? { vector } : {}),
        ...(req.filter ? { filter: req.filter } : {}),
      },
      ctx.search,
    );
    return { hits, generation: g.id, model: g.embedder.info.id, timings: { waitMs, embedMs, searchMs: ms(t) } };
  });
  if (!reranker || found.hits.length === 0) return { ...found, hits: found.hits.slice(0, req.k) };
  const t = performance.now();
  const scores = await reranker.rerank(req.query, found.hits.map((h) => (h.title ? `${h.title}\n${h.text}` : h.text)));
  const hits = reorder(found.hits, scores)
    .slice(0, req.k)
    .map(({ item, score }) => ({ ...item, score }));
  return { ...found, hits, reranker: reranker.name, timings: { ...found.timings, rerankMs: ms(t) } };
}
