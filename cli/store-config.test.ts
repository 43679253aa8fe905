// storeConfigOf: each role's Weaviate (SPANDA_WEAVIATE_URL_INDEXING / _INFERENCE) with WEAVIATE_URL as the fallback.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config.ts';
import { storeConfigOf } from './inference-runtime.ts';

const config = (env: Record<string, string>) => loadConfig({}, { SPANDA_DATA_DIR: 'data', ...env });

describe('storeConfigOf', () => {
  it('gives each role its own Weaviate when configured', () => {
    const c = config({
      SPANDA_WEAVIATE_URL_INDEXING: 'http://indexing:8080',
      SPANDA_WEAVIATE_GRPC_URL_INDEXING: 'indexing:50051',
      SPANDA_WEAVIATE_URL_INFERENCE: 'http://inference:8080',
      SPANDA_WEAVIATE_GRPC_URL_INFERENCE: 'inference:50051',
      WEAVIATE_URL: 'http://shared:8080',
      WEAVIATE_API_KEY: 'k',
    });
    expect(storeConfigOf(c, 'indexing')).toEqual({ dataDir: 'data', weaviate: { url: 'http://indexing:8080', grpcUrl: 'indexing:50051', apiKey: 'k' } });
    expect(storeConfigOf(c, 'inference')).toEqual({ dataDir: 'data', weaviate: { url: 'http://inference:8080', grpcUrl: 'inference:50051', apiKey: 'k' } });
  });

  it('falls back to WEAVIATE_URL and WEAVIATE_GRPC_URL, but never pairs a role URL with the shared gRPC URL', () => {
    const c = config({ SPANDA_WEAVIATE_URL_INDEXING: 'http://indexing:8080', WEAVIATE_URL: 'http://shared:8080', WEAVIATE_GRPC_URL: 'shared:50051' });
    expect(storeConfigOf(c, 'inference').weaviate).toEqual({ url: 'http://shared:8080', grpcUrl: 'shared:50051' });
    expect(storeConfigOf(c, 'indexing').weaviate).toEqual({ url: 'http://indexing:8080' });
    expect(storeConfigOf(config({}), 'indexing')).toEqual({ dataDir: 'data' });
  });

  it('reads SPANDA_CATALOG_STORE (sqlite by default) and refuses other kinds', () => {
    expect(config({}).catalogStore).toBe('sqlite');
    expect(config({ SPANDA_CATALOG_STORE: 'weaviate' }).catalogStore).toBe('weaviate');
    expect(() => config({ SPANDA_CATALOG_STORE: 'qdrant' })).toThrow(/SPANDA_CATALOG_STORE/);
  });
});
