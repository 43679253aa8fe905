// Rebuilding a projection by replay: a new generation beside the live one, caught up, verified against the log, then swapped.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, ValidationError } from '../lib/errors.ts';
import { lockFile, lockHolder } from '../lib/data-dir-lock.ts';
import { generationToBuild, type BuildTarget, type GenerationRecord, type GenerationSpec } from './generations.ts';
import { logDigest, type FoldProgress } from './log-digest.ts';
import { awaitBackfill } from './backfill.ts';
import { lastSeq } from './read-your-writes.ts';
import { runProjector } from './projector.ts';
import type { NatsHandle } from '../streams/nats.ts';
import type { ProjectionSource } from './projection.ts';
import type { GenerationRuntime } from './serving.ts';
import type { InferenceStore, StoreSnapshot } from './store.ts';
import { storeFactory } from './stores/registry.ts';
import { SqliteInferenceStore } from './stores/sqlite/sqlite-store.ts';
import { awaitCatchUp } from './catch-up-progress.ts';
import { sqliteStorePath } from './stores/sqlite/factory.ts';
import { openSettingAsideDamaged } from './stores/sqlite/damaged-file.ts';
import { requireStoreFile } from './stores/existing-file.ts';

export interface ReplayProgress {
  readonly phase: 'backfill' | 'project' | 'verify' | 'swap';
  /**
   * During backfill, the stage waited for ("chunker", "embedder hash-256"); during verify, the slices of the log read
   * again (at the same time, as one: "CHUNKS + EMBEDDINGS:hash-256", read and total summed).
   */
  readonly slice?: string;
  readonly applied: number;
  readonly total: number;
}

export interface ReplayResult {
  readonly generation: string;
  readonly previous: string | undefined;
  readonly model: string;
  readonly store: string;
  readonly checkpoints: Record<string, number>;
  readonly digest: string;
  readonly verified: boolean;
  /** True when it continued a generation an earlier (stopped or killed) replay of the same settings left unfinished. */
  readonly resumed: boolean;
  readonly ms: number;
}

export interface ReplayOptions {
  readonly vectorWeight: number;
  /** Start every slice at this sequence instead of 1 (a partial generation; verify compares the same slices). */
  readonly fromSeq?: number;
  readonly verify?: boolean;
  readonly onProgress?: (progress: ReplayProgress) => void;
  /** Told which generation the replay builds, and whether it resumes one an earlier replay left unfinished. */
  readonly onTarget?: (target: BuildTarget) => void;
  /** How long the model's embedder may take to backfill before the replay gives up (default 1 h). */
  readonly backfillTimeoutMs?: number;
  /** How long a stage may stand still with nobody pulling before the replay says no node runs it (BACKFILL_IDLE_MS). */
  readonly backfillIdleMs?: number;
  /** The chunker settings behind spec.chunker, kept on the record so nodes can keep chunking for the generation. */
  readonly chunkerSettings?: GenerationRecord['chunkerSettings'];
}

export class DigestMismatchError extends ValidationError {
  constructor(
    message: string,
    readonly differing: readonly string[],
  ) {
    super(message, differing.slice(0, 20).map((d) => `differs: ${d.replaceAll('\u0000', '/')}`));
  }
}

/** Documents whose hashes differ between two per-document hash maps (either side missing counts). */
export function differingDocuments(a: Record<string, string>, b: Record<string, string>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => a[k] !== b[k]).sort();
}

/**
 * Builds `spec` as a new generation of its role next to the active one, catches up with the head of the log (after the
 * model's embedder has backfilled), verifies the digest against one computed from the log, then switches the alias
 * with a compare-and-set against the revision read at the start (two replays can never both win). Serving nodes
 * follow the alias and swap without restart.
 */
