// The retriever side in Qdrant: sparse BM25 and dense cosine candidates (ties at the cut included), and hydration by point id.
import type { QdrantClient, Schemas } from '@qdrant/js-client-rest';
import { chunkKey, type Candidate, type CandidateRequest, type ChunkContent, type KeywordRequest, refuseExpansion } from '../../store.ts';
import { call } from './client.ts';
import { searchFilter } from './filter.ts';
import { DENSE, readChunk, SPARSE } from './layout.ts';
import { chunkPointId } from './names.ts';
import { payloadOf } from './read.ts';
import { queryVector } from './terms.ts';

const KEY_FIELDS = ['source', 'docId', 'chunkId'];

/** One Qdrant query: the best `limit` points as (chunk key, score). */
export type Fetch = (limit: number) => Promise<Candidate[]>;

/**
 * The best `limit` chunks by score, plus every chunk tied with the last one: Qdrant orders equal scores by its own
 * internal order, which differs between two stores that received the same documents in another order, so the cut must
 * not fall inside a tie. A chunk with several windows appears once, with its best score.
 */
export async function topWithTies(fetch: Fetch, limit: number): Promise<Candidate[]> {
  let want = limit + 1;
  for (;;) {
    const points = await fetch(want);
    const best = new Map<string, number>();
    for (const p of points) if (!best.has(p.key)) best.set(p.key, p.score); // points come best first
    const ranked = [...best].map(([key, score]) => ({ key, score }));
    const exhausted = points.length < want;
    const lastSeen = points.at(-1)?.score;
    if (ranked.length >= limit) {
      const boundary = (ranked[limit - 1] as Candidate).score;
      // Nothing unseen can reach the boundary once a point below it has been seen (or none are left).
      if (exhausted || (lastSeen !== undefined && lastSeen < boundary)) return ranked.filter((c) => c.score >= boundary);
    } else if (exhausted) {
      return ranked;
    }
    want *= 2;
  }
}

function toCandidates(points: readonly Schemas['ScoredPoint'][]): Candidate[] {
  return points.flatMap((point) => {
    const p = payloadOf(point);
    if (typeof p.source !== 'string' || typeof p.docId !== 'string' || typeof p.chunkId !== 'string') return [];
    return [{ key: chunkKey(p.source, p.docId, p.chunkId), score: point.score }];
  });
}

export class QdrantRetriever {
  constructor(
    private readonly client: QdrantClient,
    private readonly collection: string,
  ) {}

  private query(what: string, request: Schemas['QueryRequest'], limit: number): Promise<Candidate[]> {
    return call(what, () => this.client.query(this.collection, { ...request, limit, with_payload: KEY_FIELDS })).then((r) => toCandidates(r.points));
  }

  /** BM25 over chunks: the query's terms (weight 1) against the chunks' sparse vectors, IDF applied by Qdrant. */
  async keywordCandidates(request: KeywordRequest): Promise<Candidate[]> {
    refuseExpansion('qdrant', request);
    const sparse = queryVector(request.text);
    if (!sparse || request.limit < 1) return [];
    const filter = searchFilter(request.tenant, 'chunk', request.filter);
    const fetch: Fetch = (limit) =>
      this.query('keyword search', { query: { nearest: { indices: sparse.indices, values: sparse.values } }, using: SPARSE, filter }, limit).then((cs) =>
        cs.filter((c) => c.score > 0),
      );
    return topWithTies(fetch, request.limit);
  }

  /** Cosine over vector points (one per chunk window); a chunk scores its best window. */
  async vectorCandidates(request: CandidateRequest & { readonly vector: Float32Array }): Promise<Candidate[]> {
    if (request.limit < 1) return [];
    const filter = searchFilter(request.tenant, 'vector', request.filter);
    const vector = Array.from(request.vector);
    return topWithTies((limit) => this.query('vector search', { query: { nearest: vector }, using: DENSE, filter }, limit), request.limit);
  }

  /** The chunks named by candidate keys, read by their deterministic point ids. */
  async hydrate(tenant: string, keys: readonly string[]): Promise<ChunkContent[]> {
    const ids = new Map<string, string>();
    for (const key of keys) {
      const [source, docId, ...rest] = key.split('\u0000');
      if (source === undefined || docId === undefined || rest.length === 0) continue;
      ids.set(chunkPointId({ tenant, source, docId }, rest.join('\u0000')), key);
    }
    if (ids.size === 0) return [];
    const points = await call('hydrate', () => this.client.retrieve(this.collection, { ids: [...ids.keys()], with_payload: true, with_vector: false }));
    return points.flatMap((point) => {
      const p = payloadOf(point);
      if (p.kind !== 'chunk' || p.tenant !== tenant) return [];
      const c = readChunk(p);
      const content: ChunkContent = {
        tenant: c.tenant,
        source: c.source,
        docId: c.docId,
        chunkId: c.chunkId,
        docSeq: c.docSeq,
        ordinal: c.ordinal,
        text: c.text,
        metadata: c.metadata,
        ...(c.title !== null ? { title: c.title } : {}),
        ...(c.url !== null ? { url: c.url } : {}),
        ...(c.heading !== null ? { heading: c.heading } : {}),
      };
      return [content];
    });
  }
}
