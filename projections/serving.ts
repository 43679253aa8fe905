// Serving the active generation of a role: follows the KV alias, builds a local replica before swapping, routes calls.
import path from 'node:path';
import { lockFile } from '../lib/data-dir-lock.ts';
import { ConfigError, UnavailableError, errorMessage } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { NatsHandle } from '../streams/nats.ts';
import type { ModelInfo } from '../streams/events/index.ts';
import type { GenerationRecord, Generations, GenerationSpec } from './generations.ts';
import type { Projection } from './projection.ts';
import { runProjector, type ProjectorOptions, type RunningProjector } from './projector.ts';
import { STORES_WITH_EXPANSION, type InferenceStore, type KeywordExpansion } from './store.ts';
import { storeFactory, type StoreConfig } from './stores/registry.ts';
import { isDamagedDatabase, openSettingAsideDamaged, setAsideDamaged } from './stores/sqlite/damaged-file.ts';

/** Turns query text into vectors of one model. */
export interface QueryEmbedder {
  readonly info: ModelInfo;
  embed(texts: readonly string[]): Promise<Float32Array[]>;
}

/** One generation as a node serves it: its store, the projector keeping it current, the embedder of its model. */
export interface ServedGeneration {
  readonly id: string;
  readonly record?: GenerationRecord;
  readonly store: InferenceStore;
  readonly embedder: QueryEmbedder;
  /** Hybrid fusion weight of the generation's model. */
  readonly vectorWeight: number;
  readonly projector?: RunningProjector;
  /** Releases what opening took beyond the store (the generation's lock file). */
  readonly release?: () => Promise<void>;
  /** See Served.warmUp. */
  readonly warmUp?: () => Promise<void>;
}

/** What the API reads from: the generation serving now, pinned for the length of one call. */
export interface Serving {
  current(): ServedGeneration;
  /** Runs `fn` on the generation serving now; a swapped-out generation is closed only after its calls in flight end. */
  use<T>(fn: (generation: ServedGeneration) => Promise<T>): Promise<T>;
}

/** A single fixed generation (tests, tools). */
export function staticServing(generation: ServedGeneration): Serving {
  return { current: () => generation, use: (fn) => fn(generation) };
}

export interface GenerationRuntime {
  readonly handle: NatsHandle;
  readonly generations: Generations;
  readonly storeConfig: StoreConfig;
  readonly logger: Logger;
  /** The embedder of a model this node has, or undefined. */
  embedderFor(modelId: string): QueryEmbedder | undefined;
  /** The projection a generation's spec asks for (its model, its chunker fingerprint). */
  projectionFor(spec: GenerationSpec): Projection;
  readonly projectorOptions?: ProjectorOptions;
  /** False in a process that projects but answers no queries: a generation's model need not run there. */
  readonly requireEmbedder?: boolean;
  /** Fusion weight that wins over each generation's own (SPANDA_VECTOR_WEIGHT). */
  readonly vectorWeightOverride?: number;
  /** The keyword expansion this node's queries ask every generation's store for (SPANDA_KEYWORD_EXPANSION). */
  readonly keywordExpansion?: KeywordExpansion;
}

/** What a router serves of a generation: at least its id and the projector that keeps it current. */
export interface Served {
  readonly id: string;
  readonly projector?: RunningProjector;
  /** Finishes what the generation derives in memory after open (InferenceStore.warmUp), before it is swapped in. */
  readonly warmUp?: () => Promise<void>;
}

interface Entry<S extends Served> {
  served: S;
  inFlight: number;
  retiring?: () => void;
  /** Set once its store was found damaged: whether it is being built again, or left to the operator (never queued twice). */
  damaged?: 'rebuilding' | 'left';
}