export async function replayGeneration(runtime: GenerationRuntime, spec: GenerationSpec, options: ReplayOptions): Promise<ReplayResult> {
  const started = performance.now();
  const { handle, generations } = runtime;
  const role = spec.role;
  const { alias, revision } = await generations.alias(role);
  const lockOf = (generation: string): string => path.join(runtime.storeConfig.dataDir, role, `${generation}.lock`);
  if (options.fromSeq !== undefined) await checkFromSeq(handle, runtime.projectionFor(spec).sources, options.fromSeq);
  // A store that is not configured fails here, before a generation is recorded that nothing would ever build.
  const factory = await storeFactory(spec.store.kind);
  factory.checkConfig?.(runtime.storeConfig);
  const { id, resumed } = await generationToBuild(generations, spec, (generation) => lockHolder(lockOf(generation)), options.fromSeq);
  const record: GenerationRecord = await generations.ensure(spec, options.vectorWeight, `${process.pid}`, id, options.chunkerSettings, options.fromSeq);
  const target = { role, generation: id, config: runtime.storeConfig };
  if (factory.kind === 'sqlite') await mkdir(path.dirname(sqliteStorePath(target)), { recursive: true });
  const lock = await lockFile(lockOf(id), `generation ${id}`);
  options.onTarget?.({ id, resumed });
  const progress = options.onProgress ?? (() => undefined);
  try {
    const model = spec.model;
    const projection = runtime.projectionFor(spec);
    // The store (a worker thread to start, for SQLite) opens while the log is checked for backfill.
    const open = () => factory.open({ ...target, model: { id: model.id, dims: model.dims }, mode: 'build' });
    // A resumed build whose file was damaged (a crash on a bad disk) starts over in a new file.
    const opening = factory.kind === 'sqlite' ? openSettingAsideDamaged(sqliteStorePath(target), open, runtime.logger) : open();
    const giveUp = new AbortController();
    let store: InferenceStore;
    try {
      const backfill = awaitBackfill(handle, spec, {
        timeoutMs: options.backfillTimeoutMs ?? 60 * 60_000,
        ...(options.backfillIdleMs !== undefined ? { idleMs: options.backfillIdleMs } : {}),
        onProgress: progress,
        signal: giveUp.signal,
      });
      [store] = await Promise.all([opening, backfill]);
    } catch (err) {
      giveUp.abort(); // a store that failed to open stops the backfill wait
      await opening.then((s) => s.close()).catch(() => undefined);
      throw err;
    }
    let checkpoints: Record<string, number>;
    let built: StoreSnapshot | undefined;
    try {
      if (options.fromSeq !== undefined && Object.keys(await store.checkpoints()).length === 0) {
        const start = Object.fromEntries(projection.sources.map((s) => [s.key, Math.max(0, (options.fromSeq as number) - 1)]));
        await store.apply({ ops: [], checkpoints: start });
      }
      const heads = async (): Promise<Record<string, number>> => {
        const out: Record<string, number> = {};
        for (const s of projection.sources) out[s.key] = await lastSeq(handle, s.stream, s.filterSubject);
        return out;
      };
      const projector = runProjector(handle, projection, store, { logger: runtime.logger, batchSize: 1000, pipeline: true });
      try {
        await awaitCatchUp(projector, await heads(), (p) => progress({ phase: 'project', ...p }), 'the new generation');
      } finally {
        await projector.stop();
      }
      progress({ phase: 'verify', applied: 0, total: 1 });
      // Digested while the build still has the store open: SQLite's worker digests half of the documents meanwhile.
      built = await store.snapshot?.();
      checkpoints = built?.checkpoints ?? (await store.checkpoints());
    } finally {
      await store.close();
    }

    const { digest, documents } = built ?? (await storeSnapshot(runtime, record));
    let verified = false;
    if (options.verify ?? true) {
      const expected = await logDigest(
        handle,
        runtime.projectionFor(spec),
        spec.model,
        checkpoints,
        (p) => progress({ phase: 'verify', slice: p.source, applied: p.read, total: p.total }),
        options.fromSeq,
      );
      if (expected.digest !== digest) {
        const differing = documents ? differingDocuments(documents, expected.documents) : [];
        throw new DigestMismatchError(
          `generation ${id} does not match the log (store ${digest}, log ${expected.digest}); ${differing.length} documents differ; the alias was not switched`,
          differing,
        );
      }
      verified = true;
    }
    progress({ phase: 'swap', applied: 1, total: 1 });
    await generations.update(role, id, (r) => ({ ...r, state: 'ready', checkpoints, digest }));
    await factory.activate?.({ role, generation: id, config: runtime.storeConfig });
    // Let go of the generation before the alias points at it: the serving node takes its lock as it opens it.
    await lock.release();
    await generations.switchAlias(role, id, revision);
    return {
      generation: id,
      previous: alias?.generation,
      model: model.id,
      store: spec.store.kind,
      checkpoints,
      digest,
      verified,
      resumed,
      ms: Math.round(performance.now() - started),
    };
  } finally {
    await lock.release();
  }
}

