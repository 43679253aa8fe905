// The qdrant store kind: a generation is the collection `spanda_<role>_<generation>`, served through the alias `spanda_<role>`.
import type { QdrantClient } from '@qdrant/js-client-rest';
import { ConfigError, NotFoundError } from '../../../lib/errors.ts';
import type { OpenStoreOptions, StoreConfig, StoreFactory } from '../registry.ts';
import { call, createQdrantClient, type QdrantConnection } from './client.ts';
import { aliasName, collectionName } from './names.ts';
import { QdrantInferenceStore } from './qdrant-store.ts';

/** Bumped when the point layout changes (layout.ts, terms.ts): part of every generation id. */
export const QDRANT_SCHEMA_VERSION = 1;

type Target = Pick<OpenStoreOptions, 'role' | 'generation' | 'config'>;

function connection(config: StoreConfig): QdrantConnection {
  const q = config.qdrant;
  if (!q || typeof q.url !== 'string' || q.url.length === 0) {
    throw new ConfigError('store kind qdrant needs a Qdrant URL: set QDRANT_URL (or the qdrant.url store config), e.g. http://127.0.0.1:6333');
  }
  if (!/^https?:\/\/[^/]/i.test(q.url) || !URL.canParse(q.url)) throw new ConfigError(`Qdrant URL ${JSON.stringify(q.url)} is not an http(s) URL: set QDRANT_URL to e.g. http://127.0.0.1:6333`);
  return { url: q.url, ...(q.apiKey !== undefined ? { apiKey: q.apiKey } : {}) };
}

/** The collection the role's alias points at, if the alias exists. */
export async function aliasTarget(client: QdrantClient, role: string): Promise<string | undefined> {
  const alias = aliasName(role);
  const { aliases } = await call('list aliases', () => client.getAliases());
  return aliases.find((a) => a.alias_name === alias)?.collection_name;
}

export const qdrantStoreFactory: StoreFactory = {
  kind: 'qdrant',
  schemaVersion: QDRANT_SCHEMA_VERSION,
  checkConfig: (config) => void connection(config),

  async open(options) {
    const collection = collectionName(options.role, options.generation);
    return QdrantInferenceStore.open({ connection: connection(options.config), collection, model: options.model });
  },

  /** Points `spanda_<role>` at the generation in one atomic update_aliases call (delete + create), so readers never see no alias. */
  async activate(options: Target): Promise<void> {
    const client = createQdrantClient(connection(options.config));
    const collection = collectionName(options.role, options.generation);
    const { exists } = await call('collection check', () => client.collectionExists(collection));
    if (!exists) throw new NotFoundError(`cannot activate generation ${options.generation}: Qdrant has no collection ${collection}`);
    const alias = aliasName(options.role);
    const current = await aliasTarget(client, options.role);
    if (current === collection) return;
    await call('switch alias', () =>
      client.updateCollectionAliases({
        actions: [
          ...(current !== undefined ? [{ delete_alias: { alias_name: alias } }] : []),
          { create_alias: { collection_name: collection, alias_name: alias } },
        ],
      }),
    );
  },

  /** Deletes the generation's collection (a missing one is already dropped); the generation the alias serves is refused. */
  async drop(options: Target): Promise<void> {
    const client = createQdrantClient(connection(options.config));
    const collection = collectionName(options.role, options.generation);
    if ((await aliasTarget(client, options.role)) === collection) {
      throw new ConfigError(`generation ${options.generation} is the one alias ${aliasName(options.role)} serves: activate another before dropping it`);
    }
    const { exists } = await call('collection check', () => client.collectionExists(collection));
    if (exists) await call('drop collection', () => client.deleteCollection(collection));
  },
};
