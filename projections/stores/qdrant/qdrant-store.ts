// The Qdrant inference store: one collection per generation, written idempotently in ordered batches with the checkpoint last.
import type { QdrantClient, Schemas } from '@qdrant/js-client-rest';
import { ConfigError, UnavailableError } from '../../../lib/errors.ts';
import type {
  Candidate,
  CandidateRequest,
  KeywordRequest,
  ChunkContent,
  DocumentRef,
  DocumentState,
  InferenceStore,
  StoreBatch,
  StoreStats,
} from '../../store.ts';
import { call, createQdrantClient, type QdrantConnection } from './client.ts';
import { digestBuilder } from './digest.ts';
import { documentFilter, kindFilter } from './filter.ts';
import { checkpointPayload, collectionConfig, DENSE, PAYLOAD_INDEXES, readCheckpoint, readDocument } from './layout.ts';
import { checkpointPointId, documentPointId, type Address } from './names.ts';
import { addressKey, planBatch, type UpdateOperation } from './plan.ts';
import { loadHeldMany, payloadOf, scrollPoints } from './read.ts';
import { QdrantRetriever } from './retrieve.ts';
import { validateBatch } from '../../validate-batch.ts';

export interface QdrantStoreOptions {
  readonly connection: QdrantConnection;
  /** The generation's collection (see names.ts). */
  readonly collection: string;
  readonly model: { readonly id: string; readonly dims: number };
  /** A client to share (tests, the factory); created from `connection` otherwise. */
  readonly client?: QdrantClient;
}

/** Points per write request: keeps request bodies to a few MB at 1,024-dimensional vectors. */
const POINTS_PER_REQUEST = 256;

/** Splits ordered operations into requests of bounded size, keeping their order (a long upsert is cut into several). */
export function requestsOf(operations: readonly UpdateOperation[], perRequest = POINTS_PER_REQUEST): UpdateOperation[][] {
  const requests: UpdateOperation[][] = [];
  let current: UpdateOperation[] = [];
  let size = 0;
  const flush = () => {
    if (current.length > 0) requests.push(current);
    current = [];
    size = 0;
  };
  for (const op of operations) {
    if ('upsert' in op && 'points' in op.upsert) {
      const points = op.upsert.points;
      for (let i = 0; i < points.length; ) {
        if (size >= perRequest) flush();
        const take = points.slice(i, i + (perRequest - size));
        current.push({ upsert: { points: take } });
        size += take.length;
        i += take.length;
      }
    } else {
      if (size >= perRequest) flush();
      current.push(op);
      size += 1;
    }
  }
  flush();
  return requests;
}

/** Creates the generation's collection and payload indexes when missing; checks an existing one holds the model's dimensions. */
async function ensureCollection(client: QdrantClient, collection: string, dims: number): Promise<void> {
  const { exists } = await call('collection check', () => client.collectionExists(collection));
  if (!exists) {
    try {
      await call('create collection', () => client.createCollection(collection, collectionConfig(dims)));
    } catch (err) {
      // Another process may have created it meanwhile; the dimension check below decides.
      const again = await call('collection check', () => client.collectionExists(collection));
      if (!again.exists) throw err;
    }
    for (const index of PAYLOAD_INDEXES) {
      await call('create payload index', () => client.createPayloadIndex(collection, { field_name: index.field, field_schema: index.schema, wait: true }));
    }
  }
  const info = await call('collection info', () => client.getCollection(collection));
  const vectors = info.config.params.vectors as Record<string, Schemas['VectorParams'] | undefined> | undefined;
  const size = vectors?.[DENSE]?.size;
  if (size !== dims) {
    throw new ConfigError(`Qdrant collection ${collection} holds ${size ?? 'no'} ${DENSE} vectors of this layout, the model needs ${dims}: use a new generation`);
  }
}

export class QdrantInferenceStore implements InferenceStore {
  private closed = false;
  private readonly retriever: QdrantRetriever;

  private constructor(
    private readonly client: QdrantClient,
    private readonly collection: string,
    readonly model: { readonly id: string; readonly dims: number },
  ) {
    this.retriever = new QdrantRetriever(client, collection);
  }

  static async open(options: QdrantStoreOptions): Promise<QdrantInferenceStore> {
    const client = options.client ?? createQdrantClient(options.connection);
    await ensureCollection(client, options.collection, options.model.dims);
    return new QdrantInferenceStore(client, options.collection, { id: options.model.id, dims: options.model.dims });
  }

