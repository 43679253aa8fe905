// The shared conformance suite every InferenceStore adapter runs: what a user observes through search, document, stats and digest.
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lib/errors.ts';
import type { Metadata, SearchMode } from '../../streams/events/index.ts';
import { search } from '../search.ts';
import type { ChunkInput, InferenceStore, SearchFilter, SearchHit, SearchQuery, StoreBatch, StoreOp } from '../store.ts';

export interface OpenedStore {
  readonly store: InferenceStore;
  /** Opens the same data again (called after the suite closed `store`); omit when the adapter has no persistence. */
  readonly reopen?: () => Promise<InferenceStore>;
  /** Releases what open created (files, collections); stores may already be closed. */
  readonly cleanup: () => Promise<void>;
}

export interface ConformanceOptions {
  /**
   * Whether ops and checkpoints of a batch commit atomically (default true). A store without transactions writes
   * idempotently and stores the checkpoint last: after a failed batch only the checkpoint is checked.
   */
  readonly atomicBatches?: boolean;
}

/** The model the suite's vectors belong to; adapters under test are opened for it. */
export const CONFORMANCE_MODEL = { id: 'conformance-8', dims: 8 } as const;
const DIMS = CONFORMANCE_MODEL.dims;

// A tiny deterministic embedding: mostly one-hot vectors, so which chunk is nearest is obvious from the fixture.
function vec(...weights: number[]): Float32Array {
  const v = new Float32Array(DIMS);
  weights.forEach((w, i) => (v[i] = w));
  return v;
}
const e = (i: number, scale = 1): Float32Array => {
  const v = new Float32Array(DIMS);
  v[i] = scale;
  return v;
};

interface DocSpec {
  tenant?: string;
  source: string;
  docId: string;
  docSeq: number;
  title?: string;
  url?: string;
  metadata?: Metadata;
  chunks: Array<{ text: string; heading?: string; vector?: Float32Array }>;
}

const chunkId = (docSeq: number, ordinal: number) => `${docSeq}:${ordinal}`;

function chunksOp(d: DocSpec, part = { index: 0, count: 1 }, only?: readonly number[]): StoreOp {
  const chunks: ChunkInput[] = d.chunks
    .map((c, ordinal) => ({
      chunkId: chunkId(d.docSeq, ordinal),
      ordinal,
      text: c.text,
      start: ordinal * 100,
      end: ordinal * 100 + c.text.length,
      tokens: c.text.split(' ').length,
      ...(c.heading !== undefined ? { heading: c.heading } : {}),
    }))
    .filter((c) => !only || only.includes(c.ordinal));
  return {
    kind: 'chunks',
    tenant: d.tenant ?? 'acme',
    source: d.source,
    docId: d.docId,
    docSeq: d.docSeq,
    metadata: d.metadata ?? {},
    part,
    totalChunks: d.chunks.length,
    chunks,
    ...(d.title !== undefined ? { title: d.title } : {}),
    ...(d.url !== undefined ? { url: d.url } : {}),
  };
}

function vectorsOp(d: DocSpec): StoreOp {
  return {
    kind: 'vectors',
    tenant: d.tenant ?? 'acme',
    source: d.source,
    docId: d.docId,
    docSeq: d.docSeq,
    model: CONFORMANCE_MODEL.id,
    vectors: d.chunks.flatMap((c, ordinal) => (c.vector ? [{ chunkId: chunkId(d.docSeq, ordinal), window: 0, vector: c.vector }] : [])),
  };
}

const removeOp = (d: Pick<DocSpec, 'tenant' | 'source' | 'docId'>, docSeq: number): StoreOp => ({
  kind: 'remove',
  tenant: d.tenant ?? 'acme',
  source: d.source,
  docId: d.docId,
  docSeq,
});

const docOps = (d: DocSpec): StoreOp[] => [chunksOp(d), vectorsOp(d)];
const batch = (ops: StoreOp[], checkpoints: Record<string, number> = {}): StoreBatch => ({ ops, checkpoints });

