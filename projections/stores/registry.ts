// The store registry: every projection store kind by name (sqlite, weaviate, qdrant), chosen by configuration.
import { ConfigError } from '../../lib/errors.ts';
import type { InferenceStore } from '../store.ts';

export const STORE_KINDS = ['sqlite', 'weaviate', 'qdrant'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

/** Where each kind keeps its data; only the chosen kind's part is read. */
export interface StoreConfig {
  /** The node's data dir: SQLite generations live in `<dataDir>/<role>/<generation>.sqlite`. */
  readonly dataDir: string;
  readonly weaviate?: { readonly url: string; readonly grpcUrl?: string; readonly apiKey?: string };
  readonly qdrant?: { readonly url: string; readonly apiKey?: string };
}

export interface OpenStoreOptions {
  /** Projection role the generation serves ("inference"). */
  readonly role: string;
  /** Generation id (projections/generations.ts): the store keeps each generation apart (a file, a collection). */
  readonly generation: string;
  readonly model: { readonly id: string; readonly dims: number };
  readonly config: StoreConfig;
  /**
   * 'build': a replay writes the generation and nothing searches it until it is opened again to serve, so a store may
   * skip its search-side derived state (SQLite's in-memory vector and keyword indexes). Default 'serve'.
   */
  readonly mode?: 'serve' | 'build';
}

/** One store kind: open a generation, point the role's native alias at one (where the store has aliases), drop one. */
export interface StoreFactory {
  readonly kind: StoreKind;
  /** Bumped when the kind's layout changes; part of every generation id, so a new layout is a new generation. */
  readonly schemaVersion: number;
  open(options: OpenStoreOptions): Promise<InferenceStore>;
  /** Switches the store's own alias for the role (Weaviate collection alias, Qdrant alias); SQLite has none. */
  activate?(options: Omit<OpenStoreOptions, 'model'>): Promise<void>;
  /** Deletes a generation's data (GC of retired generations). */
  drop(options: Omit<OpenStoreOptions, 'model'>): Promise<void>;
  /** Throws a ConfigError naming the setting when `config` lacks what the kind needs (checked before a replay records anything). */
  checkConfig?(config: StoreConfig): void;
}

const factories = new Map<StoreKind, () => Promise<StoreFactory>>([
  ['sqlite', async () => (await import('./sqlite/factory.ts')).sqliteStoreFactory],
  ['weaviate', async () => (await import('./weaviate/factory.ts')).weaviateStoreFactory],
  ['qdrant', async () => (await import('./qdrant/factory.ts')).qdrantStoreFactory],
]);

/** Registers a kind (adapters register themselves here; loading is lazy so an unused client is never imported). */
export function registerStore(kind: StoreKind, load: () => Promise<StoreFactory>): void {
  factories.set(kind, load);
}

export function isStoreKind(value: string): value is StoreKind {
  return (STORE_KINDS as readonly string[]).includes(value);
}

export async function storeFactory(kind: string): Promise<StoreFactory> {
  if (!isStoreKind(kind)) throw new ConfigError(`unknown store kind ${JSON.stringify(kind)}: use one of ${STORE_KINDS.join(', ')}`);
  const load = factories.get(kind);
  if (!load) throw new ConfigError(`store kind ${kind} is not available in this build`);
  return load();
}