  private open(): void {
    if (this.closed) throw new UnavailableError('the inference store is closed; open it again');
  }

  /**
   * No transactions: the batch is validated whole, its writes are planned against what is held and sent in order with
   * `wait: true`, and the checkpoints are written last. A batch that fails midway is replayed from the old checkpoint;
   * every write is an upsert by deterministic id or a delete, so the replay converges to the same content.
   */
  async apply(batch: StoreBatch): Promise<void> {
    this.open();
    validateBatch(batch, this.model);
    if (batch.ops.length > 0) {
      const addresses = new Map<string, Address>();
      for (const op of batch.ops) addresses.set(addressKey(op), { tenant: op.tenant, source: op.source, docId: op.docId });
      const held = await loadHeldMany(this.client, this.collection, [...addresses.values()]);
      for (const operations of requestsOf(planBatch(batch.ops, held))) {
        await call('write points', () => this.client.batchUpdate(this.collection, { operations, wait: true }));
      }
    }
    await this.writeCheckpoints(batch.checkpoints ?? {});
  }

  /** Checkpoints only move forward (a replayed older batch does not rewind them). */
  private async writeCheckpoints(checkpoints: Readonly<Record<string, number>>): Promise<void> {
    const keys = Object.keys(checkpoints);
    if (keys.length === 0) return;
    const held = await this.checkpoints();
    const points = keys.flatMap((key) => {
      const seq = checkpoints[key] as number;
      const current = held[key];
      return current !== undefined && current >= seq ? [] : [{ id: checkpointPointId(key), vector: {}, payload: checkpointPayload(key, seq) }];
    });
    if (points.length > 0) await call('write checkpoints', () => this.client.upsert(this.collection, { points, wait: true }));
  }

  async checkpoints(): Promise<Record<string, number>> {
    this.open();
    const out: Record<string, number> = {};
    for await (const points of scrollPoints(this.client, this.collection, { filter: kindFilter('checkpoint'), withPayload: true })) {
      for (const point of points) {
        const { key, seq } = readCheckpoint(payloadOf(point));
        out[key] = seq;
      }
    }
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  async digest(): Promise<string> {
    this.open();
    return (await digestBuilder(this.client, this.collection)).digest();
  }

  /** Per-document content hashes (projections/digest.ts), for `spanda verify` to name what differs. */
  async documentHashes(): Promise<Record<string, string>> {
    this.open();
    return Object.fromEntries((await digestBuilder(this.client, this.collection)).entries());
  }

  keywordCandidates(request: KeywordRequest): Promise<Candidate[]> {
    this.open();
    return this.retriever.keywordCandidates(request);
  }

  vectorCandidates(request: CandidateRequest & { readonly vector: Float32Array }): Promise<Candidate[]> {
    this.open();
    return this.retriever.vectorCandidates(request);
  }

  hydrate(tenant: string, keys: readonly string[]): Promise<ChunkContent[]> {
    this.open();
    return this.retriever.hydrate(tenant, keys);
  }

  private async count(filter: Schemas['Filter']): Promise<number> {
    return (await call('count', () => this.client.count(this.collection, { filter, exact: true }))).count;
  }

  async document(ref: DocumentRef): Promise<DocumentState | undefined> {
    this.open();
    const [point] = await call('read document', () => this.client.retrieve(this.collection, { ids: [documentPointId(ref)], with_payload: true }));
    if (!point) return undefined;
    const d = readDocument(payloadOf(point));
    const [chunks, vectors] = await Promise.all([this.count(documentFilter(ref, ['chunk'])), this.count(documentFilter(ref, ['vector']))]);
    return { tenant: ref.tenant, source: ref.source, docId: ref.docId, docSeq: d.docSeq, deleted: d.deleted, chunks, vectors };
  }

  async stats(): Promise<StoreStats> {
    this.open();
    const live = kindFilter('document', [{ key: 'deleted', match: { value: false } }]);
    const [documents, tombstones, chunks, vectors] = await Promise.all([
      this.count(live),
      this.count(kindFilter('document', [{ key: 'deleted', match: { value: true } }])),
      this.count(kindFilter('chunk')),
      this.count(kindFilter('vector')),
    ]);
    // Tenants with a live document: a facet over the tenant index, at most one hit per live document.
    const tenants =
      documents === 0
        ? 0
        : (await call('count tenants', () => this.client.facet(this.collection, { key: 'tenant', filter: live, limit: documents, exact: true }))).hits.length;
    return { documents, tombstones, chunks, vectors, tenants };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
