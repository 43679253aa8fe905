// The generic processor runner: durable pull consumer → decode → handle → publish outputs → ack; retries, DLQ, drain.
import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { PermanentEventError, TransientError, UnavailableError, ValidationError, errorMessage } from '../lib/errors.ts';
import { silentLogger, traceIdOf, type Logger } from '../lib/log.ts';
import { defaultMetrics, PROCESSOR_OUTCOMES, type ProcessorOutcome, type SpandaMetrics } from '../lib/metrics.ts';
import { jetStreamCollectorFor } from '../lib/metrics-collector.ts';
import { sendToDlq } from '../streams/dlq.ts';
import type { SpandaEvent, StoredEvent } from '../streams/events/index.ts';
import { reportConsumerStalls } from '../streams/consumer-stalls.ts';
import { consumeOptions, type NatsHandle } from '../streams/nats.ts';
import { originCheckFor } from '../streams/origin.ts';
import { publishEncoded, publishEvent } from '../streams/publisher.ts';
import { decodeMessage, registerReader } from '../streams/shared-decode.ts';
import type { AnyProcessor, EncodedOutput, Outcome, Output } from './processor.ts';
import { burstWarning } from '../lib/log-burst.ts';

// The DLQ lives in streams/dlq.ts (the projector writes it too); re-exported for the code that read it from here.
export { DLQ_HEADER } from '../streams/dlq.ts';

export interface RunnerOptions {
  readonly logger?: Logger;
  /** Deliveries before a failing input goes to the DLQ (transient errors are retried until then). */
  readonly maxAttempts?: number;
  /** Retry delay: base·2^(attempt−1) capped at max, with ±20% jitter. */
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /**
   * How long JetStream waits for an ack before redelivering. The runner heartbeats every message it holds (every
   * ackWait/3), so this bounds only how long the inputs of a crashed worker wait before another worker (or the
   * restarted one) gets them, and inputs lost with a broker restart, not how long a batch may take. Default
   * DEFAULT_ACK_WAIT_MS.
   */
  readonly ackWaitMs?: number;
  /** The node's metrics (lib/metrics.ts); the process default when omitted. */
  readonly metrics?: SpandaMetrics;
  /**
   * How long stop() waits for the batches in flight (default DEFAULT_STOP_GRACE_MS). A batch still running then (a
   * model minutes into a huge document) is abandoned: its inputs are released for redelivery at once and whatever it
   * produces later is dropped, so a stopping node does not hang on it.
   */
  readonly stopGraceMs?: number;
}

export const DEFAULT_STOP_GRACE_MS = 10_000;

export interface RunningProcessor {
  readonly name: string;
  /** Stops taking messages, finishes the batches in flight (or releases them after the stop grace), then resolves. */
  stop(): Promise<void>;
  /** Resolves when the loop ends (after stop, or with an error it could not recover from). */
  readonly done: Promise<void>;
}

export function retryDelayMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const raw = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(raw * (0.8 + 0.4 * random()));
}

function isPermanent(err: Error): boolean {
  return err instanceof PermanentEventError || err instanceof ValidationError;
}

/** The consumer's max_ack_pending: how many unacked messages one processor's consumer may hold. */
export function maxInFlight(processor: AnyProcessor): number {
  return processor.maxInFlight ?? processor.batchSize * 4;
}

/**
 * The processors' ack wait. When nats-server is killed, deliveries it had sent and acks it had not read yet are lost
 * with the connection: those inputs stay pending on the server, and nothing after them counts as processed (the ack
 * floor, which read-your-writes waits on) until JetStream redelivers them one ack wait later. With 30 s, chaos broker's
 * `spanda up` runs took 11-22 s after the last restart to apply the last document; with 10 s, 0.02-2.2 s (3 runs
 * each). A crashed worker's inputs come back to another worker sooner too. Held messages are heartbeated every
 * ackWait/3, so a slow batch is not redelivered.
 */
export const DEFAULT_ACK_WAIT_MS = 10_000;

/** How long a batch runs before a processor with `concurrentBatches` > 1 starts the next one beside it. */
export const SLOW_BATCH_MS = 1_000;

