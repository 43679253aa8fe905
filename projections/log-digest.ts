// The digest a projection should have, computed straight from the log: its slices folded into a throwaway store.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { errorMessage, UnavailableError, type ValidationError } from '../lib/errors.ts';
import { isAlive } from '../lib/processes.ts';
import { decodeEvent, headersOf } from '../streams/codec.ts';
import type { SpandaEvent, StoredEvent } from '../streams/events/index.ts';
import { originCheckFor, type OriginCheck } from '../streams/origin.ts';
import type { NatsHandle } from '../streams/nats.ts';
import { READ_RESUME, readSlice, STOP_READING } from '../streams/read.ts';
import type { Projection } from './projection.ts';
import type { StoreOp } from './store.ts';
import { isStoreUnavailable } from './projector.ts';
import { WorkerInferenceStore } from './stores/sqlite/worker-store.ts';

export interface LogDigest {
  readonly digest: string;
  /** Per-document hashes (documentKey → hash), to name the documents a store has wrong. */
  readonly documents: Record<string, string>;
  readonly events: number;
}

/**
 * Applies the projection's slices up to `checkpoints` (what the store under test says it applied) to a throwaway
 * SQLite store (a file in the temp dir, removed after) and digests it. Events the projection refuses are skipped
 * exactly as the projector skips them (they are in the DLQ). CHUNKS and EMBEDDINGS are read at the same time, each in
 * order: the docSeq guard makes the order between slices irrelevant (the conformance suite checks that every store
 * reaches the same digest whatever the interleaving), and a document's vectors are then checked against DOCUMENTS
 * while its chunks' lookups are still in the origin check's cache.
 */
