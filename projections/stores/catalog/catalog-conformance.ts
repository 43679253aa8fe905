// The shared conformance suite every CatalogStore kind runs: the same ops as the SQLite catalog give the same digest, lineage and checkpoints.
import { describe, expect, it } from 'vitest';
import { catalogDigest, factIdentity, factOf, type CatalogFact, type CatalogStore } from '../../catalog.ts';
import type { CatalogOp } from '../../indexing.ts';
import type { DocumentRef, StoreBatch } from '../../store.ts';
import { SqliteCatalogStore } from './catalog-store.ts';

export interface OpenedCatalog {
  readonly store: CatalogStore;
  /** Opens the same generation again (after the suite closed `store`); omit when the kind has no persistence. */
  readonly reopen?: () => Promise<CatalogStore>;
  /** Releases what open created (files, collections); the store may already be closed. */
  readonly cleanup: () => Promise<void>;
}

const A: DocumentRef = { tenant: 'acme', source: 'web', docId: 'a' };
/** Same source and id as A in another tenant: must never leak into A's lineage. */
const A_OTHER_TENANT: DocumentRef = { tenant: 'other', source: 'web', docId: 'a' };
/** An id with spaces around it, a slash and a non-ASCII letter; a source with a space. */
const ODD: DocumentRef = { tenant: 'acme', source: 'rss feed', docId: '  spaced id/ü  ' };
const ODD_TRIMMED: DocumentRef = { tenant: 'acme', source: 'rss feed', docId: 'spaced id/ü' };
export const CONFORMANCE_REFS = [A, A_OTHER_TENANT, ODD, ODD_TRIMMED] as const;

const at = (s: number) => `2026-12-01T00:00:${String(s % 60).padStart(2, '0')}.000Z`;
const published = (ref: DocumentRef, seq: number, extra: { deleted?: boolean; title?: string } = {}): CatalogOp => ({
  kind: 'published',
  ...ref,
  docSeq: seq,
  seq,
  at: at(seq),
  deleted: extra.deleted ?? false,
  ...(extra.deleted ? {} : { contentHash: `sha256:${seq}` }),
  ...(extra.title !== undefined ? { title: extra.title } : {}),
});
const chunked = (ref: DocumentRef, docSeq: number, seq: number, part: number, parts: number, ids: readonly string[], total: number): CatalogOp => ({
  kind: 'chunked',
  ...ref,
  docSeq,
  seq,
  at: at(seq),
  chunker: 'markdown@2:800:120',
  part,
  parts,
  totalChunks: total,
  chunkIds: ids,
});
const embedded = (ref: DocumentRef, docSeq: number, seq: number, part: number, parts: number, vectors: number, model = 'hash-256'): CatalogOp => ({
  kind: 'embedded',
  ...ref,
  docSeq,
  seq,
  at: at(seq),
  model,
  part,
  parts,
  vectors,
});
const removed = (ref: DocumentRef, docSeq: number, seq: number, by: string): CatalogOp => ({ kind: 'removed', ...ref, docSeq, seq, at: at(seq), by });
const erased = (ref: DocumentRef, docSeq: number, seq: number): CatalogOp => ({ kind: 'erased', ...ref, docSeq, seq, at: at(seq) });

/**
 * After CONFORMANCE_BATCHES, `spanda erase` of A (deleted at 6): the erasure, a stage event of an erased version read
 * late (another slice behind), a new version after the deletion, and a look-alike in another tenant left alone.
 */
export const ERASURE_BATCHES: readonly StoreBatch<CatalogOp>[] = [
  {
    ops: [erased(A, 6, 1), embedded(A, 5, 25, 0, 1, 1, 'hash-128')],
    checkpoints: { ERASURES: 1, EMBEDDINGS: 25 },
  },
  {
    ops: [published(A, 8, { title: 'Alpha again' }), chunked(A, 1, 17, 0, 1, ['1:x:9'], 1), chunked(A, 8, 18, 0, 1, ['8:x:0'], 1)],
    checkpoints: { DOCUMENTS: 8, CHUNKS: 18 },
  },
];

/**
 * Four batches as a projector delivers them from three streams, with what makes a catalog hard: stages ahead of their
 * document (embedded before chunked, a later part before an earlier one), multi-part chunked and embedded facts, a
 * redelivered stage event (a new stream sequence for the same fact identity: the later one wins), deletes with removal
 * acknowledgements, and look-alike documents in another tenant or differing only in surrounding spaces.
 */
