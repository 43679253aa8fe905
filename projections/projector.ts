// The generic projector: reads a projection's log slices from the store's checkpoints and applies them in batches.
import { DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { ValidationError, errorMessage } from '../lib/errors.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { metrics } from '../lib/metrics.ts';
import { decodeEvent } from '../streams/codec.ts';
import type { NatsHandle } from '../streams/nats.ts';
import { sendToDlq } from '../processors/runner.ts';
import type { Projection, ProjectionSource } from './projection.ts';
import type { InferenceStore, StoreOp } from './store.ts';

export interface ProjectorOptions {
  readonly logger?: Logger;
  /** Most messages applied in one store transaction. */
  readonly batchSize?: number;
}

export interface SourcePosition {
  readonly key: string;
  /** Last stream sequence applied to the store. */
  readonly applied: number;
  /** Messages of this slice still in the stream after `applied` (as last reported by JetStream). */
  readonly pending: number;
}

export interface RunningProjector {
  readonly projection: string;
  positions(): SourcePosition[];
  /** True when every slice has been applied up to the head of its stream. */
  caughtUp(): boolean;
  /** Resolves once `predicate` holds after a batch has applied (checked at once too); rejects on timeout. */
  waitUntil(predicate: (positions: SourcePosition[]) => boolean, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
  readonly done: Promise<void>;
}

interface SourceState {
  readonly source: ProjectionSource;
  applied: number;
  pending: number;
  messages: ConsumerMessages | undefined;
}

export function runProjector(handle: NatsHandle, projection: Projection, store: InferenceStore, options: ProjectorOptions = {}): RunningProjector {
  const log = (options.logger ?? silentLogger).child(`projector-${projection.name}`);
  const batchSize = options.batchSize ?? 500;
  const dlqName = `projection-${projection.name}`;
  const states: SourceState[] = projection.sources.map((source) => ({ source, applied: 0, pending: 0, messages: undefined }));
  const queue: Array<{ state: SourceState; msg: JsMsg }> = [];
  const waiters = new Set<() => void>();
  let stopping = false;
  let wake: (() => void) | undefined;
  let generation = 0;

  const positions = (): SourcePosition[] => states.map((s) => ({ key: s.source.key, applied: s.applied, pending: s.pending }));
  const notify = () => waiters.forEach((w) => w());

  async function openSources(): Promise<void> {
    const checkpoints = await store.checkpoints();
    const myGeneration = ++generation;
    for (const state of states) {
      state.applied = checkpoints[state.source.key] ?? 0;
      const consumer = await handle.js.consumers.get(state.source.stream, {
        filter_subjects: state.source.filterSubject,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: state.applied + 1,
      });
      const info = await consumer.info(true).catch(() => undefined);
      state.pending = info?.num_pending ?? 0;
      const messages = await consumer.consume({ max_messages: batchSize });
      state.messages = messages;
      void (async () => {
        for await (const msg of messages) {
          if (myGeneration !== generation) break;
          queue.push({ state, msg });
          wake?.();
        }
      })().catch((err) => log.error('source stopped', { source: state.source.key, error: errorMessage(err) }));
    }
    notify();
  }

  async function closeSources(): Promise<void> {
    generation++;
    await Promise.all(states.map((s) => s.messages?.close().catch(() => undefined)));
    queue.length = 0;
  }

  async function deadLetter(msg: JsMsg, err: unknown): Promise<void> {
    const reason = err instanceof ValidationError ? err.message : `cannot project: ${errorMessage(err)}`;
    await sendToDlq(handle, dlqName, msg, reason, 1);
    log.warn('event sent to DLQ', { stream: msg.info.stream, seq: msg.seq, reason });
  }

  /** Decodes and projects each message; one that cannot be projected goes to the DLQ and contributes no ops. */
  async function project(batch: Array<{ state: SourceState; msg: JsMsg }>): Promise<Array<{ state: SourceState; msg: JsMsg; ops: StoreOp[] }>> {
    const out: Array<{ state: SourceState; msg: JsMsg; ops: StoreOp[] }> = [];
    for (const { state, msg } of batch) {
      let ops: StoreOp[] = [];
      try {
        const event = decodeEvent({ subject: msg.subject, data: msg.data, headers: msg.headers }, { stream: msg.info.stream, seq: msg.seq });
        if (projection.canHandle.includes(event.type)) ops = projection.project(event);
      } catch (err) {
        await deadLetter(msg, err);
      }
      out.push({ state, msg, ops });
    }
    return out;
  }

  async function applyBatch(batch: Array<{ state: SourceState; msg: JsMsg }>): Promise<void> {
    const projected = await project(batch);
    const checkpoints: Record<string, number> = {};
    for (const { state, msg } of projected) checkpoints[state.source.key] = msg.seq;
    try {
      await store.apply({ ops: projected.flatMap((p) => p.ops), checkpoints });
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      // The store refused something in the batch (say, a vector with NaN). Apply one event at a time so only the
      // offender goes to the DLQ; otherwise the projection would retry the same batch forever.
      for (const { state, msg, ops } of projected) {
        try {
          await store.apply({ ops, checkpoints: { [state.source.key]: msg.seq } });
        } catch (single) {
          if (!(single instanceof ValidationError)) throw single;
          await deadLetter(msg, single);
          await store.apply({ ops: [], checkpoints: { [state.source.key]: msg.seq } });
        }
      }
    }
    for (const { state, msg } of batch) {
      state.applied = Math.max(state.applied, msg.seq);
      state.pending = msg.info.pending;
    }
    for (const state of states) {
      metrics.projectionPosition.labels(projection.name, state.source.key).set(state.applied);
      metrics.projectionLag.labels(projection.name, state.source.key).set(state.pending);
    }
    for (const [key, count] of countBy(batch.map((b) => b.state.source.key))) {
      metrics.projectionApplied.labels(projection.name, key).inc(count);
    }
    notify();
  }

  async function loop(): Promise<void> {
    while (!stopping) {
      try {
        await openSources();
        log.info('started', { from: Object.fromEntries(states.map((s) => [s.source.key, s.applied])) });
        while (!stopping) {
          if (queue.length === 0) {
            await new Promise<void>((resolve) => {
              wake = resolve;
            });
            wake = undefined;
            continue;
          }
          await applyBatch(queue.splice(0, batchSize));
        }
      } catch (err) {
        if (stopping) break;
        // Nothing was applied from the failed batch: reopen from the store's checkpoints and try again.
        log.error('apply failed; resuming from the last checkpoint in 1s', { error: errorMessage(err) });
        await closeSources();
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    await closeSources();
  }

  const done = loop();

  return {
    projection: projection.name,
    done,
    positions,
    caughtUp: () => queue.length === 0 && states.every((s) => s.pending === 0),
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
      }),
    stop: async () => {
      stopping = true;
      wake?.();
      await closeSources();
      await done;
      log.info('stopped');
    },
  };
}

function countBy(keys: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
  return counts;
}
