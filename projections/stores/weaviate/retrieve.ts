// The retriever over Weaviate: BM25 on the stemmed properties, nearVector on window objects, hydrate by object id.
import type { WeaviateClient } from 'weaviate-client';
import { chunkKey, type Candidate, type CandidateRequest, type ChunkContent, type KeywordRequest, refuseExpansion, type SearchFilter } from '../../store.ts';
import { queryStems } from './analyze.ts';
import { and, collection, QUERY_MAXIMUM_RESULTS, type AnyCollection, type Filter } from './io.ts';
import { metaToken } from './meta.ts';
import { chunkObjectId, weaviateTenant, type GenerationCollections } from './names.ts';
import { docIdKeyOf, read, sourceKeyOf, storedChunkFrom } from './records.ts';
import { KEYWORD_PROPERTIES, VECTOR_NAME } from './schema.ts';

/** The Weaviate filter for a (validated) search filter; every object of a version carries the keys it needs. */
export function weaviateFilter(coll: AnyCollection, filter: SearchFilter | undefined): Filter[] {
  const out: Filter[] = [];
  if (!filter) return out;
  if (filter.source) out.push(coll.filter.byProperty('sourceKey').containsAny(filter.source.map(sourceKeyOf)));
  if (filter.docId) out.push(coll.filter.byProperty('docIdKey').containsAny(filter.docId.map(docIdKeyOf)));
  for (const [key, raw] of Object.entries(filter.metadata ?? {})) {
    const values = Array.isArray(raw) ? raw : [raw];
    out.push(coll.filter.byProperty('meta_kv').containsAny(values.map((v) => metaToken(key, v))));
  }
  return out;
}

// Two scores this close are a tie: fusion breaks ties by key, so a retriever must not cut a tie group in half.
const tied = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));

/**
 * The best `limit` distinct chunks from a side that returns objects best first (a chunk may come once per window),
 * plus every chunk tied with the last one: asks for more until the cut falls between two different scores.
 */
async function bestWithTies(limit: number, fetch: (n: number) => Promise<Candidate[]>): Promise<Candidate[]> {
  let request = Math.min(limit + 1, QUERY_MAXIMUM_RESULTS);
  for (;;) {
    const raw = await fetch(request);
    const best = new Map<string, number>();
    for (const c of raw) if (!best.has(c.key)) best.set(c.key, c.score);
    const ranked = [...best].map(([key, score]) => ({ key, score }));
    const exhausted = raw.length < request || request >= QUERY_MAXIMUM_RESULTS;
    if (ranked.length > limit) {
      const cut = (ranked[limit - 1] as Candidate).score;
      let end = limit;
      while (end < ranked.length && tied((ranked[end] as Candidate).score, cut)) end++;
      if (end < ranked.length || exhausted) return ranked.slice(0, end);
    } else if (exhausted) {
      return ranked;
    }
    request = Math.min(request * 2, QUERY_MAXIMUM_RESULTS);
  }
}

const keyOf = (props: Readonly<Record<string, unknown>>): string => chunkKey(read.str(props, 'source'), read.str(props, 'docId'), read.str(props, 'chunkId'));

export class WeaviateRetriever {
  constructor(
    private readonly client: WeaviateClient,
    private readonly names: GenerationCollections,
  ) {}

  private chunks(tenant: string): AnyCollection {
    return collection(this.client, this.names.chunks, weaviateTenant(tenant));
  }

  async keywordCandidates(request: KeywordRequest, tenantExists: boolean): Promise<Candidate[]> {
    refuseExpansion('weaviate', request);
    const stems = queryStems(request.text);
    if (stems.length === 0 || !tenantExists || request.limit < 1) return [];
    const coll = this.chunks(request.tenant);
    const filters = and(weaviateFilter(coll, request.filter));
    return bestWithTies(request.limit, async (limit) => {
      const result = await coll.query.bm25(stems.join(' '), {
        queryProperties: [...KEYWORD_PROPERTIES],
        limit,
        ...(filters ? { filters } : {}),
        returnMetadata: ['score'],
        returnProperties: ['source', 'docId', 'chunkId'],
      });
      return result.objects.map((o) => ({ key: keyOf(o.properties), score: o.metadata?.score ?? 0 }));
    });
  }

  async vectorCandidates(request: CandidateRequest & { readonly vector: Float32Array }, tenantExists: boolean): Promise<Candidate[]> {
    if (!tenantExists || request.limit < 1) return [];
    const coll = this.chunks(request.tenant);
    const filters = and(weaviateFilter(coll, request.filter));
    const vector = Array.from(request.vector);
    return bestWithTies(request.limit, async (limit) => {
      const result = await coll.query.nearVector(vector, {
        targetVector: VECTOR_NAME,
        limit,
        ...(filters ? { filters } : {}),
        returnMetadata: ['distance'],
        returnProperties: ['source', 'docId', 'chunkId'],
      });
      // Cosine distance is 1 − cosine similarity.
      return result.objects.map((o) => ({ key: keyOf(o.properties), score: 1 - (o.metadata?.distance ?? 1) }));
    });
  }

  async hydrate(tenant: string, keys: readonly string[], tenantExists: boolean): Promise<ChunkContent[]> {
    if (!tenantExists || keys.length === 0) return [];
    const coll = this.chunks(tenant);
    const ids = keys.map((key) => {
      const [source = '', docId = '', chunkId = ''] = key.split('\u0000');
      return chunkObjectId(tenant, source, docId, chunkId);
    });
    const out: ChunkContent[] = [];
    for (let i = 0; i < ids.length; i += 1000) {
      const group = ids.slice(i, i + 1000);
      const result = await coll.query.fetchObjects({ filters: coll.filter.byId().containsAny(group), limit: group.length });
      for (const o of result.objects) {
        const c = storedChunkFrom(o.properties);
        out.push({
          tenant,
          source: c.source,
          docId: c.docId,
          chunkId: c.chunkId,
          docSeq: c.docSeq,
          ordinal: c.ordinal,
          text: c.text,
          metadata: c.metadata,
          ...(c.title !== undefined ? { title: c.title } : {}),
          ...(c.url !== undefined ? { url: c.url } : {}),
          ...(c.heading !== undefined ? { heading: c.heading } : {}),
        });
      }
    }
    return out;
  }
}
