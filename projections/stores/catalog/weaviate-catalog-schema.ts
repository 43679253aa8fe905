// The Weaviate collections of one catalog generation: facts (one object per fact identity) and state (checkpoints, writers, layout).
import weaviate, { type WeaviateClient } from 'weaviate-client';
import type { CatalogFact } from '../../catalog.ts';
import { factIdentity } from '../../catalog.ts';
import { generationCollections, uuidV5 } from '../weaviate/names.ts';
import { invertedIndex, key, properties, STATE_PROPERTIES, stored, VECTOR_NAME, type PropertySpec } from '../weaviate/schema.ts';

export interface CatalogCollections {
  /** `Spanda_<role>_<generation>`: one object per fact; the role's collection alias points here. */
  readonly facts: string;
  /** `Spanda_<role>_<generation>_State`: checkpoints, writer marks and the layout record. */
  readonly state: string;
}

/** The inference adapter's naming, so both roles' generations look alike in Weaviate (and `drop` finds the same names). */
export function catalogCollections(role: string, generation: string): CatalogCollections {
  const names = generationCollections(role, generation);
  return { facts: names.chunks, state: names.state };
}

/**
 * Fact objects: the canonical fact as JSON (what the digest and lineage read) plus filterable keys. `docKey` (the JSON
 * of [tenant, source, docId]) is what lineage filters on: "field" tokenization trims surrounding whitespace, which a
 * JSON array never has, so it is exact for every id; tenant, source and docId are filterable for operators.
 */
export const FACT_PROPERTIES: readonly PropertySpec[] = [
  key('kind'),
  key('docKey'),
  key('tenant'),
  key('source'),
  key('docId'),
  { name: 'docSeq', dataType: 'int', filterable: true },
  stored('fact'),
];

export const docKeyOf = (tenant: string, source: string, docId: string): string => JSON.stringify([tenant, source, docId]);

/** A fact's object id: a UUIDv5 of its identity, so a replayed event rewrites the same object. */
export const factObjectId = (fact: CatalogFact): string => uuidV5(['catalog-fact', factIdentity(fact)]);
/** A writer's mark (one per open store that writes). */
export const writerObjectId = (writer: string): string => uuidV5(['catalog-writer', writer]);

/** Creates whichever of the generation's collections are missing (idempotent). */
export async function createCatalogCollections(client: WeaviateClient, names: CatalogCollections): Promise<void> {
  if (!(await client.collections.exists(names.facts))) {
    await client.collections.create({
      name: names.facts,
      description: 'Spanda indexing catalog generation: one object per fact (a document version, a stage part of a version)',
      invertedIndex,
      properties: properties(FACT_PROPERTIES) as never,
      vectorizers: weaviate.configure.vectors.selfProvided({ name: VECTOR_NAME }),
    });
  }
  if (!(await client.collections.exists(names.state))) {
    await client.collections.create({
      name: names.state,
      description: 'Spanda indexing catalog generation: checkpoints, writer marks and layout',
      invertedIndex,
      properties: properties(STATE_PROPERTIES) as never,
      vectorizers: weaviate.configure.vectors.selfProvided({ name: VECTOR_NAME }),
    });
  }
}
