// What a node, `spanda replay` and `spanda verify` share: the configured models, generation specs and the runtime to open generations.
import type { KV } from '@nats-io/kv';
import type { SpandaConfig } from '../lib/config.ts';
import { ConfigError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { DEFAULT_CHUNKER } from '../processors/chunker/chunk.ts';
import { EMBEDDER_VERSION } from '../processors/embedder/handler.ts';
import { createEmbeddingProvider, isEmbeddingProviderKind } from '../processors/embedder/models.ts';
import { USE_LITE_INFO } from '../processors/embedder/offline.ts';
import type { EmbeddingProvider } from '../processors/embedder/provider.ts';
import { chunkerFingerprint, Generations, type GenerationSpec } from '../projections/generations.ts';
import { INFERENCE_PROJECTION_VERSION, inferenceProjection } from '../projections/inference.ts';
import { INDEXING_ROLE } from '../projections/catalog-serving.ts';
import type { GenerationRuntime } from '../projections/serving.ts';
import { storeFactory, type StoreConfig } from '../projections/stores/registry.ts';
import type { NatsHandle } from '../streams/nats.ts';

export const INFERENCE_ROLE = 'inference';

/** Largest vector the hash embedder makes: past real models' sizes, before a matrix per tenant gets absurd. */
export const MAX_HASH_DIMS = 4096;

/** The dimensions of a hash-<dims> model id, undefined for another id; a size out of 1–MAX_HASH_DIMS is refused. */
function hashDims(model: string): number | undefined {
  const hash = /^hash-(\d+)$/.exec(model);
  if (!hash) return undefined;
  const dims = Number(hash[1]);
  if (dims < 1 || dims > MAX_HASH_DIMS) throw new ConfigError(`model ${model}: hash-<dims> takes 1 to ${MAX_HASH_DIMS} dimensions (hash-256 is the default)`);
  return dims;
}

/** A model as configured: a provider kind (offline, hash) or a model id (use-lite-512, hash-128). */
export function createProviderFor(model: string, config: Pick<SpandaConfig, 'embedWorkers'>): EmbeddingProvider {
  if (isEmbeddingProviderKind(model)) {
    return createEmbeddingProvider(model, model === 'offline' && config.embedWorkers !== undefined ? { workers: config.embedWorkers } : {});
  }
  if (model === USE_LITE_INFO.id) return createProviderFor('offline', config);
  const dims = hashDims(model);
  if (dims !== undefined) return createEmbeddingProvider('hash', { dims });
  throw new ConfigError(`unknown embedding model ${JSON.stringify(model)}: use offline (${USE_LITE_INFO.id}), hash (hash-256) or hash-<dims>`);
}

/** One provider per distinct model id, in configuration order (the first serves a new node). */
export function createProviders(config: Pick<SpandaConfig, 'models' | 'embedWorkers'>): EmbeddingProvider[] {
  const byId = new Map<string, EmbeddingProvider>();
  for (const model of config.models) {
    const provider = createProviderFor(model, config);
    if (byId.has(provider.info.id)) void provider.close();
    else byId.set(provider.info.id, provider);
  }
  return [...byId.values()];
}

export function chunkerSettings(config: Pick<SpandaConfig, 'chunkSize' | 'chunkOverlap'>) {
  return { name: DEFAULT_CHUNKER.name, version: DEFAULT_CHUNKER.version, size: config.chunkSize, overlap: config.chunkOverlap };
}

/**
 * Where a role's generations live. Each role may have its own Weaviate (SPANDA_WEAVIATE_URL_INDEXING for the catalog,
 * SPANDA_WEAVIATE_URL_INFERENCE for serving), else WEAVIATE_URL. A role's gRPC URL falls back to WEAVIATE_GRPC_URL only
 * when its REST URL did too: a role with its own instance and no gRPC URL of its own uses that host's port 50051, never
 * the shared instance's gRPC.
 */
export function storeConfigOf(config: SpandaConfig, role: string): StoreConfig {
  const indexing = role === INDEXING_ROLE;
  const roleUrl = indexing ? config.weaviateUrlIndexing : config.weaviateUrlInference;
  const roleGrpcUrl = indexing ? config.weaviateGrpcUrlIndexing : config.weaviateGrpcUrlInference;
  const weaviateUrl = roleUrl ?? config.weaviateUrl;
  const weaviateGrpcUrl = roleGrpcUrl ?? (roleUrl === undefined ? config.weaviateGrpcUrl : undefined);
  return {
    dataDir: config.dataDir,
    ...(weaviateUrl !== undefined
      ? {
          weaviate: {
            url: weaviateUrl,
            ...(weaviateGrpcUrl !== undefined ? { grpcUrl: weaviateGrpcUrl } : {}),
            ...(config.weaviateApiKey !== undefined ? { apiKey: config.weaviateApiKey } : {}),
          },
        }
      : {}),
    ...(config.qdrantUrl !== undefined ? { qdrant: { url: config.qdrantUrl, ...(config.qdrantApiKey !== undefined ? { apiKey: config.qdrantApiKey } : {}) } } : {}),
  };
}

/** The inference generation spec for a model and store kind under the configured chunker. */
export async function inferenceSpec(config: SpandaConfig, model: { id: string; dims: number }, storeKind = config.store): Promise<GenerationSpec> {
  const factory = await storeFactory(storeKind);
  return {
    role: INFERENCE_ROLE,
    projection: { name: 'inference', version: INFERENCE_PROJECTION_VERSION },
    store: { kind: factory.kind, schemaVersion: factory.schemaVersion },
    model: { id: model.id, dims: model.dims, embedderVersion: EMBEDDER_VERSION },
    chunker: chunkerFingerprint(chunkerSettings(config)),
  };
}

export function generationRuntime(
  handle: NatsHandle,
  kv: KV,
  config: SpandaConfig,
  providers: readonly EmbeddingProvider[],
  logger: Logger,
): GenerationRuntime {
  return {
    handle,
    generations: new Generations(kv),
    storeConfig: storeConfigOf(config, INFERENCE_ROLE),
    logger,
    embedderFor: (id) => providers.find((p) => p.info.id === id),
    projectionFor: (spec) => inferenceProjection({ id: spec.model.id, dims: spec.model.dims }, spec.chunker),
  };
}

/** A configured model's id and dims without starting it (replay and verify only need its identity). */
export function modelInfoOf(model: string): { id: string; dims: number } {
  if (model === 'offline' || model === USE_LITE_INFO.id) return { id: USE_LITE_INFO.id, dims: USE_LITE_INFO.dims };
  if (model === 'hash') return { id: 'hash-256', dims: 256 };
  const dims = hashDims(model);
  if (dims !== undefined) return { id: model, dims };
  throw new ConfigError(`unknown embedding model ${JSON.stringify(model)}: use offline (${USE_LITE_INFO.id}), hash (hash-256) or hash-<dims>`);
}
