// Reading and writing groups of objects through the client: paged filtered reads, a tenant scan, batched upserts and deletes.
import { Filters, type Collection, type FilterValue, type WeaviateClient } from 'weaviate-client';
import type { ObjectWrite } from './plan.ts';
import { VECTOR_NAME } from './schema.ts';

export type AnyCollection = Collection<undefined, string, undefined>;
export type Filter = FilterValue;

/** Weaviate's default QUERY_MAXIMUM_RESULTS: offset + limit may not go past it. */
export const QUERY_MAXIMUM_RESULTS = 10_000;
const PAGE = 1_000;
/** Objects per insertMany / ids per deleteMany. */
const WRITE_GROUP = 500;

export interface ReadObject {
  readonly uuid: string;
  readonly properties: Readonly<Record<string, unknown>>;
}

export const collection = (client: WeaviateClient, name: string, tenant?: string): AnyCollection => {
  const c = client.collections.use(name);
  return tenant === undefined ? c : c.withTenant(tenant);
};

export class TooManyObjectsError extends Error {}

/** Every object matching the filter (paged by offset; more than QUERY_MAXIMUM_RESULTS is refused so callers split). */
export async function fetchWhere(coll: AnyCollection, filters: Filter, returnProperties: readonly string[]): Promise<ReadObject[]> {
  const out: ReadObject[] = [];
  for (let offset = 0; ; offset += PAGE) {
    if (offset + PAGE > QUERY_MAXIMUM_RESULTS) throw new TooManyObjectsError(`more than ${offset} objects match one read`);
    const page = await coll.query.fetchObjects({ filters, limit: PAGE, offset, returnProperties: [...returnProperties] as never });
    for (const o of page.objects) out.push({ uuid: o.uuid, properties: o.properties });
    if (page.objects.length < PAGE) return out;
  }
}

/** Reads objects for many keys of one property: groups of keys, a group split in two when it matches too many objects. */
export async function fetchByKeys(coll: AnyCollection, property: string, keys: readonly string[], returnProperties: readonly string[]): Promise<ReadObject[]> {
  const out: ReadObject[] = [];
  const run = async (group: readonly string[]): Promise<void> => {
    if (group.length === 0) return;
    try {
      out.push(...(await fetchWhere(coll, coll.filter.byProperty(property).containsAny([...group]), returnProperties)));
    } catch (err) {
      if (!(err instanceof TooManyObjectsError) || group.length === 1) throw err;
      const half = Math.ceil(group.length / 2);
      await run(group.slice(0, half));
      await run(group.slice(half));
    }
  };
  for (let i = 0; i < keys.length; i += 50) await run(keys.slice(i, i + 50));
  return out;
}

/** Every object of a collection (or a tenant of it), by cursor: no filter, no upper bound. */
export async function* scan(coll: AnyCollection, returnProperties: readonly string[]): AsyncGenerator<ReadObject> {
  for await (const o of coll.iterator({ returnProperties: [...returnProperties] as never })) {
    yield { uuid: o.uuid, properties: o.properties };
  }
}

/** Upserts objects by id (a batch object with an existing id replaces it); any per-object error fails the call. */
export async function upsert(coll: AnyCollection, objects: readonly ObjectWrite[]): Promise<void> {
  for (let i = 0; i < objects.length; i += WRITE_GROUP) {
    const group = objects.slice(i, i + WRITE_GROUP).map((o) => ({
      id: o.id,
      properties: o.properties,
      ...(o.vector ? { vectors: { [VECTOR_NAME]: Array.from(o.vector) } } : {}),
    }));
    const result = await coll.data.insertMany(group as never);
    if (result.hasErrors) {
      const first = Object.values(result.errors)[0];
      throw new Error(`Weaviate refused ${Object.keys(result.errors).length} of ${group.length} objects: ${first?.message ?? 'unknown error'}`);
    }
  }
}

export async function deleteIds(coll: AnyCollection, ids: readonly string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += WRITE_GROUP) {
    const group = ids.slice(i, i + WRITE_GROUP);
    const reply = await coll.data.deleteMany(coll.filter.byId().containsAny(group));
    if (reply.failed > 0) throw new Error(`Weaviate failed to delete ${reply.failed} of ${group.length} objects`);
  }
}

export const and = (filters: Filter[]): Filter | undefined =>
  filters.length === 0 ? undefined : filters.length === 1 ? filters[0] : Filters.and(...filters);
