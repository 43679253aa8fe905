// Wraps an embedding provider so each embed call reports its batch size, duration and failures (by model).
import { PermanentEventError, ValidationError } from './errors.ts';
import { PROVIDER_ERROR_KINDS, type SpandaMetrics } from './metrics.ts';

/** What the wrapper needs of a provider (processors/embedder/provider.ts's EmbeddingProvider fits). */
export interface Embeds {
  readonly info: { readonly id: string };
  embed(texts: readonly string[]): Promise<Float32Array[]>;
}

/** The same provider with an instrumented embed(); every other member is the provider's own. */
export function instrumentEmbedder<P extends Embeds>(provider: P, metrics: SpandaMetrics): P {
  const model = provider.info.id;
  // Series exist from the start, so dashboards and alerts see 0 rather than nothing.
  for (const kind of PROVIDER_ERROR_KINDS) metrics.providerErrors.labels(model, kind).inc(0);
  const embed = async (texts: readonly string[]): Promise<Float32Array[]> => {
    const end = metrics.embedderBatchSeconds.labels(model).startTimer();
    metrics.embedderBatchSize.labels(model).observe(texts.length);
    try {
      return await provider.embed(texts);
    } catch (err) {
      const permanent = err instanceof PermanentEventError || err instanceof ValidationError;
      metrics.providerErrors.labels(model, permanent ? 'permanent' : 'transient').inc();
      throw err;
    } finally {
      end();
    }
  };
  return new Proxy(provider, {
    get(target, key) {
      if (key === 'embed') return embed;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
