// The inference store contract every adapter (sqlite, weaviate, qdrant) implements; one conformance suite checks them all.
import { ConfigError } from '../lib/errors.ts';
import type { Metadata, Part, SearchMode } from '../streams/events/index.ts';

export interface DocumentRef {
  readonly tenant: string;
  readonly source: string;
  readonly docId: string;
}

export interface ChunkInput {
  readonly chunkId: string;
  readonly ordinal: number;
  readonly text: string;
  readonly start: number;
  readonly end: number;
  readonly tokens: number;
  readonly heading?: string;
}

export interface VectorInput {
  readonly chunkId: string;
  /** Window index within the chunk; a chunk may have several vectors (search takes the best window). */
  readonly window: number;
  readonly vector: Float32Array;
}

/**
 * One change to apply. Every op carries the document version (`docSeq`, the DOCUMENTS sequence) and the store guards:
 * - `chunks` with a newer docSeq replaces the document (old chunks and their vectors go); the same docSeq adds chunks
 *   idempotently by chunkId (a version split into parts); an older docSeq, or one at or below a tombstone, is ignored.
 * - `remove` with a newer docSeq deletes chunks and vectors and leaves a tombstone at docSeq; older is ignored.
 * - `vectors` attach to chunks of the same docSeq, upserted by (chunkId, window). Vectors of a docSeq newer than the
 *   chunks held are kept until those chunks arrive; vectors of an older docSeq are ignored.
 */
export type StoreOp =
  | (DocumentRef & {
      readonly kind: 'chunks';
      readonly docSeq: number;
      readonly title?: string;
      readonly url?: string;
      readonly metadata: Metadata;
      readonly part: Part;
      readonly totalChunks: number;
      readonly chunks: readonly ChunkInput[];
    })
  | (DocumentRef & {
      readonly kind: 'vectors';
      readonly docSeq: number;
      readonly model: string;
      readonly vectors: readonly VectorInput[];
    })
  | (DocumentRef & { readonly kind: 'remove'; readonly docSeq: number });

/** Ops plus the log positions they bring the store to; a store commits both atomically (or checkpoints after an idempotent write). */
export interface StoreBatch<Op = StoreOp> {
  readonly ops: readonly Op[];
  /** Checkpoint key (e.g. "CHUNKS", "EMBEDDINGS:use-lite-512") → last stream sequence applied. */
  readonly checkpoints: Readonly<Record<string, number>>;
}

export type FilterValue = string | number | boolean;

/** Equality filters, ANDed. A metadata key matches when the value equals it, or when the stored value is an array containing it; an array of values means any of them. */
export interface SearchFilter {
  readonly source?: readonly string[];
  readonly docId?: readonly string[];
  readonly metadata?: Readonly<Record<string, FilterValue | readonly FilterValue[]>>;
}

export interface SearchQuery {
  readonly tenant: string;
  readonly mode: SearchMode;
  readonly k: number;
  /** Query text for keyword search (and shown in logs). */
  readonly text: string;
  /** Query vector of the active model; required for vector and hybrid modes. */
  readonly vector?: Float32Array;
  readonly filter?: SearchFilter;
  /** Weight of the vector side in hybrid fusion (0..1), from the active model's profile. */
  readonly vectorWeight: number;
  /** Candidates taken from each side before fusion (default max(50, 5k)). */
  readonly candidates?: number;
}

/** What a retriever is asked for on one side: the best `limit` chunks of the tenant that pass the filter. */
export interface CandidateRequest {
  readonly tenant: string;
  readonly limit: number;
  readonly filter?: SearchFilter;
}

/** Keyword query expansion: none, or RM3 pseudo-relevance feedback (projections/stores/sqlite/expansion.ts). */
export const KEYWORD_EXPANSIONS = ['none', 'rm3'] as const;
export type KeywordExpansion = (typeof KEYWORD_EXPANSIONS)[number];

/** Store kinds that implement keyword expansion; the others rank keywords remotely and refuse it (refuseExpansion). */
export const STORES_WITH_EXPANSION: readonly string[] = ['sqlite'];

/** For stores that rank keywords remotely and cannot expand a query: refuses a request for expansion, naming the fix. */
export function refuseExpansion(store: string, request: KeywordRequest): void {
  if (request.expansion !== undefined && request.expansion !== 'none') {
    throw new ConfigError(
      `keyword expansion '${request.expansion}' is implemented by the sqlite store only, not ${store}: unset SPANDA_KEYWORD_EXPANSION or serve from SPANDA_STORE=sqlite`,
    );
  }
}

/** The keyword side's request: the query text, optionally expanded by the store before ranking. */
export interface KeywordRequest extends CandidateRequest {
  readonly text: string;
  /** 'rm3': the store ranks once, adds the best hits' terms to the query and ranks again (stores without it refuse). */
  readonly expansion?: KeywordExpansion;
}

/**
 * One chunk found by one side. `key` is content-based (see chunkKey) so fusion breaks ties the same way in every store
 * and after every rebuild; `score` is that side's raw score (BM25-like for keyword, cosine of the best window for vector).
 */
