// The generic projector: reads a projection's log slices from the store's checkpoints and applies them in batches.
import { DeliverPolicy, type Consumer, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { diskSpace, isFull, type DiskSpace } from '../lib/disk-space.ts';
import { LATE, within } from '../lib/within.ts';
import { TransientError, UnavailableError, ValidationError, errorMessage, isDiskFull } from '../lib/errors.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { burstWarning } from '../lib/log-burst.ts';
import { isDamagedDatabase } from './stores/sqlite/damaged-file.ts';
import { defaultMetrics, type SpandaMetrics } from '../lib/metrics.ts';
import { jetStreamCollectorFor } from '../lib/metrics-collector.ts';
import { createFreshnessProbe } from '../lib/metrics-freshness.ts';
import { sendToDlq } from '../streams/dlq.ts';
import type { SpandaEvent, StoredEvent } from '../streams/events/index.ts';
import { reportConsumerStalls } from '../streams/consumer-stalls.ts';
import { consumeOptions, type NatsHandle } from '../streams/nats.ts';
import { releaseConsumer } from '../streams/ordered.ts';
import { originCheckFor } from '../streams/origin.ts';
import { decodeMessage, registerReader } from '../streams/shared-decode.ts';
import { STREAMS } from '../streams/provision.ts';
import type { Projection, ProjectionSource } from './projection.ts';
import { lastSeq } from './read-your-writes.ts';
import type { ProjectionStore, StoreOp } from './store.ts';

export interface ProjectorOptions {
  readonly logger?: Logger;
  /** Most messages applied in one store transaction. */
  readonly batchSize?: number;
  /** Failed attempts in a row after which health() reports the projection as not advancing. Default 3. */
  readonly failuresBeforeUnhealthy?: number;
  /** Time without progress while work is pending after which health() reports a stall. Default 60 s. */
  readonly stallAfterMs?: number;
  /** Wait before retrying a failed batch, doubling while failures go on (defaults APPLY_RETRY_FIRST_MS, APPLY_RETRY_MAX_MS). */
  readonly applyRetryMs?: { readonly first: number; readonly max: number };
  /** The node's metrics (lib/metrics.ts); the process default when omitted. */
  readonly metrics?: SpandaMetrics;
  /**
   * Decode, origin-check and project the next batch while the store applies the current one (default false). Batches
   * still apply one at a time and in order; a replay turns it on to keep both the event loop and the store busy.
   */
  readonly pipeline?: boolean;
  /**
   * Once caught up, wait up to this long for a whole batch before applying a smaller one (default 0: apply what is
   * there at once), unless someone waits on a position (waitUntil). For a projection read rarely: fewer, larger
   * transactions and thread round trips for the same events, which leaves the cores to the projections that answer
   * queries.
   */
  readonly lingerMs?: number;
  /** Reads the disk space of the store's storageDir (default lib/disk-space.ts diskSpace; tests give another). */
  readonly readDisk?: (dir: string) => DiskSpace | undefined;
  /**
   * Told when a batch fails because the store's file is damaged (SQLITE_CORRUPT, SQLITE_NOTADB): retrying cannot help,
   * whoever serves the generation can set the file aside and rebuild it (GenerationRouter). The projector backs off meanwhile.
   */
  readonly onStoreDamaged?: (err: unknown) => void;
}

/** Whether the projection advances, for /readyz: a stuck projection serves stale answers while looking alive. */
export interface ProjectorHealth {
  readonly ok: boolean;
  /** Why it is not ok, or a short summary. */
  readonly detail: string;
  /** Failed attempts to apply since the last batch that applied. */
  readonly consecutiveFailures: number;
  readonly lastError?: string;
  /** Milliseconds since the last batch applied (0 while nothing is pending). */
  readonly msSinceProgress: number;
  /** Whether messages are waiting to be applied. */
  readonly pendingWork: boolean;
}

export interface SourcePosition {
  readonly key: string;
  /** The stream the slice is read from (several slices of one stream share its sequences). */
  readonly stream: string;
  /** Last stream sequence applied to the store. */
  readonly applied: number;
  /** Messages of this slice still in the stream after `applied` (as last reported by JetStream). */
  readonly pending: number;
  /** Messages of this slice applied (or dead-lettered) since the projector started. */
  readonly read: number;
}

export interface RunningProjector {
  readonly projection: string;
  positions(): SourcePosition[];
  /** True when every slice has been applied up to the head of its stream. */
  caughtUp(): boolean;
  health(): ProjectorHealth;
  /** Resolves once `predicate` holds after a batch has applied (checked at once too); rejects on timeout. */
  waitUntil(predicate: (positions: SourcePosition[]) => boolean, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
  readonly done: Promise<void>;
}

/** How long an idle projector waits for messages its sources still count as pending before asking the stream. */
export const PENDING_RECHECK_MS = 2000;

/** A failed batch is retried after 1 s, then 2, 4 … up to 30 s while the failures go on (back to 1 s after a success). */
export const APPLY_RETRY_FIRST_MS = 1000;
export const APPLY_RETRY_MAX_MS = 30_000;
/**
 * While a failed batch waits to be retried, how often it looks for what it waits on: room on the store's disk after it
 * filled up, or an answer from JetStream after the log could not be read.
 */
export const ROOM_CHECK_MS = 1000;

interface SourceState {
  readonly source: ProjectionSource;
  applied: number;
  pending: number;
  read: number;
  messages: ConsumerMessages | undefined;
  /** The ordered consumer the messages come from, deleted on the server when the source closes. */
  consumer: Consumer | undefined;
}

export function runProjector<Op = StoreOp>(
  handle: NatsHandle,
  projection: Projection<Op>,
  store: ProjectionStore<Op>,
  options: ProjectorOptions = {},
): RunningProjector {
  const log = (options.logger ?? silentLogger).child(`projector-${projection.name}`);
  const batchSize = options.batchSize ?? 500;
  const lingerMs = options.lingerMs ?? 0;
  const readDisk = options.readDisk ?? diskSpace;
  // What the store threw (rather than NATS): after those, an answer from JetStream does not end the retry's wait.
  const storeErrors = new WeakSet<object>();
  // Whether the last failed batch's wait ended early (see backOff); cleared when a batch applies.
  let retriedEarly = false;
  const fromStore = <T>(work: Promise<T>): Promise<T> =>
    work.catch((err: unknown) => {
      if (typeof err === 'object' && err !== null) storeErrors.add(err);
      throw err;
    });
  let lingering = false;
  const failuresBeforeUnhealthy = options.failuresBeforeUnhealthy ?? 3;
  const retry = options.applyRetryMs ?? { first: APPLY_RETRY_FIRST_MS, max: APPLY_RETRY_MAX_MS };
  const stallAfterMs = options.stallAfterMs ?? 60_000;
  const origin = originCheckFor(handle);
  let consecutiveFailures = 0;
  let lastError: string | undefined;
  let lastProgressAt = Date.now();
  const dlqName = `projection-${projection.name}`;
  const states: SourceState[] = projection.sources.map((source) => ({ source, applied: 0, pending: 0, read: 0, messages: undefined, consumer: undefined }));
  const queue: Array<{ state: SourceState; msg: JsMsg }> = [];
  // Messages read ahead of the store are bounded: a source waits for room, and the consumer sends its next pull only
  // when its iterator is read again. Unbounded, a catch-up or replay held most of the log in memory (and paid in GC).
  const maxQueued = 4 * batchSize;
  let roomWaiters: Array<() => void> = [];
  const freeRoom = () => {
    const waiting = roomWaiters;
    roomWaiters = [];
    for (const resume of waiting) resume();
  };
  const waiters = new Set<() => void>();
  let stopping = false;
  let wake: (() => void) | undefined;
  let reopenRequested = false;
  let generation = 0;
  const metrics = options.metrics ?? defaultMetrics();
  metrics.dlqEvents.labels(dlqName).inc(0);
  const unwatch = jetStreamCollectorFor(metrics, handle.jsm).watch({ dlqStage: dlqName });
  const unregister = projection.sources.map((source) => registerReader(source.stream, [source.filterSubject]));
  // Freshness counts only once the projector has reached the head of the log: the catch-up of a new generation (or a
  // replay) applies old events on purpose, and its progress shows in the pending gauge instead.
  let live = false;
  const freshness = createFreshnessProbe(metrics, async (seq) => {
    // Known when this process read the document (its chunker) or looked it up for the origin check.
    const known = origin.storedAt(seq);
    if (known !== undefined) return known;
    const m = await handle.jsm.streams.getMessage(STREAMS.DOCUMENTS, { seq }).catch(() => null);
    return m ? m.time.getTime() : undefined;
  });
  const reportHealth = () => {
    const h = health();
    metrics.projectionSecondsSinceProgress.labels(projection.name).set(h.msSinceProgress / 1000);
    metrics.projectionFailures.labels(projection.name).set(h.consecutiveFailures);
  };
  const healthTimer = setInterval(reportHealth, 5000);
  healthTimer.unref();

  const positions = (): SourcePosition[] => states.map((s) => ({ key: s.source.key, stream: s.source.stream, applied: s.applied, pending: s.pending, read: s.read }));
  const notify = () => waiters.forEach((w) => w());

  async function openSources(): Promise<void> {
    const checkpoints = await fromStore(store.checkpoints());
    const myGeneration = ++generation;
    for (const state of states) {
      state.applied = checkpoints[state.source.key] ?? 0;
      const consumer = await handle.js.consumers.get(state.source.stream, {
        filter_subjects: state.source.filterSubject,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: state.applied + 1,
      });
      state.consumer = consumer;
      const info = await consumer.info(true).catch(() => undefined);
      state.pending = info?.num_pending ?? 0;
      metrics.projectionPending.labels(projection.name, state.source.key).set(state.pending);
      metrics.projectionCheckpoint.labels(projection.name, state.source.key).set(state.applied);
      const messages = await consumer.consume(consumeOptions(batchSize));
      state.messages = messages;
      watchForRecreation(messages, myGeneration);
      const stalls = metrics.consumerStalls.labels(state.source.stream, `${projection.name}/${state.source.key}`);
      stalls.inc(0);
      reportConsumerStalls(messages, stalls, log, { source: state.source.key });
      void (async () => {
        for await (const msg of messages) {
          if (myGeneration !== generation) break;
          queue.push({ state, msg });
          // A lingering projector waits for a whole batch: waking it for each message re-armed its timer each time.
          if (!lingering || queue.length >= batchSize) wake?.();
          if (queue.length >= maxQueued) await new Promise<void>((resume) => roomWaiters.push(resume));
        }
      })().catch((err) => log.error('source stopped', { source: state.source.key, error: errorMessage(err) }));
    }
    live ||= states.every((s) => s.pending === 0);
    notify();
  }

  /**
   * After a broker restart the client recreates each ordered consumer where it left off, but (@nats-io/jetstream 3.3-3.4)
   * without forgetting the pull it had outstanding: its first pull asks for one message and the next waits until two
   * heartbeats are missed (two intervals of consumeOptions' heartbeats). The loop reopens every source from the store's
   * checkpoints instead, as it does after a failed batch: the same position, a fresh pull.
   */
  function watchForRecreation(messages: ConsumerMessages, myGeneration: number): void {
    void (async () => {
      for await (const status of messages.status()) {
        if (myGeneration !== generation || stopping) return;
        if (status.type === 'ordered_consumer_recreated') {
          reopenRequested = true;
          wake?.();
          return;
        }
      }
    })().catch(() => undefined);
  }

  /**
   * A source's pending count is the one its last message carried, as the server counted it at delivery. Messages
   * deleted from the stream after that count (limits, a purge) never arrive to correct it, and a nats-server 2.9
   * restarted after SIGKILL was seen to keep counting 11 that were not there: the projection had applied the last
   * EMBEDDINGS message yet reported "applying", then not ready ("no batch applied for 181 s while events are
   * pending"). When nothing has arrived for PENDING_RECHECK_MS, the stream's last sequence on the source's subjects
   * decides: at or below what is applied, nothing is pending.
   */
  async function reconcilePending(): Promise<void> {
    let changed = false;
    for (const state of states) {
      if (state.pending === 0) continue;
      const head = await lastSeq(handle, state.source.stream, state.source.filterSubject).catch(() => undefined);
      if (head === undefined || state.applied < head) continue;
      log.info('nothing left to read although the last message counted some pending; caught up', { source: state.source.key, applied: state.applied, counted: state.pending });
      state.pending = 0;
      metrics.projectionPending.labels(projection.name, state.source.key).set(0);
      changed = true;
    }
    if (!changed) return;
    live ||= states.every((s) => s.pending === 0);
    reportHealth();
    notify();
  }

  async function closeSources(): Promise<void> {
    generation++;
    freeRoom(); // a source waiting for room sees the new generation and stops
    await Promise.all(states.map((s) => s.messages?.close().catch(() => undefined)));
    for (const state of states) {
      if (state.consumer) releaseConsumer(state.consumer);
      state.consumer = undefined;
    }
    queue.length = 0;
    freeRoom();
  }

  // Junk injected onto a stream dead-letters thousands at once: one warning, then a count per window (each at debug).
  const warnDeadLettered = burstWarning(log, 'event sent to DLQ');
  async function deadLetter(msg: JsMsg, err: unknown): Promise<void> {
    const reason = err instanceof ValidationError ? err.message : `cannot project: ${errorMessage(err)}`;
    const { duplicate } = await sendToDlq(handle, dlqName, msg, reason, 1);
    if (!duplicate) metrics.dlqEvents.labels(dlqName).inc();
    const fields = { stream: msg.info.stream, seq: msg.seq, reason };
    // Another stage rejected the same event first and said so.
    if (duplicate) log.debug('event already in the DLQ (another stage rejected it)', fields);
    else warnDeadLettered(fields);
  }

  /**
   * Decodes, origin-checks and projects each message; one that cannot be projected goes to the DLQ and contributes no
   * ops. An UnavailableError (DOCUMENTS unreadable for the origin check) is thrown: the whole batch is retried.
   */
  async function project(batch: Array<{ state: SourceState; msg: JsMsg }>): Promise<Projected<Op>[]> {
    const decoded: Array<{ state: SourceState; msg: JsMsg; event: StoredEvent<SpandaEvent> | undefined }> = [];
    for (const { state, msg } of batch) {
      try {
        const event = decodeMessage(msg);
        decoded.push({ state, msg, event: projection.canHandle.includes(event.type) ? event : undefined });
      } catch (err) {
        await deadLetter(msg, err);
        decoded.push({ state, msg, event: undefined });
      }
    }
    const events = decoded.flatMap((d) => (d.event ? [d.event] : []));
    const checked = await origin.check(events);
    const verdicts = new Map(events.map((event, i) => [event, checked[i]]));
    const out: Projected<Op>[] = [];
    for (const { state, msg, event } of decoded) {
      let ops: Op[] = [];
      if (event) {
        const verdict = verdicts.get(event);
        try {
          if (verdict) throw verdict;
          ops = projection.project(event);
        } catch (err) {
          await deadLetter(msg, err);
        }
      }
      out.push({ state, msg, ops, ...(event && ops.length > 0 ? docSeqOf(event) : {}) });
    }
    return out;
  }

  /**
   * Applies events with their checkpoints. When the store refuses the batch for a reason that is not its own
   * unavailability, the batch is halved until the event it refuses stands alone: that event goes to the DLQ and the
   * rest applies. Retrying the same batch would never end, whatever the error class (ValidationError, RangeError,
   * a constraint error), and would stall every tenant behind one event.
   */
  async function applyIsolating(projected: readonly Projected<Op>[], probed = false): Promise<void> {
    try {
      await store.apply({ ops: projected.flatMap((p) => p.ops), checkpoints: checkpointsOf(projected) });
      return;
    } catch (err) {
      if (isStoreUnavailable(err)) throw err;
      // An error about the store rather than the events would dead-letter every event: make sure the store still
      // commits an empty batch before blaming them.
      if (!probed) await store.apply({ ops: [], checkpoints: {} }).catch((probe: unknown) => {
        throw new UnavailableError(`the store fails even an empty batch (${errorMessage(probe)}) after refusing events: ${errorMessage(err)}`, 5, { cause: err });
      });
      if (projected.length === 1) {
        const only = projected[0] as Projected<Op>;
        await deadLetter(only.msg, err);
        await store.apply({ ops: [], checkpoints: checkpointsOf(projected) });
        return;
      }
      const half = Math.ceil(projected.length / 2);
      await applyIsolating(projected.slice(0, half), true);
      await applyIsolating(projected.slice(half), true);
    }
  }

  /** A batch taken from the queue, its projection under way (errors surface when it is awaited). */
  interface Taken {
    readonly batch: Array<{ state: SourceState; msg: JsMsg }>;
    readonly projected: Promise<Projected<Op>[]>;
  }

  function take(): Taken {
    const batch = queue.splice(0, batchSize);
    if (queue.length < maxQueued) freeRoom();
    const projected = project(batch);
    projected.catch(() => undefined); // a batch projected ahead is dropped unawaited when the one before it fails
    return { batch, projected };
  }

  /** Applies `current`; with pipelining, projects the next queued batch meanwhile and returns it (not yet applied). */
  async function applyBatch(current: Taken): Promise<Taken | undefined> {
    const { batch } = current;
    const projected = await current.projected;
    const applying = fromStore(applyIsolating(projected));
    const ahead = options.pipeline && queue.length > 0 ? take() : undefined;
    await applying;
    consecutiveFailures = 0;
    retriedEarly = false;
    lastError = undefined;
    lastProgressAt = Date.now();
    for (const { state, msg } of batch) {
      state.applied = Math.max(state.applied, msg.seq);
      state.pending = msg.info.pending;
      state.read += 1;
    }
    for (const state of states) {
      metrics.projectionCheckpoint.labels(projection.name, state.source.key).set(state.applied);
      metrics.projectionPending.labels(projection.name, state.source.key).set(state.pending);
    }
    for (const [key, count] of countBy(batch.map((b) => b.state.source.key))) {
      metrics.projectionEvents.labels(projection.name, key).inc(count);
    }
    if (live) freshness.observe(projection.name, projected.flatMap((p) => (p.docSeq !== undefined ? [{ source: p.state.source.key, docSeq: p.docSeq }] : [])));
    live ||= states.every((s) => s.pending === 0);
    reportHealth();
    notify();
    return ahead;
  }

  /** Resolves at the next wake() (a message queued, a stop, a reopen, a waiter while lingering) or after `ms`. */
  async function woken(ms: number | undefined): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      wake = resolve;
      if (ms !== undefined) timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
    wake = undefined;
  }

  /**
   * Waits until a whole batch is queued, lingerMs have passed, someone waits on a position (waitUntil), or the projector
   * stops or must reopen its sources.
   */
  async function linger(): Promise<void> {
    lingering = true;
    // One timer for the whole wait (a flag, not the clock: a timer may fire a fraction of a millisecond early).
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      wake?.();
    }, lingerMs);
    try {
      while (queue.length < batchSize && waiters.size === 0 && !stopping && !reopenRequested && !expired) await woken(undefined);
    } finally {
      clearTimeout(timer);
      lingering = false;
    }
  }

  /**
   * Waits `delayMs` before a failed batch is tried again, ending the wait early when what failed is back: after a
   * failure for want of space, once the store's disk has been full and has room again (the operator freed space);
   * after the log could not be read, once JetStream answers (a broker restarted, its full disk freed). Both are looked
   * at every ROOM_CHECK_MS. Returns whether it ended early; the caller allows that once per run of failures, so a
   * cause that is not what it seemed is retried on the backoff's schedule, never in a tight loop.
   */
  async function backOff(delayMs: number, waitFor: { readonly storageDir: string | undefined; readonly jetStream: boolean }): Promise<boolean> {
    const until = Date.now() + delayMs;
    const { storageDir } = waitFor;
    const full = () => storageDir !== undefined && isFull(readDisk(storageDir));
    const jetStreamAnswers = async () => (await within(handle.jsm.getAccountInfo(), ROOM_CHECK_MS).catch(() => LATE)) !== LATE;
    const lookForRoom = full();
    const lookForJetStream = waitFor.jetStream;
    while (!stopping && Date.now() < until) {
      await woken(lookForRoom || lookForJetStream ? Math.min(ROOM_CHECK_MS, until - Date.now()) : until - Date.now());
      if (stopping || Date.now() >= until) return false;
      if (lookForRoom && !full()) {
        log.info('the disk holding the store has room again; applying now', { storageDir });
        return true;
      }
      if (lookForJetStream && (await jetStreamAnswers())) {
        log.info('JetStream answers; resuming now');
        return true;
      }
    }
    return false;
  }

  async function loop(): Promise<void> {
    while (!stopping) {
      try {
        await openSources();
        log.info('started', { from: Object.fromEntries(states.map((s) => [s.source.key, s.applied])) });
        let ahead: Taken | undefined;
        let stillExpecting = false;
        while (!stopping) {
          if (reopenRequested) {
            // Between batches: everything applied is checkpointed, and a batch projected ahead is read again.
            reopenRequested = false;
            ahead = undefined;
            log.info('the broker recreated a consumer; reopening the sources from the store\'s checkpoints');
            await closeSources();
            if (stopping) break;
            await openSources();
            continue;
          }
          if (ahead) {
            ahead = await applyBatch(ahead);
            continue;
          }
          if (queue.length === 0) {
            // Waiting with nothing queued is not a stall: progress is measured from the moment work arrives. A wait
            // that goes on past a recheck with messages still pending keeps its clock, so a source that stopped
            // delivering still shows as stalled in health().
            if (!stillExpecting) lastProgressAt = Date.now();
            const expecting = states.some((s) => s.pending > 0);
            await woken(expecting ? PENDING_RECHECK_MS : undefined);
            const nothingCame = queue.length === 0 && !stopping && !reopenRequested;
            if (expecting && nothingCame) await reconcilePending();
            stillExpecting = nothingCame && states.some((s) => s.pending > 0);
            if (!stillExpecting) lastProgressAt = Date.now();
            continue;
          }
          stillExpecting = false;
          if (lingerMs > 0 && live && queue.length < batchSize) await linger();
          if (stopping || reopenRequested) continue;
          ahead = await applyBatch(take());
        }
      } catch (err) {
        if (stopping) break;
        // Nothing was applied from the failed batch: reopen from the store's checkpoints and try again.
        consecutiveFailures += 1;
        if (isDamagedDatabase(err)) options.onStoreDamaged?.(err);
        const message = isDiskFull(err)
          ? `${errorMessage(err)} (the disk holding the store is full: free space on it or move the data dir)`
          : isDamagedDatabase(err)
            ? options.onStoreDamaged
              ? `${errorMessage(err)} (the store file is damaged; the node's log says whether it is being set aside and built again from the log)`
              : `${errorMessage(err)} (the store file is damaged: stop the node and delete or move the file; the next start builds it again from the log)`
            : errorMessage(err);
        // A failure that lasts (a full disk, a store that is down) is retried ever less often, and logged as an error
        // when it starts or changes, as a warning while it goes on.
        const delayMs = Math.min(retry.max, retry.first * 2 ** Math.min(consecutiveFailures - 1, 16));
        const fields = { error: message, failures: consecutiveFailures };
        const text = `apply failed; resuming from the last checkpoint in ${delayMs / 1000} s`;
        if (consecutiveFailures === 1 || message !== lastError) log.error(text, fields);
        else log.warn(text, fields);
        lastError = message;
        await closeSources();
        // One early retry per run of failures: if it fails too, the next waits its whole backoff.
        const mayEndEarly = !retriedEarly;
        const fromLog = typeof err === 'object' && err !== null && !storeErrors.has(err);
        retriedEarly = await backOff(delayMs, { storageDir: mayEndEarly && isDiskFull(err) ? store.storageDir : undefined, jetStream: mayEndEarly && fromLog });
      }
    }
    await closeSources();
  }

  function health(): ProjectorHealth {
    const pendingWork = queue.length > 0 || states.some((s) => s.pending > 0);
    const msSinceProgress = pendingWork ? Date.now() - lastProgressAt : 0;
    const base = { consecutiveFailures, msSinceProgress, pendingWork, ...(lastError !== undefined ? { lastError } : {}) };
    if (consecutiveFailures >= failuresBeforeUnhealthy) {
      return { ...base, ok: false, detail: `applying failed ${consecutiveFailures} times in a row; last error: ${lastError ?? 'unknown'}` };
    }
    if (pendingWork && msSinceProgress > stallAfterMs) {
      return { ...base, ok: false, detail: `no batch applied for ${Math.round(msSinceProgress / 1000)} s while events are pending${lastError ? `; last error: ${lastError}` : ''}` };
    }
    return { ...base, ok: true, detail: pendingWork ? 'applying' : 'caught up' };
  }

  const done = loop();

  return {
    projection: projection.name,
    done,
    positions,
    caughtUp: () => queue.length === 0 && states.every((s) => s.pending === 0),
    health,
    waitUntil: (predicate, timeoutMs) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (predicate(positions())) {
            cleanup();
            resolve();
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`projection ${projection.name} did not reach the expected position within ${timeoutMs} ms`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
        // Someone waits: a lingering projector applies what it holds now.
        if (lingering && waiters.has(check)) wake?.();
      }),
    stop: async () => {
      stopping = true;
      wake?.();
      await closeSources();
      await done;
      clearInterval(healthTimer);
      unwatch();
      unregister.forEach((release) => release());
      log.info('stopped');
    },
  };
}