export const CONFORMANCE_BATCHES: readonly StoreBatch<CatalogOp>[] = [
  {
    ops: [
      published(A, 1, { title: 'Alpha' }),
      embedded(A, 1, 20, 1, 2, 3), // embeddings of v1 ahead of its chunks
      chunked(A, 1, 11, 1, 2, ['1:x:3', '1:x:4'], 5), // part 1 before part 0
      published(A_OTHER_TENANT, 2, { title: 'Other' }),
    ],
    checkpoints: { DOCUMENTS: 2, CHUNKS: 11, EMBEDDINGS: 20 },
  },
  {
    ops: [
      chunked(A, 1, 10, 0, 2, ['1:x:0', '1:x:1', '1:x:2'], 5),
      embedded(A, 1, 21, 0, 2, 2),
      embedded(A, 1, 22, 0, 1, 5, 'hash-128'),
      published(ODD, 3),
      chunked(ODD, 3, 12, 0, 3, ['3:y:0'], 3), // 1 of 3 parts: incomplete
      published(ODD_TRIMMED, 4, { title: 'Trimmed' }),
    ],
    checkpoints: { DOCUMENTS: 4, CHUNKS: 12, EMBEDDINGS: 22 },
  },
  {
    ops: [
      published(A, 5, { title: 'Alpha v2' }),
      chunked(A, 5, 13, 0, 1, ['5:x:0'], 1),
      chunked(A, 5, 14, 0, 1, ['5:x:0'], 1), // redelivered with a new sequence: same identity, the later write wins
      embedded(A, 5, 23, 0, 1, 1),
      chunked(A_OTHER_TENANT, 2, 15, 0, 1, ['2:x:0'], 1),
    ],
    checkpoints: { DOCUMENTS: 5, CHUNKS: 15, EMBEDDINGS: 23 },
  },
  {
    ops: [published(A, 6, { deleted: true }), removed(A, 6, 24, 'spanda/embedder/hash-256'), removed(A, 6, 16, 'spanda/chunker'), published(ODD, 7, { deleted: true })],
    checkpoints: { DOCUMENTS: 7, CHUNKS: 16, EMBEDDINGS: 24 },
  },
];

const lastCheckpoints = CONFORMANCE_BATCHES[CONFORMANCE_BATCHES.length - 1]?.checkpoints ?? {};

/** The digest the log's facts give: one fact per identity, the last written, none below its document's erasure. */
export function expectedDigest(batches: readonly StoreBatch<CatalogOp>[]): string {
  const facts = new Map<string, CatalogFact>();
  for (const batch of batches) for (const op of batch.ops) facts.set(factIdentity(factOf(op)), factOf(op));
  const marks = new Map<string, number>();
  for (const f of facts.values()) if (f[0] === 'erased') marks.set(JSON.stringify(f.slice(1, 4)), Math.max(marks.get(JSON.stringify(f.slice(1, 4))) ?? 0, f[4]));
  return catalogDigest([...facts.values()].filter((f) => f[0] === 'erased' || f[4] >= (marks.get(JSON.stringify(f.slice(1, 4))) ?? 0)));
}

async function applyAll(store: CatalogStore, batches: readonly StoreBatch<CatalogOp>[]): Promise<void> {
  for (const batch of batches) await store.apply(batch);
}

async function lineages(store: CatalogStore): Promise<unknown[]> {
  return Promise.all([...CONFORMANCE_REFS, { tenant: 'acme', source: 'web', docId: 'never' }].map((ref) => store.lineage(ref)));
}