export async function logDigest(
  handle: NatsHandle,
  projection: Projection,
  model: { id: string; dims: number },
  checkpoints: Readonly<Record<string, number>>,
  onProgress?: (progress: FoldProgress) => void,
  /** The sequence the generation's slices started at (a replay with --from-seq): the log is read from there too. */
  fromSeq?: number,
): Promise<LogDigest> {
  // Digested only, never searched nor served: no in-memory index to keep, no commit to make durable. A throwaway file in a
  // worker of its own, so the worker applies a batch while this thread reads and decodes the next, and both threads
  // digest a share of it at the end (150k chunks: the fold took 17-18 s in this thread with an in-memory store).
  await removeAbandoned();
  const dir = await mkdtemp(path.join(os.tmpdir(), `${DIGEST_DIR_PREFIX}${process.pid}-`));
  try {
    const store = await WorkerInferenceStore.open({ path: path.join(dir, 'digest.sqlite'), model: { id: model.id, dims: model.dims }, mode: 'digest' });
    // What the throwaway store itself failed with: only that is about the temp dir. JetStream going away mid-read is an
    // UnavailableError too, and says so in its own words.
    const storeFailures = new Set<unknown>();
    const fromStore = async <T>(work: Promise<T>): Promise<T> => {
      try {
        return await work;
      } catch (err) {
        storeFailures.add(err);
        throw err;
      }
    };
    const applyToStore = (ops: StoreOp[]) => fromStore(store.apply({ ops, checkpoints: {} }));
    try {
      const events = await foldLog(handle, projection, checkpoints, applyToStore, {
        ...(onProgress ? { onProgress } : {}),
        // A batch of events in one transaction; one the store refuses rolls it back, and its events go one at a time.
        applyAll: applyToStore,
        slicesAtOnce: true,
        ...(fromSeq !== undefined ? { fromSeq } : {}),
      });
      const { digest, documents } = await fromStore(store.snapshot());
      return { digest, documents, events };
    } catch (err) {
      if (!isStoreUnavailable(err) || !storeFailures.has(err)) throw err;
      throw new UnavailableError(
        `computing the log's digest needs a throwaway store about as large as the generation in ${os.tmpdir()}, which failed (${errorMessage(err)}): free space there or point TMPDIR at a larger disk`,
        5,
        { cause: err },
      );
    } finally {
      await store.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const DIGEST_DIR_PREFIX = 'spanda-log-digest-';

/** Removes the digest files of processes that died before they could (killed mid-verify); they hold a store's worth of data. */
async function removeAbandoned(): Promise<void> {
  const entries = await readdir(os.tmpdir()).catch(() => [] as string[]);
  await Promise.all(
    entries.map(async (name) => {
      const pid = Number(/^spanda-log-digest-(\d+)-/.exec(name)?.[1]);
      if (!Number.isSafeInteger(pid) || isAlive(pid)) return;
      await rm(path.join(os.tmpdir(), name), { recursive: true, force: true }).catch(() => undefined);
    }),
  );
}

/** How far the fold is in one slice: messages read, of about `total` (exact once the slice is done). */
export interface FoldProgress {
  readonly source: string;
  readonly read: number;
  readonly total: number;
}

export interface FoldOptions<Op> {
  readonly onProgress?: (progress: FoldProgress) => void;
  /**
   * Applies the ops of a whole batch of events at once, all or nothing (one transaction). When it throws, the batch's
   * events are applied one at a time with `apply`, so a refused event is skipped alone. Without it, every event is.
   */
  readonly applyAll?: (ops: Op[]) => void | Promise<void>;
  /**
   * Reads the slices at the same time rather than one after the other, for a projection whose result does not depend on
   * the order between its slices (the inference projection: the docSeq guard; its store conformance suite checks every
   * interleaving). Progress is then reported as one slice, the sum of them all.
   */
  readonly slicesAtOnce?: boolean;
  /** Start every slice at this sequence instead of 1. */
  readonly fromSeq?: number;
}

/**
 * Feeds a projection's slices up to `checkpoints` through the projection (a batch of events at a time with
 * `options.applyAll`, else one event's ops at a time), skipping what the projector would dead-letter: events that do
 * not decode, fail the origin check, or that the projection or `apply` refuses. Returns how many messages were read.
 * The basis of every digest computed straight from the log.
 */
export async function foldLog<Op>(
  handle: NatsHandle,
  projection: Projection<Op>,
  checkpoints: Readonly<Record<string, number>>,
  apply: (ops: Op[]) => void | Promise<void>,
  options: FoldOptions<Op> = {},
): Promise<number> {
  const origin = originCheckFor(handle);
  const onProgress = options.onProgress;
  // Slices read at once report as one, once each has announced its size: the sum of what each has read, of the sum of
  // their sizes.
  const together = options.slicesAtOnce === true && projection.sources.length > 1;
  const counts = new Map<string, { read: number; total: number }>();
  const report = (key: string, read: number, total: number) => {
    if (!onProgress) return;
    if (!together) return onProgress({ source: key, read, total });
    counts.set(key, { read, total });
    if (counts.size < projection.sources.length) return;
    let sumRead = 0;
    let sumTotal = 0;
    for (const c of counts.values()) {
      sumRead += c.read;
      sumTotal += c.total;
    }
    onProgress({ source: projection.sources.map((s) => s.key).join(' + '), read: sumRead, total: sumTotal });
  };

  // A slice that fails stops the others at their next batch (read at once, they would otherwise read to their end).
  let failed = false;
  const foldSlice = async (source: Projection<Op>['sources'][number]): Promise<number> => {
    try {
      return await foldOneSlice(source);
    } catch (err) {
      failed = true;
      throw err;
    }
  };
  const foldOneSlice = async (source: Projection<Op>['sources'][number]): Promise<number> => {
    let total = 0;
    let read = 0;
    let applying: Promise<void> = Promise.resolve();
    const slice = {
      stream: source.stream,
      filterSubject: source.filterSubject,
      upTo: checkpoints[source.key] ?? 0,
      batchSize: 1000,
      ...(options.fromSeq !== undefined ? { fromSeq: options.fromSeq } : {}),
      ...(onProgress ? { onSize: (n: number) => report(source.key, 0, (total = n)) } : {}),
    };
    await readSlice(handle, slice, async (messages) => {
      if (failed) return STOP_READING;
      const decoded: StoredEvent<SpandaEvent>[] = [];
      for (const msg of messages) {
        try {
          const event = decodeEvent({ subject: msg.subject, data: msg.data, headers: headersOf(msg) }, { stream: msg.info.stream, seq: msg.seq });
          if (projection.canHandle.includes(event.type)) decoded.push(event);
        } catch {
          // refused by decoding: the projector dead-letters these
        }
      }
      const verdicts = await checkOrigins(origin, decoded);
      const projected: Op[][] = [];
      for (const [i, event] of decoded.entries()) {
        if (verdicts[i]) continue;
        try {
          projected.push(projection.project(event));
        } catch {
          // refused by the projection: dead-lettered by the projector
        }
      }
      // The next batch is fetched and decoded while this one applies (in a store's worker): one batch in flight, in order.
      await applying;
      applying = applyEvents(projected, apply, options.applyAll);
      applying.catch(() => undefined); // surfaces at the next await
      read += messages.length;
      report(source.key, read, Math.max(total, read));
    });
    await applying;
    report(source.key, read, read);
    return read;
  };

  let events = 0;
  if (together) for (const read of await Promise.all(projection.sources.map(foldSlice))) events += read;
  else for (const source of projection.sources) events += await foldSlice(source);
  return events;
}

/**
 * The origin check of a batch, asked again while JetStream cannot answer (a nats-server restarting under a long
 * verify) for as long as readSlice resumes its reads (READ_RESUME): a digest either covers the whole log or fails.
 */
async function checkOrigins(origin: OriginCheck, events: readonly StoredEvent<SpandaEvent>[]): Promise<Array<ValidationError | undefined>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await origin.check(events);
    } catch (err) {
      if (!(err instanceof UnavailableError) || attempt >= READ_RESUME.attempts) throw err;
      await sleep(READ_RESUME.pauseMs);
    }
  }
}

/**
 * Applies the ops of a batch of events (one list per event, in log order): all at once with `applyAll` when given and it
 * takes them, else one event at a time with `apply`, skipping the events it refuses (the projector dead-letters them).
 * `applyAll` must be all or nothing, or a batch it refuses halfway would be applied twice.
 */
export async function applyEvents<Op>(projected: readonly Op[][], apply: (ops: Op[]) => void | Promise<void>, applyAll?: (ops: Op[]) => void | Promise<void>): Promise<void> {
  // A store that cannot write (disk full, I/O, closed) refuses every event: that is an error, not events to skip.
  if (applyAll) {
    try {
      await applyAll(projected.flat());
      return;
    } catch (err) {
      if (isStoreUnavailable(err)) throw err;
      // an event of the batch is refused: find it by applying them one at a time
    }
  }
  for (const ops of projected) {
    try {
      await apply(ops);
    } catch (err) {
      if (isStoreUnavailable(err)) throw err;
      // refused by the store: dead-lettered by the projector
    }
  }
}
