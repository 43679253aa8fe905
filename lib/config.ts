// Configuration: command-line flags over environment variables over defaults, read once with Effect's Config.
import * as Config from 'effect/Config';
import * as ConfigProvider from 'effect/ConfigProvider';
import * as Effect from 'effect/Effect';
import * as Either from 'effect/Either';
import { ConfigError } from './errors.ts';

export const EMBEDDER_KINDS = ['offline', 'hash'] as const;
export type EmbedderKind = (typeof EMBEDDER_KINDS)[number];

export interface SpandaConfig {
  readonly natsUrl: string;
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly embedder: EmbedderKind;
  /** Overrides the active model's hybrid fusion weight (0 = keyword only, 1 = vector only). */
  readonly vectorWeight: number | undefined;
  readonly maxBodyBytes: number;
  readonly chunkSize: number;
  readonly chunkOverlap: number;
  readonly embedWorkers: number | undefined;
  readonly sample: boolean;
  /** Every embedding model this node runs an embedder for (provider kinds or model ids, e.g. offline, hash, hash-128); the first one serves a new node. */
  readonly models: readonly string[];
  /** Store kind of new inference generations: sqlite (embedded), weaviate or qdrant. */
  readonly store: string;
  readonly weaviateUrl: string | undefined;
  readonly weaviateGrpcUrl: string | undefined;
  readonly weaviateApiKey: string | undefined;
  readonly qdrantUrl: string | undefined;
  readonly qdrantApiKey: string | undefined;
  /** Answer generation (inference/generators): extractive (offline, default), openai (any OpenAI-compatible endpoint) or hf. */
  readonly generator: 'extractive' | 'openai' | 'hf';
  readonly openaiBaseUrl: string | undefined;
  readonly openaiApiKey: string | undefined;
  readonly openaiModel: string | undefined;
  readonly hfToken: string | undefined;
  readonly hfModel: string | undefined;
  readonly hfEndpointUrl: string | undefined;
  readonly hfProvider: string | undefined;
  /** Prompt template by name ("grounded", or "name@version"). */
  readonly prompt: string;
  /** Per-attempt timeout of a generator or reranker call. */
  readonly generatorTimeoutMs: number;
  /** Optional reranking of retrieved chunks: none, tei (a TEI /rerank endpoint at SPANDA_RERANK_URL). */
  readonly rerank: 'none' | 'tei';
  readonly rerankUrl: string | undefined;
  readonly rerankModel: string | undefined;
}

const optional = <A>(config: Config.Config<A>) => Config.option(config).pipe(Config.map((o) => (o._tag === 'Some' ? o.value : undefined)));