function countBy(keys: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
  return counts;
}

interface Projected<Op> {
  readonly state: SourceState;
  readonly msg: JsMsg;
  readonly ops: Op[];
  /** The document version the event carries (for the freshness metric). */
  readonly docSeq?: number;
}

function docSeqOf(event: StoredEvent<SpandaEvent>): { docSeq?: number } {
  const docSeq = (event.data as { docSeq?: unknown }).docSeq;
  return typeof docSeq === 'number' ? { docSeq } : {};
}

/** The last sequence of each source in these events: what the store holds once they are applied. */
function checkpointsOf(projected: readonly Projected<unknown>[]): Record<string, number> {
  const checkpoints: Record<string, number> = {};
  for (const { state, msg } of projected) checkpoints[state.source.key] = Math.max(checkpoints[state.source.key] ?? 0, msg.seq);
  return checkpoints;
}

// SQLite result codes that describe the database or its file, never the data written.
const UNAVAILABLE_SQLITE = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|NOMEM|READONLY|PROTOCOL|NOTADB|CORRUPT|INTERRUPT)/;

/**
 * True when an error says the store itself cannot take writes now (closed, busy, disk full, I/O): the batch is retried
 * whole. Any other error is taken to be about the events, which are then isolated.
 */
export function isStoreUnavailable(err: unknown): boolean {
  if (err instanceof UnavailableError || err instanceof TransientError) return true;
  if (!(err instanceof Error)) return false;
  const code = (err as Error & { code?: unknown }).code;
  if (typeof code === 'string' && UNAVAILABLE_SQLITE.test(code)) return true;
  return /database connection is not open|database is closed|store is closed/i.test(err.message);
}
