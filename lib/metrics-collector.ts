// Polls JetStream every few seconds for what no event reports: durable consumers' lag (pending, ack-pending) and DLQ entries per stage.
import type { SpandaMetrics } from './metrics.ts';

/** The JetStream management calls the collector makes (a NatsHandle's `jsm` fits). */
export interface CollectorJsm {
  readonly consumers: { info(stream: string, consumer: string): Promise<{ num_pending: number; num_ack_pending: number }> };
  readonly streams: { info(stream: string, opts?: { subjects_filter?: string }): Promise<{ state: { subjects?: Record<string, number> } }> };
}

export interface JetStreamCollector {
  /**
   * Starts reporting a durable consumer's lag (and, for every watcher, the DLQ); the returned function stops it. The
   * first watch starts the timer and the last unwatch stops it. `dlqStage` is set to 0 when the DLQ has none of its entries.
   */
  watch(target: { stream: string; consumer: string; dlqStage?: string } | { dlqStage: string }): () => void;
  /** Polls once now (tests; the timer calls it). */
  poll(): Promise<void>;
}

const DLQ_STREAM = 'DLQ';
const DLQ_PREFIX = 'dlq.';

const collectors = new WeakMap<SpandaMetrics, WeakMap<object, JetStreamCollector>>();

/** One collector per metrics set and connection: every processor and projector of a node shares its timer and requests. */
export function jetStreamCollectorFor(metrics: SpandaMetrics, jsm: CollectorJsm, intervalMs = 5000): JetStreamCollector {
  let byJsm = collectors.get(metrics);
  if (!byJsm) collectors.set(metrics, (byJsm = new WeakMap()));
  let collector = byJsm.get(jsm);
  if (!collector) byJsm.set(jsm, (collector = createJetStreamCollector(metrics, jsm, intervalMs)));
  return collector;
}

export function createJetStreamCollector(metrics: SpandaMetrics, jsm: CollectorJsm, intervalMs = 5000): JetStreamCollector {
  const consumers = new Map<string, { stream: string; consumer: string; watchers: number }>();
  const stages = new Map<string, number>();
  let watchers = 0;
  let timer: NodeJS.Timeout | undefined;
  let polling: Promise<void> | undefined;

  async function pollOnce(): Promise<void> {
    // A failed poll leaves the last values: NATS being away is reported by the processors' logs and readiness.
    await Promise.all(
      [...consumers.values()].map(async ({ stream, consumer }) => {
        const info = await jsm.consumers.info(stream, consumer).catch(() => undefined);
        if (!info) return;
        metrics.consumerPending.labels(stream, consumer).set(info.num_pending);
        metrics.consumerAckPending.labels(stream, consumer).set(info.num_ack_pending);
      }),
    );
    const dlq = await jsm.streams.info(DLQ_STREAM, { subjects_filter: `${DLQ_PREFIX}>` }).catch(() => undefined);
    if (!dlq) return;
    const counts = new Map<string, number>([...stages.keys()].map((stage) => [stage, 0]));
    for (const [subject, count] of Object.entries(dlq.state.subjects ?? {})) {
      if (subject.startsWith(DLQ_PREFIX)) counts.set(subject.slice(DLQ_PREFIX.length), count);
    }
    metrics.dlqMessages.reset();
    for (const [stage, count] of counts) metrics.dlqMessages.labels(stage).set(count);
  }

  const poll = () => (polling ??= pollOnce().finally(() => (polling = undefined)));

  return {
    poll,
    watch(target) {
      watchers++;
      const key = 'consumer' in target ? `${target.stream}/${target.consumer}` : undefined;
      if ('consumer' in target && key) {
        const entry = consumers.get(key) ?? { stream: target.stream, consumer: target.consumer, watchers: 0 };
        entry.watchers++;
        consumers.set(key, entry);
      }
      if (target.dlqStage !== undefined) stages.set(target.dlqStage, (stages.get(target.dlqStage) ?? 0) + 1);
      if (!timer) {
        timer = setInterval(() => void poll(), intervalMs);
        timer.unref();
        void poll();
      }
      let done = false;
      return () => {
        if (done) return;
        done = true;
        watchers--;
        if (key) {
          const entry = consumers.get(key);
          if (entry && --entry.watchers === 0) consumers.delete(key);
        }
        if (target.dlqStage !== undefined) {
          const left = (stages.get(target.dlqStage) ?? 1) - 1;
          if (left === 0) stages.delete(target.dlqStage);
          else stages.set(target.dlqStage, left);
        }
        if (watchers === 0 && timer) {
          clearInterval(timer);
          timer = undefined;
        }
      };
    },
  };
}
