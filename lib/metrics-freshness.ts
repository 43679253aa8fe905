// End-to-end freshness: when a document version entered the log (looked up by its docSeq, cached) to when a projection applied it.
import type { SpandaMetrics } from './metrics.ts';

/**
 * The time a DOCUMENTS sequence entered the log, in epoch ms (undefined when it is gone). The stream's own timestamp
 * is used, not the producer's ce-time: it is one clock (the server's) for every producer, and a connector may set
 * ce-time to the upstream change time, which would measure the source's delay rather than Spanda's.
 */
export type DocumentTimeLookup = (docSeq: number) => Promise<number | undefined>;

export interface FreshnessOptions {
  /** Lookups started per applied batch at most (the rest of a large batch is not sampled). Default 16. */
  readonly samplesPerBatch?: number;
  /** Lookups in flight at most; a batch finding them busy is not sampled. Default 32. */
  readonly maxInFlight?: number;
  /** DOCUMENTS times remembered (chunks and vectors of one version share it). Default 4096. */
  readonly cacheSize?: number;
}

export interface FreshnessProbe {
  /** Records, off the apply path, the freshness of the given applied events (sampled evenly when many). */
  observe(projection: string, applied: ReadonlyArray<{ source: string; docSeq: number }>, appliedAtMs?: number): void;
  /** Resolves when the lookups in flight have ended (tests). */
  settled(): Promise<void>;
}

export function createFreshnessProbe(metrics: SpandaMetrics, lookup: DocumentTimeLookup, options: FreshnessOptions = {}): FreshnessProbe {
  const samplesPerBatch = options.samplesPerBatch ?? 16;
  const maxInFlight = options.maxInFlight ?? 32;
  const cacheSize = options.cacheSize ?? 4096;
  const cache = new Map<number, number>();
  // Chunks and vectors of one version often arrive in one batch: they share one lookup.
  const looking = new Map<number, Promise<number | undefined>>();
  const inFlight = new Set<Promise<void>>();

  function timeOf(docSeq: number): Promise<number | undefined> {
    const hit = cache.get(docSeq);
    if (hit !== undefined) return Promise.resolve(hit);
    let pending = looking.get(docSeq);
    if (!pending) {
      pending = lookup(docSeq)
        .then((time) => {
          if (time !== undefined) {
            cache.set(docSeq, time);
            if (cache.size > cacheSize) cache.delete(cache.keys().next().value as number);
          }
          return time;
        })
        .finally(() => looking.delete(docSeq));
      looking.set(docSeq, pending);
    }
    return pending;
  }

  return {
    observe(projection, applied, appliedAtMs = Date.now()) {
      if (applied.length === 0) return;
      const step = Math.max(1, Math.ceil(applied.length / samplesPerBatch));
      for (let i = 0; i < applied.length && inFlight.size < maxInFlight; i += step) {
        const { source, docSeq } = applied[i] as { source: string; docSeq: number };
        const p = timeOf(docSeq)
          .then((time) => {
            if (time !== undefined) metrics.freshnessSeconds.labels(projection, source).observe(Math.max(0, appliedAtMs - time) / 1000);
          })
          .catch(() => undefined)
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
    },
    settled: async () => void (await Promise.all([...inFlight])),
  };
}
