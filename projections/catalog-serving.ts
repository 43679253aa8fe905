// The indexing catalog as a generation: its spec, opening its store (by kind: sqlite, weaviate) with a projector, and its digest from the log.
import path from 'node:path';
import { ValidationError } from '../lib/errors.ts';
import { lockFile, lockHolder } from '../lib/data-dir-lock.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import type { SpandaMetrics } from '../lib/metrics.ts';
import type { NatsHandle } from '../streams/nats.ts';
import { generationToBuild, type BuildTarget, type GenerationRecord, type Generations, type GenerationSpec } from './generations.ts';
import { INDEXING_PROJECTION_VERSION, indexingProjection } from './indexing.ts';
import { foldLog, type FoldProgress } from './log-digest.ts';
import { runProjector, type RunningProjector } from './projector.ts';
import { openSettingAsideDamaged, setAsideDamaged } from './stores/sqlite/damaged-file.ts';
import type { GenerationOpener, OpenHooks } from './serving.ts';
import type { CatalogStore } from './catalog.ts';
import { SqliteCatalogStore } from './stores/catalog/catalog-store.ts';
import { catalogSchemaVersion, catalogStoreFactory, type CatalogStoreFactory } from './stores/catalog/registry.ts';
import { sqliteCatalogFactory, sqliteCatalogPath } from './stores/catalog/sqlite-catalog-factory.ts';
import { requireStoreFile } from './stores/existing-file.ts';
import { awaitCatchUp } from './catch-up-progress.ts';
import type { StoreConfig } from './stores/registry.ts';

export const INDEXING_ROLE = 'indexing';

export interface ServedCatalog {
  readonly id: string;
  readonly store: CatalogStore;
  /** Absent where this process only reads a remote catalog (Weaviate) that projector processes write. */
  readonly projector?: RunningProjector;
}

/** Where catalog generations live: a data dir (SQLite only), or the indexing role's store config (its own Weaviate). */
export type CatalogLocation = string | StoreConfig;

const locationConfig = (location: CatalogLocation): StoreConfig => (typeof location === 'string' ? { dataDir: location } : location);

/** The catalog's generation spec for a store kind (SPANDA_CATALOG_STORE; default sqlite, whose generation ids are unchanged). */
export function indexingSpec(kind = 'sqlite'): GenerationSpec {
  return {
    role: INDEXING_ROLE,
    projection: { name: 'indexing', version: INDEXING_PROJECTION_VERSION },
    store: { kind, schemaVersion: catalogSchemaVersion(kind) },
    model: { id: 'none', dims: 0, embedderVersion: 0 },
    chunker: 'any',
  };
}

export function catalogPath(dataDir: string, generation: string): string {
  return sqliteCatalogPath({ role: INDEXING_ROLE, generation, config: { dataDir } });
}

/**
 * Opens a catalog generation of the kind its record names. A writer (`writer` given: it projects into the file) sets
 * a damaged local file aside and projects it again; a reader (verify) leaves it as it is.
 */
async function openCatalog(record: Pick<GenerationRecord, 'id' | 'spec'>, config: StoreConfig, writer?: Logger): Promise<{ factory: CatalogStoreFactory; store: CatalogStore }> {
  const factory = await catalogStoreFactory(record.spec.store.kind);
  const open = () => factory.open({ role: INDEXING_ROLE, generation: record.id, config });
  return { factory, store: factory.local && writer ? await openSettingAsideDamaged(catalogPath(config.dataDir, record.id), open, writer) : await open() };
}

/**
 * How long the serving catalog's projector waits to fill a batch once caught up. Nothing answers a query from the
 * catalog, and a status lookup a tenth of a second behind is as good as one at once; batches of ~100 events instead of
 * a few leave the node's main thread and cores to the inference projection, whose freshness is what users wait on.
 */
export const CATALOG_LINGER_MS = 100;

/**
 * The indexing role's opener: the generation's store (of the kind its record names) and, where this process writes it,
 * its projector. A local (SQLite) catalog is projected by every process that serves it, each into its own file; a
 * remote one (Weaviate) only where `projectRemote` (processes with the projector role), the others read it.
 */
export function catalogOpener(
  handle: NatsHandle,
  location: CatalogLocation,
  logger: Logger,
  metrics?: SpandaMetrics,
  options: { readonly projectRemote?: boolean } = {},
): GenerationOpener<ServedCatalog> {
  const config = locationConfig(location);
  const open = async (record: GenerationRecord, hooks?: OpenHooks): Promise<ServedCatalog> => {
    const { factory, store } = await openCatalog(record, config, logger);
    const project = factory.local || (options.projectRemote ?? true);
    if (!project) return { id: record.id, store };
    const onStoreDamaged = factory.local ? hooks?.onStoreDamaged : undefined;
    const projector = runProjector(handle, indexingProjection(), store, {
      logger,
      lingerMs: CATALOG_LINGER_MS,
      ...(metrics ? { metrics } : {}),
      ...(onStoreDamaged ? { onStoreDamaged } : {}),
    });
    return { id: record.id, store, projector };
  };
  return {
    open,
    close: async (served) => {
      await served.projector?.stop().catch(() => undefined);
      await served.store.close();
    },
    // A local catalog file is this process's own (each process projects its own): set aside, projected again.
    reopenDamaged: async (record, cause, hooks) => {
      if ((await catalogStoreFactory(record.spec.store.kind)).local) await setAsideDamaged(catalogPath(config.dataDir, record.id), cause, logger);
      return open(record, hooks);
    },
  };
}

