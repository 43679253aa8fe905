// The "weaviate" store kind: a generation is a set of collections, the role's collection alias points at the active one.
import type { WeaviateClient } from 'weaviate-client';
import { ConfigError } from '../../../lib/errors.ts';
import type { InferenceStore } from '../../store.ts';
import type { OpenStoreOptions, StoreConfig, StoreFactory } from '../registry.ts';
import { connectWeaviate, type WeaviateConfig } from './connect.ts';
import { aliasName, generationCollections } from './names.ts';
import { deleteCollections } from './schema.ts';
import { openWeaviateStore } from './weaviate-store.ts';

export const WEAVIATE_SCHEMA_VERSION = 1;

export function weaviateConfig(config: StoreConfig): WeaviateConfig {
  if (!config.weaviate?.url) throw new ConfigError('store kind weaviate needs weaviate.url (the REST endpoint, e.g. http://localhost:8080)');
  return config.weaviate;
}

async function withClient<T>(config: StoreConfig, fn: (client: WeaviateClient) => Promise<T>): Promise<T> {
  const client = await connectWeaviate(weaviateConfig(config));
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** The collection the role's alias points at, or undefined when the alias does not exist. */
export async function aliasTarget(client: WeaviateClient, role: string): Promise<string | undefined> {
  const aliases = (await client.alias.listAll()) ?? [];
  return aliases.find((a) => a.alias === aliasName(role))?.collection;
}

export const weaviateStoreFactory: StoreFactory = {
  kind: 'weaviate',
  schemaVersion: WEAVIATE_SCHEMA_VERSION,
  checkConfig: (config) => void weaviateConfig(config),

  async open(options: OpenStoreOptions): Promise<InferenceStore> {
    const client = await connectWeaviate(weaviateConfig(options.config));
    try {
      return await openWeaviateStore({
        client,
        names: generationCollections(options.role, options.generation),
        model: options.model,
        schemaVersion: WEAVIATE_SCHEMA_VERSION,
      });
    } catch (err) {
      await client.close();
      throw err;
    }
  },

  /** Points `Spanda_<role>` at the generation's chunks collection (created on first activation, then updated in place). */
  async activate(options): Promise<void> {
    await withClient(options.config, async (client) => {
      const target = generationCollections(options.role, options.generation).chunks;
      if (!(await client.collections.exists(target))) {
        throw new ConfigError(`cannot activate generation ${options.generation}: Weaviate has no collection ${target} (open and build it first)`);
      }
      const alias = aliasName(options.role);
      const current = await aliasTarget(client, options.role);
      if (current === undefined) await client.alias.create({ alias, collection: target });
      else if (current !== target) await client.alias.update({ alias, newTargetCollection: target });
    });
  },

  /** Deletes the generation's collections; the active generation (the alias target) is refused. */
  async drop(options): Promise<void> {
    await withClient(options.config, async (client) => {
      const names = generationCollections(options.role, options.generation);
      if ((await aliasTarget(client, options.role)) === names.chunks) {
        throw new ConfigError(`cannot drop generation ${options.generation}: alias ${aliasName(options.role)} points at it (activate another first)`);
      }
      await deleteCollections(client, names);
    });
  },
};