/** How a router opens and closes the generations of its role. */
export interface GenerationOpener<S extends Served> {
  /** Opens a generation; `hooks.onStoreDamaged` is told when its projector finds the store's file damaged. */
  open(record: GenerationRecord, hooks?: OpenHooks): Promise<S>;
  close(served: S): Promise<void>;
  /**
   * Opens a generation again after its store's file was found damaged (`served` closed first): the file is set aside
   * and a new one built from the log. Absent where this process cannot rebuild the file (it does not write it).
   */
  readonly reopenDamaged?: (record: GenerationRecord, cause: unknown, hooks?: OpenHooks) => Promise<S>;
}

export interface OpenHooks {
  readonly onStoreDamaged?: (err: unknown) => void;
}

/** Opens a generation's store and starts its projector (from the store's own checkpoints). */
/** A query embedder for a node that does not run a model: projecting needs none, answering queries does. */
function missingEmbedder(model: { id: string; dims: number }): QueryEmbedder {
  return {
    info: { id: model.id, dims: model.dims, normalized: true, maxTokens: 1 },
    embed: () => {
      throw new ConfigError(`this process does not run model ${model.id}; add it to SPANDA_MODELS of the process that serves queries`);
    },
  };
}

/**
 * Opens a generation's store and, when `project` (default), starts its projector from the store's own checkpoints. A
 * local SQLite generation is written by one process only: its lock file says who.
 */
export async function openGeneration(
  runtime: GenerationRuntime,
  record: GenerationRecord,
  options: { project?: boolean; hooks?: OpenHooks; /** Set the store's file aside first: it was found damaged (see GenerationOpener.reopenDamaged). */ damaged?: unknown } = {},
): Promise<ServedGeneration> {
  const project = options.project ?? true;
  const embedder = runtime.embedderFor(record.spec.model.id) ?? (runtime.requireEmbedder === false ? missingEmbedder(record.spec.model) : undefined);
  if (!embedder) {
    throw new ConfigError(
      `generation ${record.id} serves model ${record.spec.model.id}, which this node does not run; add it to SPANDA_MODELS (or --models) and restart`,
    );
  }
  const kind = record.spec.store.kind;
  if (runtime.keywordExpansion !== undefined && runtime.keywordExpansion !== 'none' && !STORES_WITH_EXPANSION.includes(kind)) {
    // Refused here, where a node starts or follows the alias (it keeps serving the generation it has), rather than on
    // every keyword and hybrid query the generation would then fail.
    throw new ConfigError(
      `generation ${record.id} is a ${kind} store, which cannot expand keyword queries, and this node serves SPANDA_KEYWORD_EXPANSION=${runtime.keywordExpansion} ` +
        `(${STORES_WITH_EXPANSION.join(', ')} only): unset it and restart the node, or point the alias back (\`spanda projections rollback\`)`,
    );
  }
  const factory = await storeFactory(kind);
  const target = { role: record.spec.role, generation: record.id, config: runtime.storeConfig };
  const lock =
    project && factory.kind === 'sqlite'
      ? await lockFile(path.join(runtime.storeConfig.dataDir, record.spec.role, `${record.id}.lock`), `generation ${record.id} in ${runtime.storeConfig.dataDir}`)
      : undefined;
  try {
    const open = () => factory.open({ ...target, model: { id: record.spec.model.id, dims: record.spec.model.dims } });
    // The writer of a SQLite generation rebuilds a damaged file from the log; a reader leaves the writer's file alone.
    const file = path.join(runtime.storeConfig.dataDir, record.spec.role, `${record.id}.sqlite`);
    if (lock && options.damaged !== undefined) await setAsideDamaged(file, options.damaged, runtime.logger);
    const store = lock ? await openSettingAsideDamaged(file, open, runtime.logger) : await open();
    const onStoreDamaged = options.hooks?.onStoreDamaged;
    const projector = project
      ? runProjector(runtime.handle, runtime.projectionFor(record.spec), store, {
          ...runtime.projectorOptions,
          logger: runtime.logger,
          ...(lock && onStoreDamaged ? { onStoreDamaged } : {}),
        })
      : undefined;
    return {
      id: record.id,
      record,
      store,
      embedder,
      vectorWeight: runtime.vectorWeightOverride ?? record.vectorWeight,
      ...(projector ? { projector } : {}),
      ...(store.warmUp ? { warmUp: () => store.warmUp?.() ?? Promise.resolve() } : {}),
      ...(lock ? { release: () => lock.release() } : {}),
    };
  } catch (err) {
    await lock?.release();
    throw err;
  }
}

