// The catalog store registry: every indexing catalog store kind by name (sqlite, weaviate), chosen by the generation's spec.
import { ConfigError } from '../../../lib/errors.ts';
import type { CatalogStore } from '../../catalog.ts';
import type { StoreConfig } from '../registry.ts';
import { CATALOG_SCHEMA_VERSION } from './catalog-store.ts';

export const CATALOG_STORE_KINDS = ['sqlite', 'weaviate'] as const;
export type CatalogStoreKind = (typeof CATALOG_STORE_KINDS)[number];

/** Layout version of the Weaviate catalog (facts collection + state collection); part of every generation id. */
export const WEAVIATE_CATALOG_SCHEMA_VERSION = 1;

/** Known without loading an adapter, so a generation spec can be built synchronously. */
const SCHEMA_VERSIONS: Readonly<Record<CatalogStoreKind, number>> = { sqlite: CATALOG_SCHEMA_VERSION, weaviate: WEAVIATE_CATALOG_SCHEMA_VERSION };

export interface OpenCatalogOptions {
  /** Projection role ("indexing"). */
  readonly role: string;
  /** Generation id: the store keeps each generation apart (a file, a collection). */
  readonly generation: string;
  /** The role's store config (its data dir, its own Weaviate). */
  readonly config: StoreConfig;
}

/** One catalog store kind: open a generation, point the store's own alias at one (where it has aliases), drop one. */
export interface CatalogStoreFactory {
  readonly kind: CatalogStoreKind;
  readonly schemaVersion: number;
  /** True when a generation is a file of this node's data dir: every node projects its own replica (one writer per file). */
  readonly local: boolean;
  open(options: OpenCatalogOptions): Promise<CatalogStore>;
  /** Points the store's alias for the role at the generation (Weaviate collection alias `Spanda_<role>`); SQLite has none. */
  activate?(options: OpenCatalogOptions): Promise<void>;
  /** Deletes a generation's data (GC of retired generations). */
  drop(options: OpenCatalogOptions): Promise<void>;
}

const factories = new Map<CatalogStoreKind, () => Promise<CatalogStoreFactory>>([
  ['sqlite', async () => (await import('./sqlite-catalog-factory.ts')).sqliteCatalogFactory],
  ['weaviate', async () => (await import('./weaviate-catalog-store.ts')).weaviateCatalogFactory],
]);

export function isCatalogStoreKind(value: string): value is CatalogStoreKind {
  return (CATALOG_STORE_KINDS as readonly string[]).includes(value);
}

function checkKind(kind: string): CatalogStoreKind {
  if (!isCatalogStoreKind(kind)) throw new ConfigError(`unknown catalog store kind ${JSON.stringify(kind)}: use one of ${CATALOG_STORE_KINDS.join(', ')} (SPANDA_CATALOG_STORE)`);
  return kind;
}

export function catalogSchemaVersion(kind: string): number {
  return SCHEMA_VERSIONS[checkKind(kind)];
}

export async function catalogStoreFactory(kind: string): Promise<CatalogStoreFactory> {
  const load = factories.get(checkKind(kind));
  if (!load) throw new ConfigError(`catalog store kind ${kind} is not available in this build`);
  return load();
}