/**
 * Refuses a start past the end of a source's stream (the generation's checkpoint would claim the events up to it, so
 * the ones the stream stores there later would never be applied, and it would look caught up while empty), and a start
 * where the stream still holds earlier events: --from-seq is for a log whose start is gone, and a generation that left
 * out events the log holds would never match it (verify fails, and so does every resume).
 */
async function checkFromSeq(handle: NatsHandle, sources: readonly ProjectionSource[], fromSeq: number): Promise<void> {
  for (const stream of new Set(sources.map((s) => s.stream))) {
    const { first_seq: first, last_seq: last, messages } = (await handle.jsm.streams.info(stream)).state;
    if (fromSeq - 1 > last) {
      throw new ValidationError(
        `--from-seq ${fromSeq} is past the end of ${stream} (its last sequence is ${last}): a generation started there would skip the events ${stream} stores up to ${fromSeq - 1}; use at most ${last + 1}`,
      );
    }
    if (messages > 0 && first < fromSeq) {
      throw new ValidationError(
        `--from-seq ${fromSeq} would leave out what ${stream} still holds from sequence ${first}: --from-seq is for a log whose start is gone, and a generation without those events would never match the log; replay without --from-seq`,
      );
    }
  }
}

/**
 * A generation's digest with the checkpoints it was taken at, and per-document hashes where the store can give them.
 * SQLite is read in one transaction (consistent while a serving node writes); other stores are read twice until their
 * checkpoints hold still.
 */
export async function storeSnapshot(
  runtime: GenerationRuntime,
  record: GenerationRecord,
): Promise<{ digest: string; checkpoints: Record<string, number>; documents: Record<string, string> | undefined }> {
  const target = { role: record.spec.role, generation: record.id, config: runtime.storeConfig };
  const model = { id: record.spec.model.id, dims: record.spec.model.dims };
  if (record.spec.store.kind === 'sqlite') {
    // Read for its digest only: no search, so no in-memory index to build (seconds at 100k chunks).
    const file = sqliteStorePath(target);
    requireStoreFile(file, target.role, target.generation);
    const store = SqliteInferenceStore.open({ path: file, model, mode: 'build' });
    try {
      const snap = store.snapshot();
      return { digest: snap.digest, checkpoints: snap.checkpoints, documents: snap.documents };
    } finally {
      store.close();
    }
  }
  const store = await (await storeFactory(record.spec.store.kind)).open({ ...target, model });
  try {
    for (let attempt = 0; ; attempt++) {
      const before = await store.checkpoints();
      const digest = await store.digest();
      const after = await store.checkpoints();
      if (JSON.stringify(before) === JSON.stringify(after) || attempt >= 5) return { digest, checkpoints: after, documents: undefined };
    }
  } finally {
    await store.close();
  }
}

export interface VerifyResult {
  readonly generation: string;
  readonly ok: boolean;
  readonly digest: string;
  readonly logDigest: string;
  readonly checkpoints: Record<string, number>;
  /** Documents (tenant/source/id) whose content differs from the log; empty when ok or when the store cannot say. */
  readonly differing: readonly string[];
}

/** Compares a generation (the active one by default) with a digest computed straight from the log at its checkpoints. */
export async function verifyGeneration(
  runtime: GenerationRuntime,
  role: string,
  id?: string,
  /**
   * The log's digest is the long part (every message of the slices read again): how far it is (the slices are read at
   * once and reported as one).
   */
  onProgress?: (progress: FoldProgress) => void,
): Promise<VerifyResult> {
  const generation = id ?? (await runtime.generations.alias(role)).alias?.generation;
  if (generation === undefined) throw new ConfigError(`the ${role} projection has no active generation yet; start a node first`);
  const record = await runtime.generations.get(role, generation);
  if (!record) throw new ConfigError(`no generation ${generation} for the ${role} projection; see \`spanda projections list\``);
  const snapshot = await storeSnapshot(runtime, record);
  const expected = await logDigest(runtime.handle, runtime.projectionFor(record.spec), record.spec.model, snapshot.checkpoints, onProgress, record.fromSeq);
  const ok = expected.digest === snapshot.digest;
  return {
    generation,
    ok,
    digest: snapshot.digest,
    logDigest: expected.digest,
    checkpoints: snapshot.checkpoints,
    differing: ok || !snapshot.documents ? [] : differingDocuments(snapshot.documents, expected.documents).map((d) => d.replaceAll('\u0000', '/')),
  };
}