export async function closeGeneration(served: ServedGeneration): Promise<void> {
  await served.projector?.stop().catch(() => undefined);
  await served.store.close().catch(() => undefined);
  await served.release?.();
}

/** The inference role's opener: a generation's store, its projector and the embedder of its model. */
export function inferenceOpener(runtime: GenerationRuntime, options: { project?: boolean } = {}): GenerationOpener<ServedGeneration> {
  return {
    open: (record, hooks) => openGeneration(runtime, record, { ...options, ...(hooks ? { hooks } : {}) }),
    close: closeGeneration,
    // Only the process that writes a local file may move it; a remote store (Weaviate, Qdrant) is not a file here.
    ...(options.project !== false
      ? { reopenDamaged: (record: GenerationRecord, damaged: unknown, hooks?: OpenHooks) => openGeneration(runtime, record, { ...options, damaged, ...(hooks ? { hooks } : {}) }) }
      : {}),
  };
}

/** A generation whose store is found damaged again this soon after it was built again is left to the operator. */
export const REBUILD_AGAIN_AFTER_MS = 10 * 60_000;

/**
 * Serves the role's active generation and follows its alias. On a switch it opens the new generation next to the old
 * one, lets its projector catch up with the log, then routes new calls to it; calls in flight finish on the old one,
 * which closes when the last ends. Rollback is the same switch, back to a kept generation.
 */
export class GenerationRouter<S extends Served = ServedGeneration> {
  private active: Entry<S> | undefined;
  private stopWatch: (() => void) | undefined;
  private switching: Promise<void> = Promise.resolve();
  /** The generation the alias last named: a switch still being retried gives up once the alias moves on. */
  private target: string | undefined;
  private cancelRetry: (() => void) | undefined;
  private stopped = false;
  /** The generation whose damaged store is being set aside and built again (nothing is served meanwhile). */
  private rebuilding: string | undefined;
  /** When each generation's damaged store was last set aside to be built again. */
  private readonly rebuiltAt = new Map<string, number>();
  private readonly listeners = new Set<(id: string) => void>();

  constructor(
    private readonly runtime: Pick<GenerationRuntime, 'generations' | 'logger'>,
    private readonly role: string,
    private readonly opener: GenerationOpener<S>,
    /** How long a new generation may take to catch up before the switch is abandoned (the old one keeps serving). */
    private readonly catchUpTimeoutMs = 10 * 60_000,
  ) {}

  current(): S {
    if (!this.active) throw this.nothingServed();
    return this.active.served;
  }

  private nothingServed(): UnavailableError {
    if (this.rebuilding !== undefined) {
      return new UnavailableError(`the store of ${this.role} generation ${this.rebuilding} was damaged and is being set aside to be built again from the log; retry shortly`, 2);
    }
    return new UnavailableError(`no ${this.role} generation is being served yet; retry shortly`, 1);
  }

  /**
   * Runs `fn` on the generation serving now. A call that finds the store's file damaged queues its rebuild (see
   * repairDamaged) and fails with a 503 that says so, rather than a 500 on every call until someone restarts the node.
   */
  async use<T>(fn: (generation: S) => Promise<T>): Promise<T> {
    const entry = this.active;
    if (!entry) throw this.nothingServed();
    entry.inFlight++;
    try {
      return await fn(entry.served);
    } catch (err) {
      if (!isDamagedDatabase(err)) throw err;
      const next =
        this.repairDamaged(entry, err) === 'rebuilding'
          ? 'it is set aside and built again from the log: retry shortly'
          : 'restart the process that writes it (after checking its disk): its next start sets the file aside and builds it again from the log';
      throw new UnavailableError(`the store of ${this.role} generation ${entry.served.id} is damaged (${errorMessage(err)}); ${next}`, 5);
    } finally {
      entry.inFlight--;
      if (entry.inFlight === 0) entry.retiring?.();
    }
  }

