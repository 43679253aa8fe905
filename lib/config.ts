// Configuration: flags over environment variables over a config file over defaults, read once with Effect's Config.
import { readFileSync } from 'node:fs';
import * as Config from 'effect/Config';
import type * as EffectConfigError from 'effect/ConfigError';
import * as ConfigProvider from 'effect/ConfigProvider';
import * as Effect from 'effect/Effect';
import * as Either from 'effect/Either';
import * as Redacted from 'effect/Redacted';
import { byteSize } from './bytes.ts';
import { durationMs } from './duration.ts';
import { ConfigError } from './errors.ts';

export const EMBEDDER_KINDS = ['offline', 'hash'] as const;
export type EmbedderKind = (typeof EMBEDDER_KINDS)[number];

export interface SpandaConfig extends OperationsConfig {
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
  /** Store kind of new indexing catalog generations: sqlite (embedded, default) or weaviate. */
  readonly catalogStore: string;
  /** The indexing role's Weaviate (the catalog); unset: WEAVIATE_URL / WEAVIATE_GRPC_URL. */
  readonly weaviateUrlIndexing: string | undefined;
  readonly weaviateGrpcUrlIndexing: string | undefined;
  /** The inference role's Weaviate (serving generations); unset: WEAVIATE_URL / WEAVIATE_GRPC_URL. */
  readonly weaviateUrlInference: string | undefined;
  readonly weaviateGrpcUrlInference: string | undefined;
  readonly qdrantUrl: string | undefined;
  readonly qdrantApiKey: string | undefined;
  /** JSON file of the connectors the `connectors` role runs (RSS feeds, Debezium subjects, Postgres tables). */
  readonly connectorsFile: string | undefined;
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
  /** Optional reranking of retrieved chunks: none, tei (a TEI /rerank endpoint at SPANDA_RERANK_URL), hf (a cross-encoder through @huggingface/inference). */
  readonly rerank: 'none' | 'tei' | 'hf';
  readonly rerankUrl: string | undefined;
  readonly rerankModel: string | undefined;
  /** The relevance label of a cross-encoder with several labels (SPANDA_RERANK=hf). */
  readonly rerankLabel: string | undefined;
  /** Keyword query expansion: none, or rm3 (pseudo-relevance feedback in the SQLite store). */
  readonly keywordExpansion: 'none' | 'rm3';
  /** How long the QUERIES stream keeps queries, answers and feedback (0: no age limit). */
  readonly queriesMaxAgeMs: number;
  /** At most how many bytes of them it keeps, dropping the oldest (0: no limit). */
  readonly queriesMaxBytes: number;
  /** How long the DLQ keeps rejected events (0: no age limit); their originals stay in the log streams. */
  readonly dlqMaxAgeMs: number;
  /** At most how many bytes of them it keeps, dropping the oldest (0: no limit). */
  readonly dlqMaxBytes: number;
}

const optional = <A>(config: Config.Config<A>) => Config.option(config).pipe(Config.map((o) => (o._tag === 'Some' ? o.value : undefined)));

const positive = (name: string) =>
  Config.integer(name).pipe(Config.validate({ message: 'must be a whole number above 0', validation: (n) => n > 0 }));
const atLeast = (name: string, min: number, what: string) =>
  Config.integer(name).pipe(Config.validate({ message: `must be a whole number ≥ ${min} (${what})`, validation: (n) => n >= min }));

/** QUERIES keeps 90 days of queries, answers and feedback unless SPANDA_QUERIES_MAX_AGE says otherwise. */
export const DEFAULT_QUERIES_MAX_AGE_MS = 90 * 86_400_000;
/** The DLQ keeps 30 days of rejected events unless SPANDA_DLQ_MAX_AGE says otherwise (the originals stay in the log). */
export const DEFAULT_DLQ_MAX_AGE_MS = 30 * 86_400_000;

/** A stream's age limit: a duration of at least a minute, or 0 to keep everything. */
const maxAge = (name: string, fallbackMs: number, keepsWhat: string) =>
  Config.string(name).pipe(
    Config.validate({ message: `must be a duration of at least 1m such as 30d or 12h, or 0 to keep ${keepsWhat}`, validation: (t) => t.trim() === '0' || (durationMs(t) ?? 0) >= 60_000 }),
    Config.map((t) => (t.trim() === '0' ? 0 : (durationMs(t) ?? 0))),
    Config.withDefault(fallbackMs),
  );
/** A stream's size limit: at least a megabyte, or 0 for none. */
const maxBytes = (name: string) =>
  Config.string(name).pipe(
    Config.validate({ message: 'must be a size of at least 1MB such as 10GB or 512MiB, or 0 for no limit', validation: (t) => t.trim() === '0' || (byteSize(t) ?? 0) >= 1e6 }),
    Config.map((t) => byteSize(t) ?? 0),
    Config.withDefault(0),
  );