const salmon: DocSpec = {
  source: 'blog',
  docId: 'salmon',
  docSeq: 1,
  title: 'Salmon cooking',
  url: 'https://example.com/salmon',
  metadata: { lang: 'en', tags: ['fish', 'cooking'], year: 2024, draft: false, stars: 1 },
  chunks: [
    { text: 'Smoked salmon with dill and lemon, served cold.', heading: 'Recipes', vector: e(0) },
    { text: 'Grilling salmon fillets on cedar planks over charcoal.', heading: 'Recipes > Grill', vector: vec(0.9, 0.1) },
  ],
};
const rust: DocSpec = {
  source: 'docs',
  docId: 'rust',
  docSeq: 2,
  title: 'Rust notes',
  metadata: { lang: 'en', tags: ['programming'], year: 2023, draft: true },
  chunks: [
    { text: 'Ownership and borrowing explained for Rust programmers.', vector: e(2) },
    { text: 'Lifetimes annotate how long references stay valid.', vector: vec(0, 0, 0.7, 0.7) },
  ],
};
const garden: DocSpec = {
  source: 'blog',
  docId: 'garden',
  docSeq: 3,
  metadata: { lang: 'de', tags: 'gardening', year: '2024', nested: { tags: 'fish' } },
  chunks: [
    { text: 'Planting tomatoes and basil in early spring.', vector: e(4) },
    // Not normalised on purpose: a store must not assume unit-length vectors.
    { text: 'Composting kitchen scraps feeds the garden soil.', vector: e(5, 3) },
  ],
};
const globexSalmon: DocSpec = {
  tenant: 'globex',
  source: 'blog',
  docId: 'salmon',
  docSeq: 4,
  title: 'Fishing permits',
  chunks: [{ text: 'Salmon fishing licenses in Alaska and salmon seasons.', vector: e(0) }],
};
const corpus = (): StoreOp[] => [...docOps(salmon), ...docOps(rust), ...docOps(garden), ...docOps(globexSalmon)];

const query = (q: Partial<SearchQuery> & Pick<SearchQuery, 'mode'>): SearchQuery => ({
  tenant: 'acme',
  k: 10,
  text: '',
  vectorWeight: 0.5,
  ...q,
});
const refs = (hits: readonly SearchHit[]) => hits.map((h) => `${h.docId}/${h.chunkId}`);
const docsOf = (hits: readonly SearchHit[]) => [...new Set(hits.map((h) => h.docId))].sort();
const MODES: readonly SearchMode[] = ['keyword', 'vector', 'hybrid'];

/**
 * Registers the suite under `name`. `open` is called for each test (some tests open several stores to compare them)
 * and must give a new, empty store for CONFORMANCE_MODEL.
 */