  /** Opens a generation (again, over a new file, when `damaged`), its projector wired to report a damaged store. */
  private async openEntry(record: GenerationRecord, damaged?: { readonly cause: unknown }): Promise<Entry<S>> {
    const ref: { entry?: Entry<S> } = {};
    const hooks: OpenHooks = { onStoreDamaged: (err) => void (ref.entry && this.repairDamaged(ref.entry, err)) };
    const served = damaged && this.opener.reopenDamaged ? await this.opener.reopenDamaged(record, damaged.cause, hooks) : await this.opener.open(record, hooks);
    const entry: Entry<S> = { served, inFlight: 0 };
    ref.entry = entry;
    return entry;
  }

  /**
   * The served generation's store file is damaged (its projector's batches fail with SQLITE_CORRUPT, or a call read a
   * damaged page): retrying cannot help. In turn with alias switches, this closes the generation once its calls in
   * flight end, sets the file aside and opens the generation again over a new one, whose projector builds it from
   * the log, as a restart would; until it reopens, calls get a 503 saying so, and until it catches up, /readyz shows
   * its progress. Retried with backoff while the reopen fails.
   */
  private repairDamaged(entry: Entry<S>, cause: unknown): 'rebuilding' | 'left' {
    if (entry.damaged) return entry.damaged;
    if (!this.opener.reopenDamaged || this.active !== entry || this.stopped) return 'left';
    entry.damaged = 'left';
    const id = entry.served.id;
    const last = this.rebuiltAt.get(id);
    if (last !== undefined && Date.now() - last < REBUILD_AGAIN_AFTER_MS) {
      // A file damaged again soon after its rebuild points at the disk, not at one bad write: rebuilding in a loop
      // would fill the disk with set-aside copies.
      this.runtime.logger.error('the store of the served generation is damaged again soon after it was built again; not rebuilding it automatically', {
        role: this.role,
        generation: id,
        rebuiltMsAgo: Date.now() - last,
        error: errorMessage(cause),
        next: 'check the disk holding the data dir (dmesg, SMART), then restart the node: its start sets the file aside and builds it again',
      });
      return 'left';
    }
    this.rebuiltAt.set(id, Date.now());
    entry.damaged = 'rebuilding';
    this.switching = this.switching
      .then(async () => {
        if (this.active !== entry || this.stopped) return;
        const record = await this.runtime.generations.get(this.role, id);
        if (!record) throw new ConfigError(`generation ${id} has no record left to build it from`);
        this.runtime.logger.error('the store of the served generation is damaged; setting its file aside and building it again from the log', {
          role: this.role,
          generation: id,
          error: errorMessage(cause),
        });
        this.rebuilding = id;
        this.active = undefined;
        try {
          await this.retire(entry);
          for (let attempt = 0; !this.stopped; attempt++) {
            try {
              const next = await this.openEntry(record, { cause });
              if (this.stopped) await this.opener.close(next.served);
              else this.active = next;
              return;
            } catch (err) {
              const delayMs = Math.min(30_000, 1000 * 2 ** attempt);
              this.runtime.logger.error('reopening a damaged generation failed; retrying', { role: this.role, generation: id, retryInMs: delayMs, error: errorMessage(err) });
              await this.pause(delayMs);
            }
          }
        } finally {
          this.rebuilding = undefined;
        }
      })
      .catch((err: unknown) => this.runtime.logger.error('could not rebuild a damaged generation', { role: this.role, generation: id, error: errorMessage(err) }));
    return 'rebuilding';
  }

  /** Waits `ms`, or less when the router stops. */
  private async pause(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.cancelRetry = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.cancelRetry = undefined;
  }