const spandaConfig = Config.all({
  natsUrl: Config.string('NATS_URL').pipe(Config.withDefault('nats://127.0.0.1:4222')),
  host: Config.string('HOST').pipe(Config.withDefault('127.0.0.1')),
  port: Config.port('PORT').pipe(Config.withDefault(8080)),
  dataDir: Config.string('SPANDA_DATA_DIR').pipe(Config.withDefault('.spanda')),
  embedder: Config.literal(...EMBEDDER_KINDS)('SPANDA_EMBEDDER').pipe(Config.withDefault<EmbedderKind>('offline')),
  vectorWeight: optional(
    Config.number('SPANDA_VECTOR_WEIGHT').pipe(Config.validate({ message: 'must be a number from 0 to 1', validation: (w) => w >= 0 && w <= 1 })),
  ),
  maxBodyBytes: atLeast('SPANDA_MAX_BODY_BYTES', 1024, 'bytes').pipe(Config.withDefault(8 * 1024 * 1024)),
  chunkSize: atLeast('SPANDA_CHUNK_SIZE', 100, 'characters').pipe(Config.withDefault(800)),
  chunkOverlap: atLeast('SPANDA_CHUNK_OVERLAP', 0, 'characters, less than half SPANDA_CHUNK_SIZE').pipe(Config.withDefault(120)),
  embedWorkers: optional(positive('SPANDA_EMBED_WORKERS')),
  sample: Config.boolean('SPANDA_SAMPLE').pipe(Config.withDefault(true)),
  models: Config.array(Config.string(), 'SPANDA_MODELS').pipe(Config.withDefault<readonly string[]>([])),
  store: Config.literal('sqlite', 'weaviate', 'qdrant')('SPANDA_STORE').pipe(Config.withDefault<string>('sqlite')),
  weaviateUrl: optional(Config.string('WEAVIATE_URL')),
  weaviateGrpcUrl: optional(Config.string('WEAVIATE_GRPC_URL')),
  weaviateApiKey: optional(Config.string('WEAVIATE_API_KEY')),
  catalogStore: Config.literal('sqlite', 'weaviate')('SPANDA_CATALOG_STORE').pipe(Config.withDefault<string>('sqlite')),
  weaviateUrlIndexing: optional(Config.string('SPANDA_WEAVIATE_URL_INDEXING')),
  weaviateGrpcUrlIndexing: optional(Config.string('SPANDA_WEAVIATE_GRPC_URL_INDEXING')),
  weaviateUrlInference: optional(Config.string('SPANDA_WEAVIATE_URL_INFERENCE')),
  weaviateGrpcUrlInference: optional(Config.string('SPANDA_WEAVIATE_GRPC_URL_INFERENCE')),
  qdrantUrl: optional(Config.string('QDRANT_URL')),
  qdrantApiKey: optional(Config.string('QDRANT_API_KEY')),
  connectorsFile: optional(Config.string('SPANDA_CONNECTORS_FILE')),
  generator: Config.literal('extractive', 'openai', 'hf')('SPANDA_GENERATOR').pipe(Config.withDefault<'extractive' | 'openai' | 'hf'>('extractive')),
  openaiBaseUrl: optional(Config.string('SPANDA_OPENAI_BASE_URL')),
  openaiApiKey: optional(Config.string('SPANDA_OPENAI_API_KEY')),
  openaiModel: optional(Config.string('SPANDA_OPENAI_MODEL')),
  hfToken: optional(Config.string('HF_TOKEN')),
  hfModel: optional(Config.string('SPANDA_HF_MODEL')),
  hfEndpointUrl: optional(Config.string('SPANDA_HF_ENDPOINT_URL')),
  hfProvider: optional(Config.string('SPANDA_HF_PROVIDER')),
  prompt: Config.string('SPANDA_PROMPT').pipe(Config.withDefault('grounded')),
  generatorTimeoutMs: positive('SPANDA_GENERATOR_TIMEOUT_MS').pipe(Config.withDefault(60_000)),
  rerank: Config.literal('none', 'tei', 'hf')('SPANDA_RERANK').pipe(Config.withDefault<'none' | 'tei' | 'hf'>('none')),
  rerankUrl: optional(Config.string('SPANDA_RERANK_URL')),
  rerankModel: optional(Config.string('SPANDA_RERANK_MODEL')),
  rerankLabel: optional(Config.string('SPANDA_RERANK_LABEL')),
  keywordExpansion: Config.literal('none', 'rm3')('SPANDA_KEYWORD_EXPANSION').pipe(Config.withDefault<'none' | 'rm3'>('none')),
  queriesMaxAgeMs: maxAge('SPANDA_QUERIES_MAX_AGE', DEFAULT_QUERIES_MAX_AGE_MS, 'every answer'),
  queriesMaxBytes: maxBytes('SPANDA_QUERIES_MAX_BYTES'),
  dlqMaxAgeMs: maxAge('SPANDA_DLQ_MAX_AGE', DEFAULT_DLQ_MAX_AGE_MS, 'every rejected event'),
  dlqMaxBytes: maxBytes('SPANDA_DLQ_MAX_BYTES'),
});