export function describeInferenceStoreConformance(
  name: string,
  open: () => Promise<OpenedStore>,
  options: ConformanceOptions = {},
): void {
  const atomic = options.atomicBatches ?? true;

  async function withStores(count: number, fn: (stores: OpenedStore[]) => Promise<void>): Promise<void> {
    const opened: OpenedStore[] = [];
    try {
      for (let i = 0; i < count; i++) opened.push(await open());
      await fn(opened);
    } finally {
      for (const o of opened) {
        await o.store.close().catch(() => undefined);
        await o.cleanup();
      }
    }
  }
  const withStore = (fn: (opened: OpenedStore) => Promise<void>) => withStores(1, ([o]) => fn(o as OpenedStore));

  describe(`InferenceStore conformance: ${name}`, () => {
    it('holds the model it was opened for', async () => {
      await withStore(async ({ store }) => {
        expect(store.model).toEqual(CONFORMANCE_MODEL);
      });
    });

    it('finds documents by keyword, by vector and by both, with every field of the hit', async () => {
      await withStore(async ({ store }) => {
        await store.apply(batch(corpus()));

        const keyword = await search(store, query({ mode: 'keyword', text: 'smoked salmon' }));
        expect(keyword[0]).toEqual({
          tenant: 'acme',
          source: 'blog',
          docId: 'salmon',
          chunkId: '1:0',
          docSeq: 1,
          ordinal: 0,
          title: 'Salmon cooking',
          url: 'https://example.com/salmon',
          heading: 'Recipes',
          text: 'Smoked salmon with dill and lemon, served cold.',
          metadata: { lang: 'en', tags: ['fish', 'cooking'], year: 2024, draft: false, stars: 1 },
          score: expect.any(Number),
          scores: { keyword: expect.any(Number) },
        });
        expect(docsOf(keyword)).toEqual(['salmon']);
        const scores = keyword.map((h) => h.score);
        expect(scores).toEqual([...scores].sort((a, b) => b - a));
        expect(keyword[0]?.score).toBe(keyword[0]?.scores.keyword);

        // Stemming: "tomato" finds "tomatoes".
        expect(refs(await search(store, query({ mode: 'keyword', text: 'tomato' })))).toEqual(['garden/3:0']);

        const vector = await search(store, query({ mode: 'vector', vector: e(2) }));
        expect(vector[0]).toMatchObject({ docId: 'rust', chunkId: '2:0', docSeq: 2, title: 'Rust notes', metadata: { tags: ['programming'] } });
        expect(vector[0]?.score).toBeCloseTo(1, 5);
        expect(vector[0]?.scores.vector).toBeCloseTo(1, 5);
        expect(vector[0]?.scores.keyword).toBeUndefined();
        expect(vector[1]).toMatchObject({ docId: 'rust', chunkId: '2:1' });
        expect(vector[1]?.score).toBeCloseTo(Math.SQRT1_2, 4);
        // Unnormalised stored vector and query both count as direction only.
        const scaled = await search(store, query({ mode: 'vector', vector: e(5, 0.25), k: 1 }));
        expect(refs(scaled)).toEqual(['garden/3:1']);
        expect(scaled[0]?.score).toBeCloseTo(1, 5);

        const hybrid = await search(store, query({ mode: 'hybrid', text: 'lifetimes references', vector: e(3), vectorWeight: 0.5 }));
        expect(hybrid[0]).toMatchObject({ docId: 'rust', chunkId: '2:1' });
        expect(hybrid[0]?.scores.vector).toBeCloseTo(Math.SQRT1_2, 4);
        expect(hybrid[0]?.scores.keyword).toBeGreaterThan(0);
      });
    });

    it('keeps tenants apart', async () => {
      await withStore(async ({ store }) => {
        await store.apply(batch(corpus()));
        for (const mode of MODES) {
          const acme = await search(store, query({ mode, text: 'salmon', vector: e(0), k: 20 }));
          expect(acme.every((h) => h.tenant === 'acme')).toBe(true);
          expect(acme.some((h) => h.text.includes('Alaska'))).toBe(false);
          const globex = await search(store, query({ mode, tenant: 'globex', text: 'salmon', vector: e(0), k: 20 }));
          expect(refs(globex)).toEqual(['salmon/4:0']);
          expect(globex[0]?.tenant).toBe('globex');
          expect(await search(store, query({ mode, tenant: 'initech', text: 'salmon', vector: e(0) }))).toEqual([]);
        }
        await store.apply(batch([removeOp({ source: 'blog', docId: 'salmon' }, 10)]));
        expect(await store.document({ tenant: 'globex', source: 'blog', docId: 'salmon' })).toMatchObject({ deleted: false, chunks: 1 });
        expect(refs(await search(store, query({ mode: 'keyword', tenant: 'globex', text: 'salmon' })))).toEqual(['salmon/4:0']);
        expect((await store.stats()).tenants).toBe(2);
      });
    });

    it('filters by source, docId and metadata in every mode', async () => {
      await withStore(async ({ store }) => {
        await store.apply(batch(corpus()));
        const cases: Array<[SearchFilter, string[]]> = [
          [{ source: ['docs'] }, ['rust']],
          [{ source: ['blog', 'docs'] }, ['garden', 'rust', 'salmon']],
          [{ docId: ['garden'] }, ['garden']],
          [{ docId: ['garden', 'rust'] }, ['garden', 'rust']],
          // A stored array matches when it contains the value; a stored scalar when it equals it.
          [{ metadata: { tags: 'fish' } }, ['salmon']],
          [{ metadata: { tags: 'gardening' } }, ['garden']],
          // A list of values means any of them.
          [{ metadata: { tags: ['fish', 'programming'] } }, ['rust', 'salmon']],
          // Types matter: 2024 is not "2024", and true is not 1.
          [{ metadata: { year: 2024 } }, ['salmon']],
          [{ metadata: { year: '2024' } }, ['garden']],
          [{ metadata: { draft: false } }, ['salmon']],
          [{ metadata: { draft: true } }, ['rust']],
          [{ metadata: { stars: 1 } }, ['salmon']],
          [{ metadata: { stars: true } }, []],
          // Keys name top-level metadata: a value nested in an object does not match.
          [{ metadata: { 'nested.tags': 'fish' } }, []],
          [{ metadata: { nested: 'fish' } }, []],
          [{ metadata: { missing: 'x' } }, []],
          // Conditions are ANDed.
          [{ source: ['blog'], metadata: { lang: 'en' } }, ['salmon']],
          [{ source: ['docs'], metadata: { tags: 'fish' } }, []],
        ];
        for (const mode of MODES) {
          for (const [filter, expected] of cases) {
            const hits = await search(store, 
              query({ mode, text: 'salmon rust ownership tomatoes compost garden lifetimes grilling', vector: vec(1, 1, 1, 1, 1, 1, 1, 1), filter, k: 50 }),
            );
            expect({ mode, filter, docs: docsOf(hits) }).toEqual({ mode, filter, docs: expected });
          }
        }
      });
    });

    it('filters by what documents hold now: added, changed and deleted since the last filtered query', async () => {
      await withStore(async ({ store }) => {
        await store.apply(batch(corpus()));
        const filtered = async (filter: SearchFilter) => {
          const seen: Record<string, string[]> = {};
          for (const mode of MODES) {
            seen[mode] = docsOf(await search(store, query({ mode, text: 'salmon rust ownership tomatoes compost garden', vector: vec(1, 1, 1, 1, 1, 1, 1, 1), filter, k: 50 })));
          }
          return seen;
        };
        const everyMode = (docs: string[]) => ({ keyword: docs, vector: docs, hybrid: docs });
        const en = { metadata: { lang: 'en' } };
        expect(await filtered(en)).toEqual(everyMode(['rust', 'salmon']));
        // The same filter in another tenant finds that tenant's documents only.
        const blog = { source: ['blog'] };
        expect(await filtered(blog)).toEqual(everyMode(['garden', 'salmon']));
        const globex = await search(store, query({ tenant: 'globex', mode: 'hybrid', text: 'salmon tomatoes', vector: vec(1, 1, 1, 1, 1, 1, 1, 1), filter: blog, k: 50 }));
        expect(globex.map((h) => `${h.tenant}/${h.docId}`)).toEqual(['globex/salmon']);
        // The garden document's new version is in English; then the salmon document is deleted.
        await store.apply(batch(docOps({ ...garden, docSeq: 20, metadata: { ...garden.metadata, lang: 'en' } })));
        expect(await filtered(en)).toEqual(everyMode(['garden', 'rust', 'salmon']));
        await store.apply(batch([removeOp(salmon, 21)]));
        expect(await filtered(en)).toEqual(everyMode(['garden', 'rust']));
        // Rust's next version leaves English: neither the filter nor another one asked before may still see it.
        expect(await filtered({ metadata: { lang: 'fr' } })).toEqual(everyMode([]));
        await store.apply(batch(docOps({ ...rust, docSeq: 22, metadata: { lang: 'fr' } })));
        expect(await filtered(en)).toEqual(everyMode(['garden']));
        expect(await filtered({ metadata: { lang: 'fr' } })).toEqual(everyMode(['rust']));
      });
    });

    it('rejects metadata filter keys that are not letters, digits, "_", "." or "-"', async () => {
      await withStore(async ({ store }) => {
        await store.apply(batch(corpus()));
        for (const mode of MODES) {
          for (const key of ['a b', "x'); DROP TABLE chunks; --", 'tags"', '']) {
            await expect(search(store, query({ mode, text: 'salmon', vector: e(0), filter: { metadata: { [key]: 'x' } } }))).rejects.toBeInstanceOf(
              ValidationError,
            );
          }
        }
        expect(docsOf(await search(store, query({ mode: 'keyword', text: 'salmon' })))).toEqual(['salmon']);
      });
    });

    it('rejects vector and hybrid queries without a vector of the model', async () => {
      await withStore(async ({ store }) => {
        await store.apply(batch(corpus()));
        for (const mode of ['vector', 'hybrid'] as const) {
          await expect(search(store, query({ mode, text: 'salmon' }))).rejects.toBeInstanceOf(ValidationError);
          await expect(search(store, query({ mode, text: 'salmon', vector: new Float32Array(DIMS + 1) }))).rejects.toBeInstanceOf(ValidationError);
        }
      });
    });

    it('finds nothing by keyword for a query without words, without failing', async () => {
      await withStore(async ({ store }) => {
        await store.apply(batch(corpus()));
        for (const text of ['', '   ', '!!! ??? ***', '"', 'title:']) {
          expect(await search(store, query({ mode: 'keyword', text }))).toEqual([]);
        }
        // Hybrid still has its vector side.
        expect(refs(await search(store, query({ mode: 'hybrid', text: '?!', vector: e(4), k: 1 })))).toEqual(['garden/3:0']);
        // FTS operators in user text are plain words.
        expect(docsOf(await search(store, query({ mode: 'keyword', text: 'salmon AND NOT dill*' })))).toEqual(['salmon']);
      });
    });

    it('removes a deleted document from every mode and leaves a tombstone', async () => {
      await withStore(async ({ store }) => {
        await store.apply(batch(corpus()));
        await store.apply(batch([removeOp(salmon, 10)]));
        for (const mode of MODES) {
          const hits = await search(store, query({ mode, text: 'salmon smoked grilling', vector: e(0), k: 50 }));
          expect(hits.some((h) => h.docId === 'salmon')).toBe(false);
        }
        expect(await store.document({ tenant: 'acme', source: 'blog', docId: 'salmon' })).toEqual({
          tenant: 'acme',
          source: 'blog',
          docId: 'salmon',
          docSeq: 10,
          deleted: true,
          chunks: 0,
          vectors: 0,
        });
        expect(await store.stats()).toEqual({ documents: 3, tombstones: 1, chunks: 5, vectors: 5, tenants: 2 });
        // A delete of a document never seen still leaves a tombstone that stops its older events.
        await store.apply(batch([removeOp({ source: 'blog', docId: 'unseen' }, 30), ...docOps({ ...rust, source: 'blog', docId: 'unseen', docSeq: 29 })]));
        expect(await store.document({ tenant: 'acme', source: 'blog', docId: 'unseen' })).toMatchObject({ deleted: true, docSeq: 30, chunks: 0 });
      });
    });

    it('removes the version held by a removal of that same version, whether it comes before or after its chunks and vectors', async () => {
      // CHUNKS and EMBEDDINGS are read side by side, so a log holding both must give one result in every interleaving.
      const orders: StoreOp[][] = [
        [...docOps(salmon), removeOp(salmon, salmon.docSeq)],
        [removeOp(salmon, salmon.docSeq), ...docOps(salmon)],
        [chunksOp(salmon), removeOp(salmon, salmon.docSeq), vectorsOp(salmon)],
        [vectorsOp(salmon), removeOp(salmon, salmon.docSeq), chunksOp(salmon)],
      ];
      const digests = new Set<string>();
      for (const ops of orders) {
        await withStore(async ({ store }) => {
          for (const op of ops) await store.apply(batch([op]));
          expect(await store.document({ tenant: 'acme', source: 'blog', docId: 'salmon' })).toMatchObject({ docSeq: salmon.docSeq, deleted: true, chunks: 0, vectors: 0 });
          expect(await search(store, query({ mode: 'keyword', text: 'salmon' }))).toEqual([]);
          digests.add(await store.digest());
        });
      }
      expect(digests.size).toBe(1);
    });

    it('never brings back older chunks or vectors after a delete or a newer version', async () => {
      await withStore(async ({ store }) => {
        await store.apply(batch(corpus()));
        const rustV2: DocSpec = { ...rust, docSeq: 20, chunks: [{ text: 'Async runtimes schedule futures.', vector: e(6) }] };
        await store.apply(batch([removeOp(salmon, 10), ...docOps(rustV2)]));
        const before = await store.digest();

        // Late arrivals: the old versions again, a chunk op at the tombstone's own seq, and vectors of the old versions.
        await store.apply(batch([...docOps(salmon), ...docOps({ ...salmon, docSeq: 10 }), ...docOps(rust), removeOp(rust, 5)]));
        await store.apply(batch([vectorsOp(rust), vectorsOp(salmon)]));

        expect(await store.digest()).toBe(before);
        expect(await search(store, query({ mode: 'keyword', text: 'salmon ownership borrowing' }))).toEqual([]);
        const vectorHits = await search(store, query({ mode: 'vector', vector: e(2), k: 50 }));
        expect(vectorHits.some((h) => h.docId === 'salmon' || (h.docId === 'rust' && h.docSeq !== 20))).toBe(false);
        expect(await store.document({ tenant: 'acme', source: 'docs', docId: 'rust' })).toMatchObject({ docSeq: 20, deleted: false, chunks: 1, vectors: 1 });
        expect(await store.document({ tenant: 'acme', source: 'blog', docId: 'salmon' })).toMatchObject({ docSeq: 10, deleted: true });

        // A version newer than the tombstone brings the document back.
        await store.apply(batch(docOps({ ...salmon, docSeq: 12, chunks: [{ text: 'Salmon returns upstream.', vector: e(7) }] })));
        expect(refs(await search(store, query({ mode: 'keyword', text: 'salmon' })))).toEqual(['salmon/12:0']);
        expect(refs(await search(store, query({ mode: 'vector', vector: e(7), k: 1 })))).toEqual(['salmon/12:0']);
      });
    });

    it('leaves no old chunks or vectors when a document shrinks', async () => {
      await withStore(async ({ store }) => {
        const v1: DocSpec = {
          source: 'wiki',
          docId: 'greek',
          docSeq: 5,
          chunks: [
            { text: 'alpha first letter', vector: e(0) },
            { text: 'beta second letter', vector: e(1) },
            { text: 'gamma third letter', vector: e(2) },
          ],
        };
        await store.apply(batch(docOps(v1)));
        await store.apply(batch(docOps({ ...v1, docSeq: 6, chunks: [{ text: 'alpha revised', vector: e(3) }] })));
        expect(await store.document({ tenant: 'acme', source: 'wiki', docId: 'greek' })).toMatchObject({ docSeq: 6, chunks: 1, vectors: 1 });
        expect(await search(store, query({ mode: 'keyword', text: 'gamma beta letter' }))).toEqual([]);
        expect(refs(await search(store, query({ mode: 'vector', vector: e(2), k: 10 })))).toEqual(['greek/6:0']);
        expect(refs(await search(store, query({ mode: 'hybrid', text: 'gamma alpha', vector: e(2), k: 10 })))).toEqual(['greek/6:0']);
        expect(await store.stats()).toMatchObject({ documents: 1, chunks: 1, vectors: 1 });
      });
    });

    it('assembles a version sent in parts, idempotently', async () => {
      await withStore(async ({ store }) => {
        const big: DocSpec = {
          source: 'wiki',
          docId: 'big',
          docSeq: 7,
          chunks: [
            { text: 'part one first chunk', vector: e(0) },
            { text: 'part one second chunk', vector: e(1) },
            { text: 'part two third chunk', vector: e(2) },
            { text: 'part two fourth chunk', vector: e(3) },
          ],
        };
        const part0 = chunksOp(big, { index: 0, count: 2 }, [0, 1]);
        const part1 = chunksOp(big, { index: 1, count: 2 }, [2, 3]);
        // Vectors of the whole version arrive between the parts: those of part 1 wait for their chunks.
        await store.apply(batch([part0, vectorsOp(big)]));
        expect(await store.document({ tenant: 'acme', source: 'wiki', docId: 'big' })).toMatchObject({ chunks: 2, vectors: 2 });
        expect(refs(await search(store, query({ mode: 'vector', vector: e(2), k: 1 })))).not.toEqual(['big/7:2']);
        await store.apply(batch([part1]));
        await store.apply(batch([part0, part1]));
        expect(await store.document({ tenant: 'acme', source: 'wiki', docId: 'big' })).toMatchObject({ docSeq: 7, chunks: 4, vectors: 4 });
        expect(refs(await search(store, query({ mode: 'vector', vector: e(2), k: 1 })))).toEqual(['big/7:2']);
        expect(refs(await search(store, query({ mode: 'keyword', text: 'fourth' })))).toEqual(['big/7:3']);
      });
    });

    it('attaches vectors that arrive before their chunks', async () => {
      await withStore(async ({ store }) => {
        await store.apply(batch([vectorsOp(rust)]));
        expect(await search(store, query({ mode: 'vector', vector: e(2) }))).toEqual([]);
        await store.apply(batch([chunksOp(rust)]));
        expect(refs(await search(store, query({ mode: 'vector', vector: e(2), k: 1 })))).toEqual(['rust/2:0']);
        expect(await store.document({ tenant: 'acme', source: 'docs', docId: 'rust' })).toMatchObject({ chunks: 2, vectors: 2 });

        // Vectors of a newer version wait; the version held keeps its own vectors until the new chunks arrive.
        const rustV2: DocSpec = { ...rust, docSeq: 9, chunks: [{ text: 'Macros generate code at compile time.', vector: e(5) }] };
        await store.apply(batch([vectorsOp(rustV2)]));
        expect(refs(await search(store, query({ mode: 'vector', vector: e(2), k: 1 })))).toEqual(['rust/2:0']);
        await store.apply(batch([chunksOp(rustV2)]));
        expect(refs(await search(store, query({ mode: 'vector', vector: e(5), k: 10 })))).toEqual(['rust/9:0']);
        expect(await store.document({ tenant: 'acme', source: 'docs', docId: 'rust' })).toMatchObject({ docSeq: 9, chunks: 1, vectors: 1 });
      });
    });

    it('changes nothing when batches are replayed', async () => {
      await withStore(async ({ store }) => {
        const ops = [...corpus(), removeOp(garden, 11)];
        await store.apply(batch(ops, { CHUNKS: 40 }));
        const digest = await store.digest();
        const stats = await store.stats();
        const hits = await search(store, query({ mode: 'hybrid', text: 'salmon rust', vector: e(0) }));
        await store.apply(batch(ops, { CHUNKS: 40 }));
        await store.apply(batch([...ops].reverse(), { CHUNKS: 40 }));
        expect(await store.digest()).toBe(digest);
        expect(await store.stats()).toEqual(stats);
        expect(await search(store, query({ mode: 'hybrid', text: 'salmon rust', vector: e(0) }))).toEqual(hits);
        expect(await store.checkpoints()).toEqual({ CHUNKS: 40 });
      });
    });

    it('reaches the same digest whatever the batch split, the order of documents or how CHUNKS and EMBEDDINGS interleave', async () => {
      const rustV2: DocSpec = { ...rust, docSeq: 20, chunks: [{ text: 'Async runtimes.', vector: e(6) }] };
      // Each document's ops in log order.
      const perDoc: StoreOp[][] = [
        docOps(salmon),
        [...docOps(rust), ...docOps(rustV2)],
        [...docOps(garden), removeOp(garden, 15)],
        docOps(globexSalmon),
      ];
      const isVectors = (op: StoreOp) => op.kind === 'vectors';
      const orderings: Array<{ name: string; batches: StoreOp[][] }> = [
        {
          name: 'one op per batch, documents interleaved in reverse',
          batches: [0, 1, 2, 3, 4].flatMap((i) => [...perDoc].reverse().flatMap((ops) => (ops[i] ? [[ops[i] as StoreOp]] : []))),
        },
        {
          name: 'EMBEDDINGS ahead of CHUNKS: each document\'s vectors first, in two batches',
          batches: ((ops) => [ops.slice(0, 3), ops.slice(3)])(perDoc.flatMap((ops) => [...ops.filter(isVectors), ...ops.filter((o) => !isVectors(o))])),
        },
        {
          name: 'CHUNKS read to the end before EMBEDDINGS',
          batches: [perDoc.flat().filter((o) => !isVectors(o)), perDoc.flat().filter(isVectors)],
        },
        {
          name: 'vectors first, then chunks and deletes newest first',
          batches: perDoc.map((ops) => [...ops.filter(isVectors), ...ops.filter((o) => !isVectors(o)).reverse()]),
        },
      ];
      await withStores(orderings.length + 2, async ([reference, empty, ...others]) => {
        await (reference as OpenedStore).store.apply(batch(perDoc.flat()));
        const digest = await (reference as OpenedStore).store.digest();
        const stats = await (reference as OpenedStore).store.stats();
        expect(await (empty as OpenedStore).store.digest()).not.toBe(digest);
        for (const [i, ordering] of orderings.entries()) {
          const { store } = others[i] as OpenedStore;
          for (const ops of ordering.batches) await store.apply(batch(ops));
          expect({ ordering: ordering.name, stats: await store.stats(), digest: await store.digest() }).toEqual({ ordering: ordering.name, stats, digest });
        }
      });
    });

    it('advances checkpoints with the data, and a failed batch moves neither', async () => {
      await withStore(async ({ store }) => {
        expect(await store.checkpoints()).toEqual({});
        await store.apply(batch(corpus(), { CHUNKS: 10, 'EMBEDDINGS:conformance-8': 7 }));
        expect(await store.checkpoints()).toEqual({ CHUNKS: 10, 'EMBEDDINGS:conformance-8': 7 });
        const digest = await store.digest();

        const extra: DocSpec = { source: 'blog', docId: 'extra', docSeq: 30, chunks: [{ text: 'zebra crossing', vector: e(1) }] };
        const bad: StoreOp = {
          kind: 'vectors',
          tenant: 'acme',
          source: 'blog',
          docId: 'extra',
          docSeq: 30,
          model: CONFORMANCE_MODEL.id,
          vectors: [{ chunkId: '30:0', window: 0, vector: new Float32Array(DIMS - 1) }],
        };
        await expect(store.apply(batch([chunksOp(extra), removeOp(salmon, 31), bad], { CHUNKS: 20 }))).rejects.toBeInstanceOf(ValidationError);
        expect(await store.checkpoints()).toEqual({ CHUNKS: 10, 'EMBEDDINGS:conformance-8': 7 });
        if (atomic) {
          expect(await store.digest()).toBe(digest);
          expect(await search(store, query({ mode: 'keyword', text: 'zebra' }))).toEqual([]);
          expect(docsOf(await search(store, query({ mode: 'keyword', text: 'salmon' })))).toEqual(['salmon']);
        }

        // Checkpoints only move forward: replaying an older batch does not rewind them.
        await store.apply(batch(docOps(salmon), { CHUNKS: 5 }));
        await store.apply(batch(docOps(extra), { CHUNKS: 12 }));
        expect(await store.checkpoints()).toEqual({ CHUNKS: 12, 'EMBEDDINGS:conformance-8': 7 });
        expect(refs(await search(store, query({ mode: 'keyword', text: 'zebra' })))).toEqual(['extra/30:0']);
      });
    });

    it('keeps documents, vectors and checkpoints when reopened', async () => {
      await withStore(async (opened) => {
        if (!opened.reopen) return;
        await opened.store.apply(batch([...corpus(), removeOp(garden, 11), vectorsOp({ ...salmon, docSeq: 50 })], { CHUNKS: 99 }));
        const digest = await opened.store.digest();
        const q = [
          query({ mode: 'keyword', text: 'salmon rust' }),
          query({ mode: 'vector', vector: e(0), k: 3 }),
          query({ mode: 'hybrid', text: 'ownership', vector: e(1), k: 3, filter: { metadata: { lang: 'en' } } }),
        ];
        const before = await Promise.all(q.map((x) => search(opened.store, x)));
        await opened.store.close();

        const again = await opened.reopen();
        try {
          expect(await again.digest()).toBe(digest);
          expect(await again.checkpoints()).toEqual({ CHUNKS: 99 });
          expect(await Promise.all(q.map((x) => search(again, x)))).toEqual(before);
          expect(await again.document({ tenant: 'acme', source: 'blog', docId: 'garden' })).toMatchObject({ deleted: true, docSeq: 11 });
          // Pending vectors survive too: the salmon version 50 gets its vectors when its chunks arrive.
          await again.apply(batch([chunksOp({ ...salmon, docSeq: 50 })]));
          expect(refs(await search(again, query({ mode: 'vector', vector: e(0), k: 1 })))).toEqual(['salmon/50:0']);
          await again.apply(batch(docOps({ source: 'blog', docId: 'late', docSeq: 60, chunks: [{ text: 'after reopening', vector: e(7) }] })));
          expect(refs(await search(again, query({ mode: 'vector', vector: e(7), k: 1 })))).toEqual(['late/60:0']);
        } finally {
          await again.close();
        }
      });
    });

    it('ranks hybrid like keyword search at vectorWeight 0 and like vector search at 1', async () => {
      await withStore(async ({ store }) => {
        await store.apply(batch(corpus()));
        const text = 'salmon grilling ownership tomatoes soil';
        const vector = vec(0.2, 0.5, 0.1, 0.9, 0.3, 0, 0.4, 0);
        for (const k of [1, 3, 10]) {
          const keyword = await search(store, query({ mode: 'keyword', text, k }));
          const vectorHits = await search(store, query({ mode: 'vector', vector, k }));
          expect(refs(await search(store, query({ mode: 'hybrid', text, vector, vectorWeight: 0, k })))).toEqual(refs(keyword));
          expect(refs(await search(store, query({ mode: 'hybrid', text, vector, vectorWeight: 1, k })))).toEqual(refs(vectorHits));
        }
        const mid = await search(store, query({ mode: 'hybrid', text, vector, vectorWeight: 0.5, k: 10 }));
        expect(mid.map((h) => h.score)).toEqual(mid.map((h) => h.score).sort((a, b) => b - a));
        expect(mid.every((h) => h.score >= 0 && h.score <= 1)).toBe(true);
      });
    });

    it('returns every match when k exceeds the corpus', async () => {
      await withStore(async ({ store }) => {
        await store.apply(batch(corpus()));
        expect(refs(await search(store, query({ mode: 'keyword', text: 'salmon', k: 500 }))).sort()).toEqual(['salmon/1:0', 'salmon/1:1']);
        const vector = await search(store, query({ mode: 'vector', vector: e(0), k: 500 }));
        expect(vector).toHaveLength(6);
        expect(new Set(refs(vector)).size).toBe(6);
        const hybrid = await search(store, query({ mode: 'hybrid', text: 'salmon', vector: e(0), k: 500, candidates: 1000 }));
        expect(refs(hybrid).sort()).toEqual(refs(vector).sort());
      });
    });

    it('breaks ties the same way whatever order the documents arrived in', async () => {
      // Boilerplate: the same text and vector in many documents, so scores tie exactly.
      const docs: DocSpec[] = Array.from({ length: 8 }, (_, i) => ({
        source: i % 2 ? 'blog' : 'docs',
        docId: `boiler-${i}`,
        docSeq: 100 + i,
        chunks: [{ text: 'Subscribe to our newsletter for weekly updates.', vector: e(3) }],
      }));
      await withStores(2, async ([a, b]) => {
        await (a as OpenedStore).store.apply(batch(docs.flatMap(docOps)));
        await (b as OpenedStore).store.apply(batch([...docs].reverse().flatMap(docOps)));
        for (const mode of MODES) {
          for (const k of [1, 3, 5]) {
            const q = query({ mode, text: 'newsletter', vector: e(3), k });
            const fromA = refs(await search((a as OpenedStore).store, q));
            expect(fromA).toHaveLength(k);
            expect({ mode, k, refs: refs(await search((b as OpenedStore).store, q)) }).toEqual({ mode, k, refs: fromA });
          }
        }
      });
    });

    it('scores a chunk with several windows by its best window', async () => {
      await withStore(async ({ store }) => {
        await store.apply(batch([chunksOp(rust)]));
        await store.apply(
          batch([
            {
              kind: 'vectors',
              tenant: 'acme',
              source: 'docs',
              docId: 'rust',
              docSeq: 2,
              model: CONFORMANCE_MODEL.id,
              vectors: [
                { chunkId: '2:0', window: 0, vector: e(0) },
                { chunkId: '2:0', window: 1, vector: e(1) },
                { chunkId: '2:1', window: 0, vector: vec(0, 0.6, 0.8) },
              ],
            },
          ]),
        );
        const hits = await search(store, query({ mode: 'vector', vector: e(1), k: 10 }));
        expect(refs(hits)).toEqual(['rust/2:0', 'rust/2:1']);
        expect(hits[0]?.score).toBeCloseTo(1, 5);
        expect(hits[1]?.score).toBeCloseTo(0.6, 5);
        expect(await store.document({ tenant: 'acme', source: 'docs', docId: 'rust' })).toMatchObject({ chunks: 2, vectors: 3 });
        const filtered = await search(store, query({ mode: 'vector', vector: e(1), k: 10, filter: { docId: ['rust'] } }));
        expect(filtered.map((h) => [h.chunkId, Math.round(h.score * 1000) / 1000])).toEqual([
          ['2:0', 1],
          ['2:1', 0.6],
        ]);
      });
    });
  });
}