  /** Called with the new generation id after every switch (tests, logs). */
  onSwitch(listener: (id: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Serves the alias's generation, or — when the role has none yet — creates `initial` and makes it active. Then
   * follows the alias.
   */
  async start(initial: { spec: GenerationSpec; vectorWeight: number; chunkerSettings?: GenerationRecord['chunkerSettings'] }): Promise<void> {
    const { generations } = this.runtime;
    let { alias, revision } = await generations.alias(this.role);
    if (!alias) {
      const record = await generations.ensure(initial.spec, initial.vectorWeight, `${process.pid}`, undefined, initial.chunkerSettings);
      try {
        alias = await generations.switchAlias(this.role, record.id, revision);
      } catch {
        alias = (await generations.alias(this.role)).alias; // another node set it first
      }
      revision = -1;
    }
    if (!alias) throw new UnavailableError(`the ${this.role} alias could not be read; retry`);
    const record = await generations.get(this.role, alias.generation);
    if (!record) throw new ConfigError(`the ${this.role} alias points at generation ${alias.generation}, which has no record; run \`spanda projections rollback\``);
    this.active = await this.openEntry(record);
    this.runtime.logger.info('serving generation', { role: this.role, generation: record.id, model: record.spec.model.id, store: record.spec.store.kind });
    this.stopWatch = await generations.watchAlias(
      this.role,
      (next) => {
        this.target = next.generation;
        this.switching = this.switching.then(() => this.follow(next.generation));
      },
      (err) => this.runtime.logger.warn('alias watch interrupted; reopening', { role: this.role, error: errorMessage(err) }),
    );
  }

  /**
   * Switches to `id`, retrying with backoff (1 s doubling to 30 s) while the alias still points at it: a generation can
   * be briefly unopenable (its builder still releasing it, a remote store restarting). The old one serves meanwhile.
   */
  private async follow(id: string): Promise<void> {
    for (let attempt = 0; !this.stopped && this.target === id; attempt++) {
      try {
        await this.switchTo(id);
        return;
      } catch (err) {
        const delayMs = Math.min(30_000, 1000 * 2 ** attempt);
        this.runtime.logger.error('generation switch failed; the previous generation keeps serving, retrying', {
          role: this.role,
          generation: id,
          retryInMs: delayMs,
          error: errorMessage(err),
        });
        await this.pause(delayMs);
      }
    }
  }

  private async switchTo(id: string): Promise<void> {
    if (this.stopped || this.active?.served.id === id) return;
    const record = await this.runtime.generations.get(this.role, id);
    if (!record) throw new ConfigError(`the ${this.role} alias points at generation ${id}, which has no record`);
    const started = Date.now();
    this.runtime.logger.info('switching generation: catching up first', { role: this.role, from: this.active?.served.id, to: id });
    const entry = await this.openEntry(record);
    const next = entry.served;
    try {
      await next.projector?.waitUntil(() => next.projector?.caughtUp() ?? true, this.catchUpTimeoutMs);
      // Swapped in warm: the first keyword queries would otherwise wait for the rest of the keyword index's load.
      await next.warmUp?.();
    } catch (err) {
      await this.opener.close(next);
      throw err;
    }
    if (this.stopped) return this.opener.close(next);
    const old = this.active;
    this.active = entry;
    this.runtime.logger.info('serving generation', { role: this.role, generation: id, model: record.spec.model.id, catchUpMs: Date.now() - started });
    for (const listener of this.listeners) listener(id);
    if (old) await this.retire(old);
  }

  /** Closes a generation once its calls in flight have ended. */
  private async retire(entry: Entry<S>): Promise<void> {
    if (entry.inFlight > 0) await new Promise<void>((resolve) => (entry.retiring = resolve));
    await this.opener.close(entry.served);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopWatch?.();
    this.cancelRetry?.();
    await this.switching.catch(() => undefined);
    const entry = this.active;
    this.active = undefined;
    if (entry) await this.retire(entry);
  }
}
