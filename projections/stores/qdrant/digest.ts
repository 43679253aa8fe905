// The canonical digest of a Qdrant generation: documents page by page, each with its chunks and attached vectors (pending ones are not content).
import type { QdrantClient, Schemas } from '@qdrant/js-client-rest';
import { DigestBuilder, documentKey, type DigestDocument } from '../../digest.ts';
import { kindFilter } from './filter.ts';
import { DENSE, readChunk, readDocument, readVector, type ChunkRecord, type DocumentRecord } from './layout.ts';
import { payloadOf, scrollPoints } from './read.ts';

/** Documents per round: their chunks and vectors are read with one filtered scroll. */
const DOCUMENTS_PER_PAGE = 128;

/** The stored dense vector as sent: Qdrant keeps cosine vectors unit-length, the payload keeps the original norm. */
function originalVector(vector: unknown, norm: number): Float32Array | undefined {
  const dense = vector !== null && typeof vector === 'object' && !Array.isArray(vector) ? (vector as Record<string, unknown>)[DENSE] : undefined;
  if (!Array.isArray(dense)) return undefined;
  const out = new Float32Array(dense.length);
  let stored = 0;
  for (const x of dense) stored += (x as number) * (x as number);
  // A zero vector is stored as it came; anything else comes back unit-length and is scaled back to its norm.
  const scale = stored === 0 ? 0 : norm / Math.sqrt(stored);
  dense.forEach((x, i) => (out[i] = (x as number) * scale));
  return out;
}

function addressCondition(d: DocumentRecord): Schemas['Condition'] {
  return {
    must: [
      { key: 'tenant', match: { value: d.tenant } },
      { key: 'source', match: { value: d.source } },
      { key: 'docId', match: { value: d.docId } },
    ],
  };
}

async function addPage(client: QdrantClient, collection: string, docs: readonly DocumentRecord[], builder: DigestBuilder): Promise<void> {
  const content = new Map<string, { chunks: ChunkRecord[]; vectors: DigestDocument['vectors'][number][] }>();
  for (const d of docs) content.set(documentKey(d), { chunks: [], vectors: [] });
  const live = docs.filter((d) => !d.deleted);
  if (live.length > 0) {
    const filter: Schemas['Filter'] = { must: [{ key: 'kind', match: { any: ['chunk', 'vector'] } }], should: live.map(addressCondition) };
    for await (const points of scrollPoints(client, collection, { filter, withPayload: true, withVector: [DENSE] })) {
      for (const point of points) {
        const p = payloadOf(point);
        if (p.kind === 'chunk') {
          const c = readChunk(p);
          content.get(documentKey(c))?.chunks.push(c);
        } else if (p.kind === 'vector') {
          const v = readVector(p);
          const vector = originalVector(point.vector, v.norm);
          if (vector) content.get(documentKey(v))?.vectors.push({ chunkId: v.chunkId, window: v.window, vector });
        }
      }
    }
  }
  for (const d of docs) {
    const held = content.get(documentKey(d)) ?? { chunks: [], vectors: [] };
    builder.add({
      tenant: d.tenant,
      source: d.source,
      docId: d.docId,
      docSeq: d.docSeq,
      deleted: d.deleted,
      title: d.title,
      url: d.url,
      metadata: d.metadata,
      totalChunks: d.totalChunks,
      chunks: held.chunks.map((c) => ({
        chunkId: c.chunkId,
        ordinal: c.ordinal,
        text: c.text,
        start: c.start,
        end: c.end,
        tokens: c.tokens,
        heading: c.heading,
      })),
      vectors: held.vectors,
    });
  }
}

/** Every document of the generation folded into a DigestBuilder (projections/digest.ts). */
export async function digestBuilder(client: QdrantClient, collection: string): Promise<DigestBuilder> {
  const builder = new DigestBuilder();
  const pages = scrollPoints(client, collection, { filter: kindFilter('document'), withPayload: true, pageSize: DOCUMENTS_PER_PAGE });
  for await (const points of pages) await addPage(client, collection, points.map((point) => readDocument(payloadOf(point))), builder);
  return builder;
}