/** Runs the suite against `open`, comparing with a SQLite catalog in memory fed the same batches. */
export function describeCatalogStoreConformance(name: string, open: () => Promise<OpenedCatalog>): void {
  const withStores = async (fn: (opened: OpenedCatalog, reference: CatalogStore) => Promise<void>) => {
    const opened = await open();
    const reference = new SqliteCatalogStore(':memory:');
    try {
      await fn(opened, reference);
    } finally {
      await reference.close();
      await opened.store.close().catch(() => undefined);
      await opened.cleanup();
    }
  };

  describe(`catalog store conformance: ${name}`, () => {
    it('starts empty: no checkpoints, the empty digest, no lineage', async () => {
      await withStores(async ({ store }) => {
        expect(await store.checkpoints()).toEqual({});
        expect(await store.digest()).toBe(catalogDigest([]));
        expect(await store.snapshot()).toEqual({ checkpoints: {}, digest: catalogDigest([]) });
        expect(await store.lineage(A)).toBeUndefined();
      });
    });

    it('holds what the SQLite catalog holds: equal digest, equal lineage of every document, the log digest', async () => {
      await withStores(async ({ store }, reference) => {
        await applyAll(store, CONFORMANCE_BATCHES);
        await applyAll(reference, CONFORMANCE_BATCHES);
        expect(await store.digest()).toBe(expectedDigest(CONFORMANCE_BATCHES));
        expect(await store.digest()).toBe(await reference.digest());
        expect(await lineages(store)).toEqual(await lineages(reference));
        expect(await store.checkpoints()).toEqual(lastCheckpoints);

        const a = await store.lineage(A);
        expect(a?.versions.map((v) => [v.seq, v.deleted, v.title ?? null])).toEqual([
          [1, false, 'Alpha'],
          [5, false, 'Alpha v2'],
          [6, true, null],
        ]);
        const v1 = a?.versions[0];
        // Parts arrived out of order; the lineage puts their chunk ids in part order.
        expect(v1?.chunked).toEqual([
          { chunker: 'markdown@2:800:120', at: at(11), streamSeq: 11, totalChunks: 5, chunkIds: ['1:x:0', '1:x:1', '1:x:2', '1:x:3', '1:x:4'], complete: true },
        ]);
        expect(v1?.embedded.map((e) => [e.model, e.vectors, e.complete])).toEqual([
          ['hash-128', 5, true],
          ['hash-256', 5, true],
        ]);
        expect(a?.versions[1]?.chunked[0]?.streamSeq).toBe(14); // the redelivery replaced the first write
        expect(a?.versions[2]?.removedBy.map((r) => r.by)).toEqual(['spanda/chunker', 'spanda/embedder/hash-256']);
        expect((await store.lineage(A_OTHER_TENANT))?.versions.map((v) => v.seq)).toEqual([2]);
        const odd = await store.lineage(ODD);
        expect(odd?.versions.map((v) => [v.seq, v.deleted])).toEqual([
          [3, false],
          [7, true],
        ]);
        expect(odd?.versions[0]?.chunked[0]?.complete).toBe(false);
        expect((await store.lineage(ODD_TRIMMED))?.versions.map((v) => v.seq)).toEqual([4]);
      });
    });

    it('tells a page of versions: the newest `limit` before `before`, with the count and the newest whatever the page', async () => {
      await withStores(async ({ store }, reference) => {
        await applyAll(store, CONFORMANCE_BATCHES);
        await applyAll(reference, CONFORMANCE_BATCHES);
        const whole = await store.lineage(A);
        expect(whole).toMatchObject({ versionCount: 3, latest: { seq: 6, deleted: true } });
        const pages = [{ limit: 2 }, { limit: 2, before: 5 }, { before: 6 }, { limit: 1, before: 1 }, { limit: 10 }];
        for (const page of pages) {
          const told = await store.lineage(A, page);
          expect(told, JSON.stringify(page)).toEqual(await reference.lineage(A, page));
          // The page is a slice of the whole story, not a story of its own.
          const expected = whole?.versions.filter((v) => page.before === undefined || v.seq < page.before).slice(-(page.limit ?? 100)) ?? [];
          expect(told, JSON.stringify(page)).toEqual({ ...whole, versions: expected });
        }
        expect(await store.lineage({ ...A, docId: 'never' }, { limit: 2 })).toBeUndefined();
      });
    });

    it('is idempotent under replay: every batch again, in reverse, and one at a time, changes nothing', async () => {
      await withStores(async ({ store }, reference) => {
        await applyAll(store, CONFORMANCE_BATCHES);
        const digest = await store.digest();
        const before = await lineages(store);
        await applyAll(store, CONFORMANCE_BATCHES);
        await applyAll(store, [...CONFORMANCE_BATCHES].reverse()); // batches out of order (each keeps its own op order)
        // A replay from an old checkpoint: the batches after it again, each op its own batch.
        for (const batch of CONFORMANCE_BATCHES.slice(1)) for (const op of batch.ops) await store.apply({ ops: [op], checkpoints: {} });
        expect(await store.digest()).toBe(digest);
        expect(await lineages(store)).toEqual(before);
        expect(await store.checkpoints()).toEqual(lastCheckpoints);
        await applyAll(reference, CONFORMANCE_BATCHES);
        expect(digest).toBe(await reference.digest());
      });
    });

    it("forgets an erased document's earlier versions, and facts of them that arrive later, whatever the order", async () => {
      await withStores(async (opened, reference) => {
        const { store } = opened;
        const all = [...CONFORMANCE_BATCHES, ...ERASURE_BATCHES];
        await applyAll(store, all);
        const a = await store.lineage(A);
        // The deletion the erasure keeps, and the version published after it; the late facts of v1 and v5 are dropped.
        expect(a?.versions.map((v) => [v.seq, v.deleted, v.title ?? null])).toEqual([
          [6, true, null],
          [8, false, 'Alpha again'],
        ]);
        expect(a?.versionCount).toBe(2);
        expect(a?.erasures).toEqual([{ before: 6, at: at(1), streamSeq: 1 }]);
        const page = await store.lineage(A, { limit: 1 });
        expect(page?.versions.map((v) => v.seq)).toEqual([8]);
        expect(page?.erasures).toEqual(a?.erasures);
        expect((await store.lineage(A_OTHER_TENANT))?.erasures).toEqual([]);
        expect((await store.lineage(A_OTHER_TENANT))?.versions.map((v) => v.seq)).toEqual([2]);
        const digest = await store.digest();
        expect(digest).toBe(expectedDigest(all));
        // A replay folds one slice after another: the erasure first, then every other event, gives the same.
        const erasureFirst = [{ ops: all.flatMap((b) => b.ops).filter((op) => op.kind === 'erased'), checkpoints: {} }, ...all];
        await applyAll(reference, erasureFirst);
        expect(await reference.digest()).toBe(digest);
        expect(await lineages(reference)).toEqual(await lineages(store));
        // The erasure holds across reopen: a late fact of an erased version is still dropped.
        if (!opened.reopen) return;
        await store.close();
        const again = await opened.reopen();
        try {
          await again.apply({ ops: [embedded(A, 1, 26, 0, 1, 1, 'hash-512')], checkpoints: {} });
          expect(await again.digest()).toBe(digest);
        } finally {
          await again.close();
        }
      });
    });

    it('moves checkpoints forward only, after the batch, and snapshots them with the digest', async () => {
      await withStores(async ({ store }, reference) => {
        const [first, second] = CONFORMANCE_BATCHES;
        if (!first || !second) throw new Error('fixture');
        await store.apply(first);
        await reference.apply(first);
        expect(await store.snapshot()).toEqual(await reference.snapshot());
        await store.apply(second);
        // An older position (a replay of the first batch) never moves a checkpoint back.
        await store.apply(first);
        expect(await store.checkpoints()).toEqual(second.checkpoints);
        // A checkpoint-only batch (events the projection ignores) moves them.
        await store.apply({ ops: [], checkpoints: { ...second.checkpoints, DOCUMENTS: 40 } });
        await store.apply({ ops: [], checkpoints: {} });
        await reference.apply(second);
        await reference.apply({ ops: [], checkpoints: { ...second.checkpoints, DOCUMENTS: 40 } });
        const snapshot = await store.snapshot();
        expect(snapshot).toEqual({ checkpoints: { ...second.checkpoints, DOCUMENTS: 40 }, digest: expectedDigest([first, second]) });
        expect(snapshot).toEqual(await reference.snapshot());
      });
    });

    it('keeps its facts and checkpoints across reopen', async () => {
      await withStores(async (opened) => {
        if (!opened.reopen) return;
        await applyAll(opened.store, CONFORMANCE_BATCHES);
        const digest = await opened.store.digest();
        const before = await lineages(opened.store);
        await opened.store.close();
        const again = await opened.reopen();
        try {
          expect(await again.snapshot()).toEqual({ checkpoints: lastCheckpoints, digest });
          expect(await lineages(again)).toEqual(before);
        } finally {
          await again.close();
        }
      });
    });

    it('refuses calls after close', async () => {
      await withStores(async ({ store }) => {
        await store.close();
        await expect(store.digest()).rejects.toThrow(/closed/);
        await expect(store.apply({ ops: [], checkpoints: { DOCUMENTS: 1 } })).rejects.toThrow(/closed/);
      });
    });
  });
}
