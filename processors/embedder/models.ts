// Choosing an embedding provider by kind, with its fusion profile (a plain value configuration may override).
import { ConfigError } from '../../lib/errors.ts';
import { HASH_FUSION, USE_LITE_FUSION, withVectorWeight } from './fusion.ts';
import { createHashEmbedder } from './hash.ts';
import { createOfflineEmbedder, USE_LITE_INFO } from './offline.ts';
import type { EmbeddingProvider, FusionProfile } from './provider.ts';

export { HASH_FUSION, USE_LITE_FUSION, withVectorWeight };

export const EMBEDDING_PROVIDER_KINDS = ['offline', 'hash'] as const;
export type EmbeddingProviderKind = (typeof EMBEDDING_PROVIDER_KINDS)[number];

export interface EmbeddingProviderOptions {
  /** hash: vector size (default 256). */
  readonly dims?: number;
  /** offline: worker threads (default min(2, cores)). */
  readonly workers?: number;
  /** offline: most texts per model call (default 32). */
  readonly batchSize?: number;
  /** offline: most model tokens per call (default 512). */
  readonly batchTokens?: number;
  /** Replaces the model's default fusion profile (see fusionProfileFor). */
  readonly fusion?: FusionProfile;
}

export function isEmbeddingProviderKind(value: string): value is EmbeddingProviderKind {
  return (EMBEDDING_PROVIDER_KINDS as readonly string[]).includes(value);
}

/** Default fusion profile of a model id, measured on SciFact; undefined for a model nobody has measured. */
export function fusionProfileFor(modelId: string): FusionProfile | undefined {
  if (modelId === USE_LITE_INFO.id) return USE_LITE_FUSION;
  if (/^hash-\d+$/.test(modelId)) return HASH_FUSION;
  return undefined;
}

export function createEmbeddingProvider(kind: EmbeddingProviderKind, options: EmbeddingProviderOptions = {}): EmbeddingProvider {
  // Validated here because an override usually comes from configuration.
  const fusion = options.fusion !== undefined ? { fusion: withVectorWeight(options.fusion, options.fusion.vectorWeight) } : {};
  switch (kind) {
    case 'offline':
      return createOfflineEmbedder({
        ...fusion,
        ...(options.workers !== undefined ? { workers: options.workers } : {}),
        ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
        ...(options.batchTokens !== undefined ? { batchTokens: options.batchTokens } : {}),
      });
    case 'hash':
      return createHashEmbedder({ ...fusion, ...(options.dims !== undefined ? { dims: options.dims } : {}) });
    default:
      throw new ConfigError(`unknown embedding provider ${JSON.stringify(kind)}; use one of ${EMBEDDING_PROVIDER_KINDS.join(', ')}`);
  }
}
