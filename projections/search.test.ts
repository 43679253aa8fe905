// search() above any retriever: per-document ranking collapses chunks and scores every keyword candidate on the vector side.
import { describe, expect, it } from 'vitest';
import { search } from './search.ts';
import { chunkKey, type Candidate, type CandidateRequest, type ChunkContent, type Retriever } from './store.ts';

/** A retriever over fixed per-chunk scores; vector requests with a docId filter see only those documents. */
function fakeRetriever(chunks: Array<{ doc: string; chunk: string; keyword?: number; vector?: number }>) {
  const vectorRequests: Array<CandidateRequest> = [];
  const key = (c: { doc: string; chunk: string }) => chunkKey('s', c.doc, c.chunk);
  const top = (xs: Candidate[], limit: number) => xs.sort((a, b) => b.score - a.score).slice(0, limit);
  const retriever: Retriever = {
    model: { id: 'm', dims: 2 },
    keywordCandidates: async (r) => top(chunks.filter((c) => c.keyword !== undefined).map((c) => ({ key: key(c), score: c.keyword as number })), r.limit),
    vectorCandidates: async (r) => {
      vectorRequests.push(r);
      const allowed = r.filter?.docId ? new Set(r.filter.docId) : undefined;
      return top(chunks.filter((c) => c.vector !== undefined && (!allowed || allowed.has(c.doc))).map((c) => ({ key: key(c), score: c.vector as number })), r.limit);
    },
    hydrate: async (_tenant, keys) =>
      keys.map((k): ChunkContent => {
        const [source, docId, chunkId] = k.split('\u0000') as [string, string, string];
        return { tenant: 't', source, docId, chunkId, docSeq: 1, ordinal: 0, text: chunkId, metadata: {} };
      }),
  };
  return { retriever, vectorRequests };
}

const base = { tenant: 't', text: 'q', vector: new Float32Array([1, 0]) } as const;

describe('search per document', () => {
  it('returns k documents, each once, by its best chunk', async () => {
    const { retriever } = fakeRetriever([
      { doc: 'a', chunk: 'a0', keyword: 9 },
      { doc: 'a', chunk: 'a1', keyword: 8 },
      { doc: 'b', chunk: 'b0', keyword: 7 },
      { doc: 'c', chunk: 'c0', keyword: 6 },
    ]);
    const hits = await search(retriever, { ...base, mode: 'keyword', k: 2, vectorWeight: 0 }, { perDocument: true });
    expect(hits.map((h) => h.chunkId)).toEqual(['a0', 'b0']);
    const chunks = await search(retriever, { ...base, mode: 'keyword', k: 2, vectorWeight: 0 });
    expect(chunks.map((h) => h.chunkId)).toEqual(['a0', 'a1']);
  });

  it("fuses a document's keyword and vector evidence even when they come from different chunks", async () => {
    const { retriever, vectorRequests } = fakeRetriever([
      { doc: 'a', chunk: 'a0', keyword: 10 },
      { doc: 'a', chunk: 'a1', vector: 0.2 },
      { doc: 'b', chunk: 'b0', keyword: 9.5, vector: 0.1 },
      { doc: 'c', chunk: 'c0', keyword: 1 },
      { doc: 'y', chunk: 'y0', vector: 0.8 },
      { doc: 'z', chunk: 'z0', vector: 0.9 },
    ]);
    const hits = await search(retriever, { ...base, mode: 'hybrid', k: 2, vectorWeight: 0.5, candidates: 2 }, { perDocument: true });
    // The vector side's top documents (z, y) are completed with the vector scores of the keyword candidates (a, b).
    expect(vectorRequests.at(-1)?.filter?.docId).toEqual(['a', 'b']);
    expect(hits.map((h) => h.docId)).toEqual(['a', 'z']);
    expect(hits[0]?.scores).toEqual({ keyword: 10, vector: 0.2 });
    expect(hits[0]?.chunkId).toBe('a0');
  });
});