/** Creates the durable consumer, or updates its filter if the processor's changed. Safe to call from every worker. */
export async function ensureConsumer(handle: NatsHandle, processor: AnyProcessor, ackWaitMs: number): Promise<void> {
  const filter = processor.filterSubjects[0];
  if (processor.filterSubjects.length !== 1 || filter === undefined) {
    throw new Error(`processor ${processor.name} must have exactly one filter subject (NATS 2.9 consumers take one)`);
  }
  const config = {
    durable_name: processor.name,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: filter,
    ack_wait: ackWaitMs * 1_000_000,
    max_ack_pending: maxInFlight(processor),
    max_deliver: -1,
    description: `Spanda processor ${processor.name} v${processor.version}`,
  };
  try {
    const info = await handle.jsm.consumers.info(processor.stream, processor.name);
    const c = info.config;
    if (c.filter_subject !== filter || c.ack_wait !== config.ack_wait || c.max_ack_pending !== config.max_ack_pending) {
      await handle.jsm.consumers.update(processor.stream, processor.name, {
        filter_subject: filter,
        ack_wait: config.ack_wait,
        max_ack_pending: config.max_ack_pending,
        description: config.description,
      });
    }
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound)) throw err;
    await handle.jsm.consumers.add(processor.stream, config);
  }
}

/**
 * Runs a processor until stopped. Messages are taken as they arrive and handled in batches of what is already
 * waiting (up to batchSize), so one document is handled at once and a backlog is handled in large batches.
 */