const spandaConfig = Config.all({
  natsUrl: Config.string('NATS_URL').pipe(Config.withDefault('nats://127.0.0.1:4222')),
  host: Config.string('HOST').pipe(Config.withDefault('127.0.0.1')),
  port: Config.port('PORT').pipe(Config.withDefault(8080)),
  dataDir: Config.string('SPANDA_DATA_DIR').pipe(Config.withDefault('.spanda')),
  embedder: Config.literal(...EMBEDDER_KINDS)('SPANDA_EMBEDDER').pipe(Config.withDefault<EmbedderKind>('offline')),
  vectorWeight: optional(
    Config.number('SPANDA_VECTOR_WEIGHT').pipe(Config.validate({ message: 'must be a number from 0 to 1', validation: (w) => w >= 0 && w <= 1 })),
  ),
  maxBodyBytes: Config.integer('SPANDA_MAX_BODY_BYTES').pipe(Config.withDefault(8 * 1024 * 1024)),
  chunkSize: Config.integer('SPANDA_CHUNK_SIZE').pipe(Config.withDefault(800)),
  chunkOverlap: Config.integer('SPANDA_CHUNK_OVERLAP').pipe(Config.withDefault(120)),
  embedWorkers: optional(Config.integer('SPANDA_EMBED_WORKERS')),
  sample: Config.boolean('SPANDA_SAMPLE').pipe(Config.withDefault(true)),
  models: Config.array(Config.string(), 'SPANDA_MODELS').pipe(Config.withDefault<readonly string[]>([])),
  store: Config.literal('sqlite', 'weaviate', 'qdrant')('SPANDA_STORE').pipe(Config.withDefault<string>('sqlite')),
  weaviateUrl: optional(Config.string('WEAVIATE_URL')),
  weaviateGrpcUrl: optional(Config.string('WEAVIATE_GRPC_URL')),
  weaviateApiKey: optional(Config.string('WEAVIATE_API_KEY')),
  qdrantUrl: optional(Config.string('QDRANT_URL')),
  qdrantApiKey: optional(Config.string('QDRANT_API_KEY')),
  generator: Config.literal('extractive', 'openai', 'hf')('SPANDA_GENERATOR').pipe(Config.withDefault<'extractive' | 'openai' | 'hf'>('extractive')),
  openaiBaseUrl: optional(Config.string('SPANDA_OPENAI_BASE_URL')),
  openaiApiKey: optional(Config.string('SPANDA_OPENAI_API_KEY')),
  openaiModel: optional(Config.string('SPANDA_OPENAI_MODEL')),
  hfToken: optional(Config.string('HF_TOKEN')),
  hfModel: optional(Config.string('SPANDA_HF_MODEL')),
  hfEndpointUrl: optional(Config.string('SPANDA_HF_ENDPOINT_URL')),
  hfProvider: optional(Config.string('SPANDA_HF_PROVIDER')),
  prompt: Config.string('SPANDA_PROMPT').pipe(Config.withDefault('grounded')),
  generatorTimeoutMs: Config.integer('SPANDA_GENERATOR_TIMEOUT_MS').pipe(Config.withDefault(60_000)),
  rerank: Config.literal('none', 'tei')('SPANDA_RERANK').pipe(Config.withDefault<'none' | 'tei'>('none')),
  rerankUrl: optional(Config.string('SPANDA_RERANK_URL')),
  rerankModel: optional(Config.string('SPANDA_RERANK_MODEL')),
});

/** Flag names as the CLI spells them → the environment variable they override. */
export const FLAG_TO_ENV: Readonly<Record<string, string>> = {
  'nats-url': 'NATS_URL',
  host: 'HOST',
  port: 'PORT',
  'data-dir': 'SPANDA_DATA_DIR',
  embedder: 'SPANDA_EMBEDDER',
  'vector-weight': 'SPANDA_VECTOR_WEIGHT',
  'chunk-size': 'SPANDA_CHUNK_SIZE',
  'chunk-overlap': 'SPANDA_CHUNK_OVERLAP',
  'embed-workers': 'SPANDA_EMBED_WORKERS',
  sample: 'SPANDA_SAMPLE',
  models: 'SPANDA_MODELS',
  store: 'SPANDA_STORE',
  generator: 'SPANDA_GENERATOR',
  prompt: 'SPANDA_PROMPT',
};

/** Reads the configuration; `overrides` are variable-name → value pairs (from flags) that win over the environment. */
export function loadConfig(overrides: Readonly<Record<string, string>> = {}, env: NodeJS.ProcessEnv = process.env): SpandaConfig {
  const values = new Map(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
  for (const [key, value] of Object.entries(overrides)) values.set(key, value);
  const provider = ConfigProvider.fromMap(values);
  const result = Effect.runSync(Effect.either(spandaConfig.pipe(Effect.withConfigProvider(provider))));
  if (Either.isLeft(result)) throw new ConfigError(`invalid configuration: ${String(result.left)}`);
  const config = result.right;
  // The serving model comes first; SPANDA_EMBEDDER stays the way to pick it.
  const models = [config.embedder, ...config.models.map((m) => m.trim()).filter((m) => m !== '' && m !== config.embedder)];
  return { ...config, models };
}
