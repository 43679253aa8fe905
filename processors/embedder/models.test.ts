// Choosing a provider by kind, and the fusion profile each model brings (or configuration replaces).
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/errors.ts';
import { createEmbeddingProvider, fusionProfileFor, isEmbeddingProviderKind } from './models.ts';

describe('createEmbeddingProvider', () => {
  it('builds the hash and offline providers with their measured fusion weights', async () => {
    const hash = createEmbeddingProvider('hash', { dims: 128 });
    expect(hash.info.id).toBe('hash-128');
    expect(hash.fusion).toEqual({ vectorWeight: 0.3 });
    const offline = createEmbeddingProvider('offline');
    expect(offline.info.id).toBe('use-lite-512');
    expect(offline.fusion).toEqual({ vectorWeight: 0.25 });
    await Promise.all([hash.close(), offline.close()]);
  });

  it('lets configuration replace the fusion weight, within [0, 1]', () => {
    expect(createEmbeddingProvider('hash', { fusion: { vectorWeight: 0.5 } }).fusion).toEqual({ vectorWeight: 0.5 });
    expect(() => createEmbeddingProvider('offline', { fusion: { vectorWeight: 1.5 } })).toThrow(ConfigError);
  });

  it('knows the profile of each model id it can build', () => {
    expect(fusionProfileFor('use-lite-512')).toEqual({ vectorWeight: 0.25 });
    expect(fusionProfileFor('hash-256')).toEqual({ vectorWeight: 0.3 });
    expect(fusionProfileFor('bge-small')).toBeUndefined();
  });

  it('recognises provider kinds from configuration strings', () => {
    expect(isEmbeddingProviderKind('offline')).toBe(true);
    expect(isEmbeddingProviderKind('onnx')).toBe(false);
  });
});