/** Security, logging and shutdown settings (issue 11). Secrets are Redacted: printing the config never shows them. */
export interface OperationsConfig {
  /** JSON file of API keys (SPANDA_API_KEYS_FILE, --api-keys). */
  readonly apiKeysFile: string | undefined;
  /** NATS KV bucket of API key hashes to follow besides the file. */
  readonly apiKeysBucket: string | undefined;
  /** Serve without keys on a non-loopback address (SPANDA_ALLOW_OPEN, --allow-open). */
  readonly allowOpen: boolean;
  /** Default per-key limit in requests per second (0: none) and its burst. */
  readonly rateLimit: number;
  readonly rateBurst: number | undefined;
  /** Documents per second a tenant's API key may publish (each of a batch or an NDJSON upload counts); 0: no limit. */
  readonly documentRateLimit: number;
  readonly documentRateBurst: number | undefined;
  /** Origins allowed by CORS; empty: none, "*": any. */
  readonly corsOrigins: readonly string[];
  /** Serve /metrics without a key even when keys are configured. */
  readonly metricsPublic: boolean;
  readonly natsUser: string | undefined;
  readonly natsPassword: Redacted.Redacted<string> | undefined;
  readonly natsToken: Redacted.Redacted<string> | undefined;
  /** A NATS credentials file (JWT + nkey seed) or an nkey seed file. */
  readonly natsCreds: string | undefined;
  readonly natsNkey: string | undefined;
  /** How long shutdown waits for in-flight HTTP requests before closing their connections. */
  readonly shutdownGraceMs: number;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  readonly logFormat: 'text' | 'json';
}

const splitList = (raw: string): readonly string[] => raw.split(',').map((o) => o.trim()).filter((o) => o !== '');


const operationsConfig = Config.all({
  apiKeysFile: optional(Config.nonEmptyString('SPANDA_API_KEYS_FILE')),
  apiKeysBucket: optional(
    Config.string('SPANDA_API_KEYS_BUCKET').pipe(
      Config.validate({ message: 'must be a NATS KV bucket name (letters, digits, "-" and "_")', validation: (b) => /^[A-Za-z0-9_-]+$/.test(b) }),
    ),
  ),
  allowOpen: Config.boolean('SPANDA_ALLOW_OPEN').pipe(Config.withDefault(false)),
  rateLimit: Config.number('SPANDA_RATE_LIMIT').pipe(
    Config.validate({ message: 'must be requests per second per API key, 0 for no limit', validation: (n) => Number.isFinite(n) && n >= 0 }),
    Config.withDefault(0),
  ),
  rateBurst: optional(positive('SPANDA_RATE_BURST')),
  documentRateLimit: Config.number('SPANDA_DOCUMENT_RATE_LIMIT').pipe(
    Config.validate({ message: 'must be documents per second per API key, 0 for no limit', validation: (n) => Number.isFinite(n) && n >= 0 }),
    Config.withDefault(0),
  ),
  documentRateBurst: optional(positive('SPANDA_DOCUMENT_RATE_BURST')),
  corsOrigins: Config.string('SPANDA_CORS_ORIGINS').pipe(
    Config.validate({
      message: 'must be "*" or a comma-separated list of origins like https://app.example.com (scheme, host, optional port; no path)',
      validation: (raw) => splitList(raw).every((o) => o === '*' || /^https?:\/\/[^/\s,]+$/.test(o)),
    }),
    Config.map(splitList),
    Config.withDefault<readonly string[]>([]),
  ),
  metricsPublic: Config.boolean('SPANDA_METRICS_PUBLIC').pipe(Config.withDefault(false)),
  natsUser: optional(Config.string('NATS_USER')),
  natsPassword: optional(Config.redacted('NATS_PASSWORD')),
  natsToken: optional(Config.redacted('NATS_TOKEN')),
  natsCreds: optional(Config.nonEmptyString('NATS_CREDS')),
  natsNkey: optional(Config.nonEmptyString('NATS_NKEY')),
  shutdownGraceMs: positive('SPANDA_SHUTDOWN_GRACE_MS').pipe(Config.withDefault(10_000)),
  logLevel: Config.literal('debug', 'info', 'warn', 'error', 'silent')('SPANDA_LOG_LEVEL').pipe(
    Config.withDefault<'debug' | 'info' | 'warn' | 'error' | 'silent'>('info'),
  ),
  logFormat: Config.literal('text', 'json')('SPANDA_LOG_FORMAT').pipe(Config.withDefault<'text' | 'json'>('text')),
});

