// The Weaviate collections of one generation: their properties, creation, tenants and the layout record that guards reopening.
import weaviate, { type WeaviateClient } from 'weaviate-client';
import type { GenerationCollections } from './names.ts';

/** Chunk objects and window objects share one collection (the alias target); window objects carry the vector. */
export const VECTOR_NAME = 'default';

type Tokenization = 'field' | 'whitespace';
export interface PropertySpec {
  readonly name: string;
  readonly dataType: 'text' | 'text[]' | 'int';
  readonly tokenization?: Tokenization;
  readonly filterable?: boolean;
  readonly searchable?: boolean;
}

// Stored only: returned to build hits and the digest, never searched or filtered on.
export const stored = (name: string, dataType: PropertySpec['dataType'] = 'text'): PropertySpec => ({ name, dataType });
// Exact-match keys: "field" tokenization keeps the whole value as one token.
export const key = (name: string, dataType: 'text' | 'text[]' = 'text'): PropertySpec => ({ name, dataType, tokenization: 'field', filterable: true });
// Pre-analysed stems (analyze.ts): whitespace tokenization, BM25-searchable.
const terms = (name: string): PropertySpec => ({ name, dataType: 'text', tokenization: 'whitespace', searchable: true });

/** Properties of the chunks collection; a window object sets only the keys, chunkId, window, docSeq and vectorB64. */
export const CHUNK_PROPERTIES: readonly PropertySpec[] = [
  key('kind'),
  key('docKey'),
  key('sourceKey'),
  key('docIdKey'),
  key('meta_kv', 'text[]'),
  { name: 'docSeq', dataType: 'int', filterable: true },
  stored('source'),
  stored('docId'),
  stored('chunkId'),
  { name: 'window', dataType: 'int' },
  { name: 'ordinal', dataType: 'int' },
  { name: 'start', dataType: 'int' },
  { name: 'end', dataType: 'int' },
  { name: 'tokens', dataType: 'int' },
  stored('text'),
  // {title?, url?, heading?} as JSON: absent and "" stay apart, whatever the server does with a missing property.
  stored('info'),
  stored('metadata'),
  stored('vectorB64'),
  terms('text_terms'),
  terms('title_terms'),
  terms('heading_terms'),
];

/** BM25 runs over these, the stemmed mirrors of text, title and heading. */
export const KEYWORD_PROPERTIES = ['text_terms', 'title_terms', 'heading_terms'] as const;

/** Document records (kind "doc") and vectors waiting for their chunks (kind "pending"). */
export const DOC_PROPERTIES: readonly PropertySpec[] = [
  key('kind'),
  key('docKey'),
  // The Spanda tenant as given (the Weaviate tenant name may be a hash of it).
  stored('tenant'),
  stored('source'),
  stored('docId'),
  { name: 'docSeq', dataType: 'int', filterable: true },
  { name: 'deleted', dataType: 'int' },
  // {title?, url?, totalChunks} as JSON (null totalChunks for a tombstone).
  stored('info'),
  stored('metadata'),
  stored('chunkId'),
  { name: 'window', dataType: 'int' },
  stored('vectorB64'),
];

/** Checkpoints (kind "checkpoint") and the layout record (kind "layout"). */
export const STATE_PROPERTIES: readonly PropertySpec[] = [key('kind'), stored('name'), { name: 'seq', dataType: 'int' }, stored('value')];

export function properties(specs: readonly PropertySpec[]) {
  return specs.map((p) => ({
    name: p.name,
    dataType: p.dataType,
    ...(p.tokenization ? { tokenization: p.tokenization } : {}),
    indexFilterable: p.filterable ?? false,
    indexSearchable: p.searchable ?? false,
    indexRangeFilters: false,
  }));
}

// Stopwords are dropped from queries by the adapter (lib/text.ts), so Weaviate must not drop any of its own.
export const invertedIndex = weaviate.configure.invertedIndex({ stopwordsPreset: 'none', bm25b: 0.75, bm25k1: 1.2 });

/** Creates whichever of the generation's collections are missing (idempotent). */
export async function createCollections(client: WeaviateClient, names: GenerationCollections): Promise<void> {
  if (!(await client.collections.exists(names.chunks))) {
    await client.collections.create({
      name: names.chunks,
      description: 'Spanda inference generation: chunks (BM25 over stemmed text) and their vectors (one object per window)',
      multiTenancy: weaviate.configure.multiTenancy({ enabled: true, autoTenantCreation: false }),
      invertedIndex,
      properties: properties(CHUNK_PROPERTIES) as never,
      vectorizers: weaviate.configure.vectors.selfProvided({
        name: VECTOR_NAME,
        vectorIndexConfig: weaviate.configure.vectorIndex.hnsw({ distanceMetric: 'cosine' }),
      }),
    });
  }
  if (!(await client.collections.exists(names.docs))) {
    await client.collections.create({
      name: names.docs,
      description: 'Spanda inference generation: document versions, tombstones and pending vectors',
      multiTenancy: weaviate.configure.multiTenancy({ enabled: true, autoTenantCreation: false }),
      invertedIndex,
      properties: properties(DOC_PROPERTIES) as never,
      vectorizers: weaviate.configure.vectors.selfProvided({ name: VECTOR_NAME }),
    });
  }
  if (!(await client.collections.exists(names.state))) {
    await client.collections.create({
      name: names.state,
      description: 'Spanda inference generation: checkpoints and layout',
      invertedIndex,
      properties: properties(STATE_PROPERTIES) as never,
      vectorizers: weaviate.configure.vectors.selfProvided({ name: VECTOR_NAME }),
    });
  }
}

/** Deletes the generation's collections (missing ones are fine). */
export async function deleteCollections(client: WeaviateClient, names: GenerationCollections): Promise<void> {
  for (const name of [names.chunks, names.docs, names.state]) {
    if (await client.collections.exists(name)) await client.collections.delete(name);
  }
}
