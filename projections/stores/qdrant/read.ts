// Reading a generation back: paging through points by filter, and loading what the guard needs to know about each document.
import type { QdrantClient, Schemas } from '@qdrant/js-client-rest';
import { call } from './client.ts';
import { documentFilter } from './filter.ts';
import { readDocument, readPending } from './layout.ts';
import type { Address } from './names.ts';
import { addressKey, emptyHeld, pendingKey, type HeldDocument } from './plan.ts';

export type Point = Schemas['Record'];
type Payload = Record<string, unknown>;

export const SCROLL_PAGE = 512;

export const payloadOf = (point: { payload?: unknown }): Payload =>
  point.payload !== null && typeof point.payload === 'object' ? (point.payload as Payload) : {};

/** Every point matching `filter`, page by page (Qdrant's scroll with next_page_offset). */
export async function* scrollPoints(
  client: QdrantClient,
  collection: string,
  request: { filter: Schemas['Filter']; withPayload: Schemas['WithPayloadInterface']; withVector?: Schemas['WithVector']; pageSize?: number },
): AsyncGenerator<Point[]> {
  let offset: Schemas['ExtendedPointId'] | undefined;
  for (;;) {
    const page = await call('scroll', () =>
      client.scroll(collection, {
        filter: request.filter,
        limit: request.pageSize ?? SCROLL_PAGE,
        with_payload: request.withPayload,
        with_vector: request.withVector ?? false,
        ...(offset !== undefined ? { offset } : {}),
      }),
    );
    if (page.points.length > 0) yield page.points;
    const next = page.next_page_offset;
    if (next === undefined || next === null || (typeof next !== 'string' && typeof next !== 'number')) return;
    offset = next;
  }
}

const HELD_FIELDS = ['kind', 'tenant', 'source', 'docId', 'docSeq', 'deleted', 'meta', 'chunkId', 'window', 'vector'];

/** The document record, chunk ids and pending vectors of one address. */
export async function loadHeld(client: QdrantClient, collection: string, address: Address): Promise<HeldDocument> {
  const held = emptyHeld();
  const filter = documentFilter(address, ['document', 'chunk', 'pending']);
  for await (const points of scrollPoints(client, collection, { filter, withPayload: HELD_FIELDS })) {
    for (const point of points) {
      const p = payloadOf(point);
      if (p.kind === 'document') {
        const d = readDocument(p);
        held.record = { docSeq: d.docSeq, deleted: d.deleted, metadata: d.metadata };
      } else if (p.kind === 'chunk' && typeof p.chunkId === 'string') {
        held.chunks.add(p.chunkId);
      } else if (p.kind === 'pending') {
        const pending = readPending(p);
        held.pending.set(pendingKey(pending.docSeq, pending.chunkId, pending.window), pending);
      }
    }
  }
  return held;
}

/** Loads the held state of many addresses, a few at a time. */
export async function loadHeldMany(client: QdrantClient, collection: string, addresses: readonly Address[], concurrency = 4): Promise<Map<string, HeldDocument>> {
  const out = new Map<string, HeldDocument>();
  let next = 0;
  const worker = async () => {
    while (next < addresses.length) {
      const address = addresses[next++] as Address;
      out.set(addressKey(address), await loadHeld(client, collection, address));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, addresses.length) }, worker));
  return out;
}