/** NATS credentials for connectNats, from NATS_USER/NATS_PASSWORD, NATS_TOKEN, NATS_CREDS or NATS_NKEY. */
export function natsAuthOf(config: OperationsConfig): {
  user?: string;
  pass?: string;
  token?: string;
  credsFile?: string;
  nkeySeedFile?: string;
} {
  return {
    ...(config.natsUser !== undefined ? { user: config.natsUser } : {}),
    ...(config.natsPassword !== undefined ? { pass: Redacted.value(config.natsPassword) } : {}),
    ...(config.natsToken !== undefined ? { token: Redacted.value(config.natsToken) } : {}),
    ...(config.natsCreds !== undefined ? { credsFile: config.natsCreds } : {}),
    ...(config.natsNkey !== undefined ? { nkeySeedFile: config.natsNkey } : {}),
  };
}

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
  'keyword-expansion': 'SPANDA_KEYWORD_EXPANSION',
  config: 'SPANDA_CONFIG',
  'api-keys': 'SPANDA_API_KEYS_FILE',
  'cors-origins': 'SPANDA_CORS_ORIGINS',
};

/**
 * Reads a config file: a JSON object whose keys are the environment variable names (see the README), with string,
 * number, boolean or (for lists) array values.
 */
export function readConfigFile(file: string): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the config file ${file} (SPANDA_CONFIG / --config): ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`the config file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(`the config file ${file} must hold one JSON object of settings, like { "PORT": 8080, "SPANDA_API_KEYS_FILE": "keys.json" }`);
  }
  const values = new Map<string, string>();
  for (const [key, v] of Object.entries(value)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') values.set(key, String(v));
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number')) values.set(key, v.join(','));
    else throw new ConfigError(`config file ${file}: ${key}: expected a string, number, boolean or array of strings, got ${JSON.stringify(v)?.slice(0, 80)}`);
  }
  return values;
}

type Origin = 'flag' | 'env' | 'file';

/** One line per bad key: its name, where the value came from, and what form it must take. */
function describeConfigError(error: EffectConfigError.ConfigError, origins: ReadonlyMap<string, Origin>, file: string | undefined): string[] {
  switch (error._op) {
    case 'And':
    case 'Or':
      return [...describeConfigError(error.left, origins, file), ...describeConfigError(error.right, origins, file)];
    case 'InvalidData':
    case 'MissingData':
    case 'SourceUnavailable':
    case 'Unsupported': {
      const key = error.path.join('.');
      const origin = origins.get(key);
      const where = origin === 'flag' ? ' (from a command-line flag)' : origin === 'file' ? ` (from the config file ${file})` : origin === 'env' ? ' (from the environment)' : '';
      const message = error.message.replace(/^Expected /, 'expected ');
      return [`${key}${where}: ${message}`];
    }
  }
}

/** Reads the configuration; `overrides` are variable-name → value pairs (from flags) that win over the environment. */
export function loadConfig(overrides: Readonly<Record<string, string>> = {}, env: NodeJS.ProcessEnv = process.env): SpandaConfig {
  const file = overrides.SPANDA_CONFIG ?? env.SPANDA_CONFIG;
  const fromFile = file ? readConfigFile(file) : new Map<string, string>();
  const values = new Map<string, string>(fromFile);
  const origins = new Map<string, Origin>([...fromFile.keys()].map((k) => [k, 'file']));
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) continue;
    values.set(key, value);
    origins.set(key, 'env');
  }
  for (const [key, value] of Object.entries(overrides)) {
    values.set(key, value);
    origins.set(key, 'flag');
  }
  // Every key the schema asks for, so a config file key nobody reads (a typo) is refused rather than ignored.
  const read = new Set<string>(['SPANDA_CONFIG']);
  const provider = ConfigProvider.fromMap(values).pipe(
    ConfigProvider.mapInputPath((path) => {
      read.add(path);
      return path;
    }),
  );
  const result = Effect.runSync(Effect.either(Config.all([spandaConfig, operationsConfig]).pipe(Effect.withConfigProvider(provider))));
  if (Either.isLeft(result)) {
    const lines = describeConfigError(result.left, origins, file);
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const unknown = [...fromFile.keys()].filter((k) => !read.has(k));
  if (unknown.length > 0) {
    throw new ConfigError(
      `config file ${file}: unknown key${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; keys are the environment variable names (${[...read].filter((k) => k !== 'SPANDA_CONFIG').sort().join(', ')})`,
    );
  }
  const config = { ...result.right[0], ...result.right[1] };
  // The serving model comes first; SPANDA_EMBEDDER stays the way to pick it.
  const models = [config.embedder, ...config.models.map((m) => m.trim()).filter((m) => m !== '' && m !== config.embedder)];
  return { ...config, models };
}
