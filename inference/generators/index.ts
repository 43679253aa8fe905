// Picks the generator the configuration names; a provider missing a setting fails at start with the setting's name.
import type { SpandaConfig } from '../../lib/config.ts';
import { ConfigError } from '../../lib/errors.ts';
import { extractiveGenerator } from './extractive.ts';
import type { Generator } from './generator.ts';
import { hfGenerator } from './hf.ts';
import { DEFAULT_RETRY } from './http.ts';
import { openAiGenerator } from './openai.ts';

export type { Generator, GenerationDelta, GenerationInput, GenerationResult, GeneratorKind } from './generator.ts';
export { GENERATOR_KINDS } from './generator.ts';

export type GeneratorConfig = Pick<
  SpandaConfig,
  'generator' | 'openaiBaseUrl' | 'openaiApiKey' | 'openaiModel' | 'hfToken' | 'hfModel' | 'hfEndpointUrl' | 'hfProvider' | 'generatorTimeoutMs'
>;

function checkUrl(name: string, value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new ConfigError(`${name}=${JSON.stringify(value)} is not an http(s) URL`);
  }
  return value;
}

export function createGenerator(config: GeneratorConfig): Generator {
  const retry = { ...DEFAULT_RETRY, timeoutMs: config.generatorTimeoutMs };
  switch (config.generator) {
    case 'extractive':
      return extractiveGenerator();
    case 'openai': {
      if (!config.openaiModel) throw new ConfigError('SPANDA_GENERATOR=openai needs SPANDA_OPENAI_MODEL (the model name the endpoint serves, e.g. llama3.1 for Ollama)');
      if (!config.openaiBaseUrl && !config.openaiApiKey) {
        throw new ConfigError(
          'SPANDA_GENERATOR=openai needs SPANDA_OPENAI_BASE_URL (e.g. http://127.0.0.1:8000/v1 for vLLM, http://127.0.0.1:11434/v1 for Ollama), or SPANDA_OPENAI_API_KEY for api.openai.com',
        );
      }
      const baseUrl = checkUrl('SPANDA_OPENAI_BASE_URL', config.openaiBaseUrl ?? 'https://api.openai.com/v1');
      return openAiGenerator({ baseUrl, model: config.openaiModel, retry, ...(config.openaiApiKey ? { apiKey: config.openaiApiKey } : {}) });
    }
    case 'hf':
      return hfGenerator({
        retry,
        ...(config.hfModel ? { model: config.hfModel } : {}),
        ...(config.hfEndpointUrl ? { endpointUrl: checkUrl('SPANDA_HF_ENDPOINT_URL', config.hfEndpointUrl) } : {}),
        ...(config.hfToken ? { token: config.hfToken } : {}),
        ...(config.hfProvider ? { provider: config.hfProvider } : {}),
      });
    default:
      throw new ConfigError(`SPANDA_GENERATOR=${String(config.generator)} is not a generator; use extractive, openai or hf`);
  }
}