export function runProcessor(handle: NatsHandle, processor: AnyProcessor, options: RunnerOptions = {}): RunningProcessor {
  const log = (options.logger ?? silentLogger).child(processor.name);
  const maxAttempts = options.maxAttempts ?? 8;
  const backoffBaseMs = options.backoffBaseMs ?? 1000;
  const backoffMaxMs = options.backoffMaxMs ?? 60_000;
  const ackWaitMs = options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
  const stopGraceMs = options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
  let stopping = false;
  // Set when stop() gave up waiting for the batches in flight: their inputs were released, their results are dropped.
  let abandoned = false;
  let messages: ConsumerMessages | undefined;
  let wake: (() => void) | undefined;
  const queue: JsMsg[] = [];
  // Every message received and not yet settled. All of them are heartbeated, the queued ones too: a message waiting
  // behind a slow batch must not pass ack_wait and be redelivered (and its work done twice).
  const held = new Set<JsMsg>();
  const heartbeat = setInterval(() => held.forEach((msg) => msg.working()), Math.max(1000, ackWaitMs / 3));
  heartbeat.unref();

  const origin = originCheckFor(handle);
  const metrics = options.metrics ?? defaultMetrics();
  const outcomeLabel = (o: ProcessorOutcome) => metrics.processorEvents.labels(processor.name, o);
  // Series exist from the start (0), so rates and alerts see them before the first failure.
  for (const o of PROCESSOR_OUTCOMES) outcomeLabel(o).inc(0);
  // Resolved once: a labels() lookup per message hashes the label values every time.
  const okEvents = outcomeLabel('ok');
  const stageLatency = metrics.stageLatencySeconds.labels(processor.name);
  const stalls = metrics.consumerStalls.labels(processor.stream, processor.name);
  stalls.inc(0);
  metrics.dlqEvents.labels(processor.name).inc(0);
  // Consumer lag (pending, ack-pending) and this stage's DLQ entries, polled by one collector per node.
  const unwatch = jetStreamCollectorFor(metrics, handle.jsm).watch({ stream: processor.stream, consumer: processor.name, dlqStage: processor.name });
  const unregister = registerReader(processor.stream, processor.filterSubjects);

  // A producer sending junk dead-letters thousands at once: one warning, then a count per window (each at debug in full).
  const warnDeadLettered = burstWarning(log, 'event sent to DLQ');
  async function deadLetter(msg: JsMsg, reason: string, attempts: number): Promise<void> {
    const { duplicate } = await sendToDlq(handle, processor.name, msg, reason, attempts);
    msg.ack();
    held.delete(msg);
    outcomeLabel('dead_lettered').inc();
    if (!duplicate) metrics.dlqEvents.labels(processor.name).inc();
    const fields = { stream: msg.info.stream, seq: msg.seq, subject: msg.subject, reason, trace_id: traceIdOf(msg.headers?.get('traceparent')) };
    // Another stage rejected the same event first and said so.
    if (duplicate) log.debug('event already in the DLQ (another stage rejected it)', fields);
    else warnDeadLettered(fields);
  }

  // Naks due while NATS is down: the client drops what it buffered when it reconnects, so a nak sent now would be lost
  // and the input wait out ack_wait; they are sent once the connection is back.
  const parked = new Map<JsMsg, number>();
  let unpark: ReturnType<typeof setInterval> | undefined;
  function nakWhenConnected(msg: JsMsg, delay: number): void {
    parked.set(msg, delay);
    unpark ??= setInterval(() => {
      if (!handle.connected() && !stopping) return;
      clearInterval(unpark);
      unpark = undefined;
      for (const [m, d] of parked) m.nak(d);
      parked.clear();
    }, 250);
    unpark.unref();
  }

  const warnRetry = burstWarning(log, 'event will be retried');
  function retry(msg: JsMsg, err: Error): void {
    const attempt = msg.info.deliveryCount;
    const hinted = err instanceof TransientError ? err.retryAfterMs : undefined;
    const delay = hinted ?? retryDelayMs(attempt, backoffBaseMs, backoffMaxMs);
    if (handle.connected()) msg.nak(delay);
    else nakWhenConnected(msg, delay);
    held.delete(msg);
    outcomeLabel('retried').inc();
    warnRetry({ stream: msg.info.stream, seq: msg.seq, attempt, delayMs: delay, error: err.message, trace_id: traceIdOf(msg.headers?.get('traceparent')) });
  }

  async function settle(msg: JsMsg, failure: Error): Promise<void> {
    const attempts = msg.info.deliveryCount;
    if (isPermanent(failure)) return deadLetter(msg, failure.message, attempts);
    // NATS itself being unreachable says nothing about the event: retry for as long as it takes, never dead-letter.
    if (attempts >= maxAttempts && !(failure instanceof UnavailableError)) {
      return deadLetter(msg, `gave up after ${attempts} attempts: ${failure.message}`, attempts);
    }
    retry(msg, failure);
  }

  async function publishOutputs(outputs: ReadonlyArray<Output | EncodedOutput>): Promise<void> {
    await Promise.all(outputs.map((o) => ('event' in o ? publishEvent(handle, o.subject, o.event, { msgId: o.msgId }) : publishEncoded(handle, o.subject, o.type, o.encoded))));
    metrics.processorOutputs.labels(processor.name).inc(outputs.length);
  }

  async function handleBatch(batch: JsMsg[]): Promise<void> {
    const end = metrics.processorBatchSeconds.labels(processor.name).startTimer();
    metrics.processorBatchSize.labels(processor.name).observe(batch.length);
    const decoded: Array<{ msg: JsMsg; event: StoredEvent<SpandaEvent> }> = [];
    for (const msg of batch) {
      try {
        const event = decodeMessage(msg, msg.info.deliveryCount);
        decoded.push({ msg, event });
      } catch (err) {
        await settle(msg, err instanceof Error ? err : new ValidationError(String(err)));
      }
    }
    // What this batch read from DOCUMENTS is what the stages after it check their events against (same process).
    origin.learn(decoded.map(({ msg, event }) => ({ event, storedAtMs: msg.info.timestampNanos / 1e6 })));
    // Derived events (chunks, vectors) must point at a real version of their document. When DOCUMENTS cannot be read
    // the inputs are retried (an UnavailableError is never dead-lettered).
    let verdicts: Array<ValidationError | undefined>;
    try {
      verdicts = await origin.check(decoded.map((d) => d.event));
    } catch (err) {
      const failure = err instanceof Error ? err : new UnavailableError(String(err));
      await Promise.all(decoded.map(({ msg }) => settle(msg, failure)));
      return void end();
    }
    const refused = decoded.flatMap((d, i) => {
      const verdict = verdicts[i];
      return verdict ? [{ msg: d.msg, verdict }] : [];
    });
    for (const { msg, verdict } of refused) await settle(msg, verdict);
    if (refused.length > 0) decoded.splice(0, decoded.length, ...decoded.filter((_, i) => verdicts[i] === undefined));
    if (decoded.length === 0) return void end();
    let outcomes: ReadonlyArray<Outcome<Output | EncodedOutput>>;
    try {
      outcomes = await processor.handle(
        decoded.map((d) => d.event),
        { maxPayloadBytes: handle.maxPayload() },
      );
      if (outcomes.length !== decoded.length) throw new Error(`${processor.name} returned ${outcomes.length} outcomes for ${decoded.length} inputs`);
    } catch (err) {
      const failure = err instanceof Error ? err : new Error(String(err));
      outcomes = decoded.map(() => failure);
    }
    // Released by stop() meanwhile: another worker has them now.
    if (abandoned) return void end();
    // Every input's outputs are published at once; the inputs are then acked together, in one write to the server
    // rather than one per arriving publish ack.
    const published = await Promise.all(
      decoded.map(async (_, i): Promise<Error | undefined> => {
        const outcome = outcomes[i] as Outcome<Output | EncodedOutput>;
        if (outcome instanceof Error) return outcome;
        try {
          await publishOutputs(outcome);
          return undefined;
        } catch (err) {
          return err instanceof Error ? err : new Error(String(err));
        }
      }),
    );
    const now = Date.now();
    const failed: Array<{ msg: JsMsg; failure: Error }> = [];
    decoded.forEach(({ msg }, i) => {
      const failure = published[i];
      if (failure) return void failed.push({ msg, failure });
      msg.ack();
      held.delete(msg);
      okEvents.inc();
      stageLatency.observe(Math.max(0, now - msg.info.timestampNanos / 1e6) / 1000);
    });
    await Promise.all(failed.map(({ msg, failure }) => settle(msg, failure)));
    end();
  }

  async function pump(): Promise<void> {
    while (!stopping) {
      try {
        await ensureConsumer(handle, processor, ackWaitMs);
        const consumer = await handle.js.consumers.get(processor.stream, processor.name);
        messages = await consumer.consume(consumeOptions(Math.max(processor.batchSize * 2, 64)));
        reportConsumerStalls(messages, stalls, log, { stream: processor.stream });
        for await (const msg of messages) {
          held.add(msg);
          queue.push(msg);
          wake?.();
        }
      } catch (err) {
        if (stopping) break;
        log.error('consumer failed; retrying in 1s', { error: errorMessage(err) });
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /** The next batch off the queue: up to batchSize messages and maxBatchBytes of data, at least one message. */
  function takeBatch(): JsMsg[] {
    const maxBytes = processor.maxBatchBytes ?? Infinity;
    let count = 0;
    let bytes = 0;
    for (const msg of queue) {
      if (count === processor.batchSize || (count > 0 && bytes + msg.data.length > maxBytes)) break;
      count++;
      bytes += msg.data.length;
    }
    return queue.splice(0, Math.max(1, count));
  }

  async function runBatch(batch: JsMsg[]): Promise<void> {
    try {
      await handleBatch(batch);
    } catch (err) {
      // Publishing to the DLQ failed (NATS down): leave the messages unacked; JetStream redelivers them.
      for (const msg of batch) held.delete(msg);
      log.error('batch failed; its messages will be redelivered', { error: errorMessage(err) });
    }
  }

  /**
   * Takes batches off the queue. One at a time, except that with `concurrentBatches` > 1 the next batch starts beside
   * running ones once the newest of them has run for SLOW_BATCH_MS: later inputs wait at most that long behind one
   * huge input instead of for all of it. Outputs of different inputs may then be published out of input order, which
   * every reader tolerates (versions are compared by docSeq); acks are per message.
   */
  async function work(): Promise<void> {
    const lanes = Math.max(1, processor.concurrentBatches ?? 1);
    const running = new Set<Promise<void>>();
    let newestStart = 0;
    for (;;) {
      const sinceNewest = performance.now() - newestStart;
      if (queue.length > 0 && (running.size === 0 || (running.size < lanes && sinceNewest >= SLOW_BATCH_MS))) {
        const batch = takeBatch();
        const run: Promise<void> = runBatch(batch).finally(() => {
          running.delete(run);
          wake?.();
        });
        running.add(run);
        newestStart = performance.now();
        continue;
      }
      if (queue.length === 0 && stopping) {
        await Promise.all(running);
        return;
      }
      // Until a message arrives, a batch ends, or (with work waiting and a lane free) the newest batch turns slow.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (queue.length > 0 && running.size > 0 && running.size < lanes) timer = setTimeout(resolve, Math.max(0, SLOW_BATCH_MS - sinceNewest));
      });
      clearTimeout(timer);
      wake = undefined;
    }
  }

  const pumping = pump();
  const working = work();
  const done = Promise.all([pumping, working]).then(() => undefined);
  log.info('started', { stream: processor.stream, filter: processor.filterSubjects.join(','), version: processor.version });

  return {
    name: processor.name,
    done,
    stop: async () => {
      if (stopping) return done;
      stopping = true;
      await messages?.close().catch(() => undefined);
      // Messages fetched but not started are released for redelivery at once rather than after ack_wait.
      const unstarted = queue.splice(0);
      for (const msg of unstarted) {
        msg.nak();
        held.delete(msg);
      }
      wake?.();
      let graceTimer: ReturnType<typeof setTimeout> | undefined;
      const finished = await Promise.race([
        done.then(() => true),
        new Promise<false>((resolve) => (graceTimer = setTimeout(() => resolve(false), stopGraceMs))),
      ]);
      clearTimeout(graceTimer);
      if (!finished) {
        abandoned = true;
        const inFlight = [...held];
        for (const msg of inFlight) msg.nak();
        held.clear();
        log.warn('stopped with inputs still being handled; released them for redelivery', { inputs: inFlight.length, graceMs: stopGraceMs });
      }
      clearInterval(heartbeat);
      unwatch();
      unregister();
      await processor.close?.();
      log.info('stopped');
    },
  };
}