/** The catalog digest computed straight from the log up to `checkpoints`, in a throwaway in-memory catalog. */
export async function catalogLogDigest(
  handle: NatsHandle,
  checkpoints: Readonly<Record<string, number>>,
  onProgress?: (progress: FoldProgress) => void,
): Promise<string> {
  const projection = indexingProjection();
  const store = new SqliteCatalogStore(':memory:');
  try {
    await foldLog(handle, projection, checkpoints, (ops) => store.apply({ ops, checkpoints: {} }), onProgress ? { onProgress } : {});
    return await store.digest();
  } finally {
    await store.close();
  }
}

export interface CatalogReplayResult {
  readonly generation: string;
  readonly previous: string | undefined;
  readonly checkpoints: Record<string, number>;
  readonly digest: string;
  readonly verified: boolean;
  /** True when it continued a generation an earlier (stopped or killed) replay of the same settings left unfinished. */
  readonly resumed: boolean;
  readonly ms: number;
}

/**
 * Rebuilds the indexing catalog as a new generation from the three streams, verifies its digest against the log and
 * switches alias.indexing (compare-and-set). Serving nodes follow the alias.
 */
export async function replayCatalog(
  handle: NatsHandle,
  generations: Generations,
  location: CatalogLocation,
  options: { verify?: boolean; onProgress?: (applied: number, total: number) => void; onTarget?: (target: BuildTarget) => void; logger?: Logger; kind?: string } = {},
): Promise<CatalogReplayResult> {
  const started = performance.now();
  const config = locationConfig(location);
  const dataDir = config.dataDir;
  const { alias, revision } = await generations.alias(INDEXING_ROLE);
  const spec = indexingSpec(options.kind);
  const lockOf = (generation: string): string => path.join(dataDir, INDEXING_ROLE, `${generation}.lock`);
  const { id, resumed } = await generationToBuild(generations, spec, (generation) => lockHolder(lockOf(generation)));
  await generations.ensure(spec, 0, `${process.pid}`, id);
  const lock = await lockFile(lockOf(id), `generation ${id}`);
  options.onTarget?.({ id, resumed });
  try {
    const projection = indexingProjection();
    const { factory, store } = await openCatalog({ id, spec }, config, options.logger ?? silentLogger);
    let checkpoints: Record<string, number>;
    let digest: string;
    try {
      const target: Record<string, number> = {};
      for (const s of projection.sources) target[s.key] = (await handle.jsm.streams.info(s.stream)).state.last_seq;
      const projector = runProjector(handle, projection, store, { logger: options.logger ?? silentLogger, batchSize: 1000 });
      try {
        await awaitCatchUp(projector, target, (p) => options.onProgress?.(p.applied, p.total), 'the new catalog generation');
      } finally {
        await projector.stop();
      }
      ({ checkpoints, digest } = await store.snapshot());
    } finally {
      await store.close();
    }
    let verified = false;
    if (options.verify ?? true) {
      const expected = await catalogLogDigest(handle, checkpoints);
      if (expected !== digest) throw new ValidationError(`catalog generation ${id} does not match the log (store ${digest}, log ${expected}); the alias was not switched`);
      verified = true;
    }
    await generations.update(INDEXING_ROLE, id, (r) => ({ ...r, state: 'ready', checkpoints, digest }));
    // The store's own alias first (Weaviate: Spanda_indexing on the indexing instance), then the KV alias nodes follow.
    await factory.activate?.({ role: INDEXING_ROLE, generation: id, config });
    await generations.switchAlias(INDEXING_ROLE, id, revision);
    return { generation: id, previous: alias?.generation, checkpoints, digest, verified, resumed, ms: Math.round(performance.now() - started) };
  } finally {
    await lock.release();
  }
}

/** The active catalog generation compared with the log at its own checkpoints (a consistent snapshot of its store). */
export async function verifyCatalog(
  handle: NatsHandle,
  generations: Generations,
  location: CatalogLocation,
  onProgress?: (progress: FoldProgress) => void,
): Promise<{ generation: string; ok: boolean; digest: string; logDigest: string; checkpoints: Record<string, number> }> {
  const { alias } = await generations.alias(INDEXING_ROLE);
  if (!alias) throw new ValidationError('the indexing projection has no active generation yet; start a node first');
  const record = await generations.get(INDEXING_ROLE, alias.generation);
  // Generations from before the catalog had kinds are SQLite files.
  const spec = record?.spec ?? indexingSpec();
  const config = locationConfig(location);
  if (spec.store.kind === sqliteCatalogFactory.kind) {
    requireStoreFile(sqliteCatalogPath({ role: INDEXING_ROLE, generation: alias.generation, config }), INDEXING_ROLE, alias.generation);
  }
  const { store } = await openCatalog({ id: alias.generation, spec }, config);
  try {
    const { checkpoints, digest } = await store.snapshot();
    const expected = await catalogLogDigest(handle, checkpoints, onProgress);
    return { generation: alias.generation, ok: expected === digest, digest, logDigest: expected, checkpoints };
  } finally {
    await store.close();
  }
}
