// The inference settings a node runs with, from configuration: generator, prompt template, reranker, search options.
import { loadConfig, type SpandaConfig } from '../lib/config.ts';
import { ConfigError } from '../lib/errors.ts';
import type { SearchOptions } from '../projections/search.ts';
import { STORES_WITH_EXPANSION } from '../projections/store.ts';
import { createGenerator } from './generators/index.ts';
import type { Generator } from './generators/generator.ts';
import { promptTemplate, type PromptTemplate } from './prompts/prompt.ts';
import type { Inference } from './query.ts';
import type { QueryRecorder } from './record.ts';
import { createReranker, type Reranker } from './rerank.ts';

export interface InferenceSettings {
  readonly generator: Generator;
  readonly promptTemplate: PromptTemplate;
  readonly reranker?: Reranker;
  readonly search: SearchOptions;
}

/** Retrieval ranks documents (one chunk per document, see projections/search.ts): measured better on SciFact, see BENCHMARKS.md. */
export const DEFAULT_SEARCH_OPTIONS: SearchOptions = {};

/** Throws ConfigError naming the setting when a provider is misconfigured, so a node fails at start, not at the first query. */
export function inferenceSettings(config: SpandaConfig = loadConfig()): InferenceSettings {
  const reranker = createReranker(config);
  return {
    generator: createGenerator(config),
    promptTemplate: promptTemplate(config.prompt),
    ...(reranker ? { reranker } : {}),
    search: searchOptions(config),
  };
}

/** Search options from configuration; keyword expansion is refused at start by a store that cannot do it. */
export function searchOptions(config: Pick<SpandaConfig, 'keywordExpansion' | 'store'>): SearchOptions {
  if (config.keywordExpansion === 'none') return DEFAULT_SEARCH_OPTIONS;
  if (!STORES_WITH_EXPANSION.includes(config.store)) {
    throw new ConfigError(
      `SPANDA_KEYWORD_EXPANSION=${config.keywordExpansion} is implemented by the sqlite store only (SPANDA_STORE is ${config.store}): unset it or serve from sqlite`,
    );
  }
  return { ...DEFAULT_SEARCH_OPTIONS, keywordExpansion: config.keywordExpansion };
}

/** What a caller may already hold; anything left unset comes from the environment (read once, when called). */
export interface InferenceParts {
  readonly serving: Inference['serving'];
  readonly nats: Inference['nats'];
  readonly logger: Inference['logger'];
  readonly generator?: Generator;
  readonly promptTemplate?: PromptTemplate;
  /** null: no reranker, whatever the environment says. */
  readonly reranker?: Reranker | null;
  readonly search?: SearchOptions;
  readonly recordQueries?: boolean;
  readonly queryRecorder?: QueryRecorder;
}

export function inferenceOf(parts: InferenceParts): Inference {
  const complete = parts.generator !== undefined && parts.promptTemplate !== undefined && parts.reranker !== undefined && parts.search !== undefined;
  const env = complete ? undefined : inferenceSettings();
  const reranker = parts.reranker === undefined ? env?.reranker : (parts.reranker ?? undefined);
  const generator = parts.generator ?? env?.generator;
  const template = parts.promptTemplate ?? env?.promptTemplate;
  if (!generator || !template) throw new Error('unreachable: inference settings without a generator or template');
  return {
    serving: parts.serving,
    nats: parts.nats,
    logger: parts.logger,
    generator,
    template,
    ...(reranker ? { reranker } : {}),
    search: parts.search ?? env?.search ?? DEFAULT_SEARCH_OPTIONS,
    record: parts.recordQueries !== false,
    ...(parts.queryRecorder ? { recorder: parts.queryRecorder } : {}),
  };
}