export interface Candidate {
  readonly key: string;
  readonly score: number;
}

/** The stored content of a chunk, for building hits. */
export interface ChunkContent extends DocumentRef {
  readonly chunkId: string;
  readonly docSeq: number;
  readonly ordinal: number;
  readonly title?: string;
  readonly url?: string;
  readonly heading?: string;
  readonly text: string;
  readonly metadata: Metadata;
}

export interface SearchHit extends ChunkContent {
  /** Final score (higher is better): cosine for vector, BM25 for keyword, fused for hybrid. */
  readonly score: number;
  readonly scores: { readonly vector?: number; readonly keyword?: number };
}

/** The identity of a chunk within a tenant, used as the candidate key by every store. */
export function chunkKey(source: string, docId: string, chunkId: string): string {
  return `${source}\u0000${docId}\u0000${chunkId}`;
}

export interface DocumentState extends DocumentRef {
  readonly docSeq: number;
  readonly deleted: boolean;
  readonly chunks: number;
  readonly vectors: number;
}

export interface StoreStats {
  readonly documents: number;
  readonly tombstones: number;
  readonly chunks: number;
  readonly vectors: number;
  readonly tenants: number;
  /** Present while the store still loads its keyword index after open (SQLite): chunks loaded so far. It answers meanwhile. */
  readonly keywordIndexLoading?: { readonly chunks: number };
}

/** A store's checkpoints with its digest and per-document hashes (documentKey → hash), read consistently. */
export interface StoreSnapshot {
  readonly checkpoints: Record<string, number>;
  readonly digest: string;
  readonly documents: Record<string, string>;
}

/** What every projection store does, whatever it serves: apply batches under the docSeq guard with their checkpoints. */
export interface ProjectionStore<Op = StoreOp> {
  /** Ops and checkpoints commit atomically, or (stores without transactions) idempotently with the checkpoint written last. */
  apply(batch: StoreBatch<Op>): Promise<void>;
  checkpoints(): Promise<Record<string, number>>;
  /** The canonical content digest (projections/digest.ts): equal content ⇔ equal digest, whatever the store kind. */
  digest(): Promise<string>;
  close(): Promise<void>;
  /**
   * The directory a local store keeps its files in: after a batch failed for want of space (lib/errors.ts isDiskFull),
   * the projector retries as soon as that disk has room again rather than at the end of its backoff.
   */
  readonly storageDir?: string;
}

/**
 * The search side of a store. Each side returns its best `limit` candidates (ties at the cut may add a few); fusion,
 * ranking and hit building run once above it, in projections/search.ts, for every store. Filters are validated there
 * (projections/filter.ts) before a retriever sees them.
 */
export interface Retriever {
  /** The embedding model whose vectors this store holds (one model per store generation). */
  readonly model: { readonly id: string; readonly dims: number };
  keywordCandidates(request: KeywordRequest): Promise<Candidate[]>;
  /** `vector` has the model's dimensions and unit length. A chunk with several windows scores its best window. */
  vectorCandidates(request: CandidateRequest & { readonly vector: Float32Array }): Promise<Candidate[]>;
  /** The content of the chunks named by candidate keys (missing keys, e.g. deleted meanwhile, are left out). */
  hydrate(tenant: string, keys: readonly string[]): Promise<ChunkContent[]>;
  /**
   * The whole of projections/search.ts's search() run next to the data, in one round trip, with the same results: a
   * store in a worker thread answers there instead of making three calls across the thread boundary per query.
   */
  search?(query: SearchQuery, options: SearchOptions): Promise<SearchHit[]>;
}

/** How projections/search.ts ranks (the node's settings; inference/settings.ts). */
export interface SearchOptions {
  /**
   * Rank documents, not chunks: each side's chunk candidates collapse to the best chunk per document before fusion, so a
   * document's keyword and vector evidence meet even when they come from different chunks, and k hits are k documents.
   */
  readonly perDocument?: boolean;
  /**
   * Documents (per-document hybrid only) each side reads before fusion; default max(100, 10k). Every keyword candidate
   * document is also scored on the vector side (a second vector call restricted to those documents), so fusion weighs
   * both scores of every candidate instead of a 0 for "not in the vector side's top list".
   */
  readonly documentCandidates?: number;
  /** Keyword query expansion (default none); 'rm3' measured on SciFact in BENCHMARKS.md. */
  readonly keywordExpansion?: KeywordExpansion;
}

/** The inference (serving) store: a projection store with a retriever and per-document state. */
export interface InferenceStore extends ProjectionStore, Retriever {
  document(ref: DocumentRef): Promise<DocumentState | undefined>;
  stats(): Promise<StoreStats>;
  /** Checkpoints, digest and per-document hashes in one consistent read, where a store can give them (SQLite). */
  snapshot?(): Promise<StoreSnapshot>;
  /**
   * Finishes what the store derives in memory after open (the SQLite store's keyword index loads between requests, and
   * a keyword query meanwhile waits for the rest), so a generation is swapped in only once it answers at full speed.
   */
  warmUp?(): Promise<void>;
}
