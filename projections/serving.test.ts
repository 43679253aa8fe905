// Opening a generation to serve: a store that cannot do what this node's queries ask (keyword expansion) is refused up front.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../lib/errors.ts';
import { silentLogger } from '../lib/log.ts';
import type { GenerationRecord } from './generations.ts';
import { openGeneration, type GenerationRuntime } from './serving.ts';

const record = (kind: string): GenerationRecord => ({
  id: `inference-${kind}-1`,
  spec: { role: 'inference', projection: { name: 'inference', version: 1 }, store: { kind, schemaVersion: 1 }, model: { id: 'hash-256', dims: 256, embedderVersion: 1 }, chunker: 'c' },
  state: 'active',
  vectorWeight: 0.5,
  createdAt: '2026-12-02T00:00:00Z',
  updatedAt: '2026-12-02T00:00:00Z',
});

const runtime = (keywordExpansion: 'none' | 'rm3'): GenerationRuntime =>
  ({
    storeConfig: { dataDir: '.', sqlite: {} },
    logger: silentLogger,
    keywordExpansion,
    embedderFor: () => ({ info: { id: 'hash-256', dims: 256, normalized: true, maxTokens: 512 }, embed: async () => [] }),
  }) as unknown as GenerationRuntime;

describe('openGeneration', () => {
  it('refuses a generation whose store cannot expand keyword queries when this node serves rm3, naming both ways out', async () => {
    for (const kind of ['qdrant', 'weaviate']) {
      const opening = openGeneration(runtime('rm3'), record(kind), { project: false });
      await expect(opening).rejects.toThrow(ConfigError);
      await expect(opening).rejects.toThrow(new RegExp(`${kind} store, which cannot expand .*SPANDA_KEYWORD_EXPANSION=rm3.*unset it .*spanda projections rollback`));
    }
  });

  it('lets the same generation through when the node expands nothing (the store then opens, or says what it lacks)', async () => {
    const opening = openGeneration(runtime('none'), record('qdrant'), { project: false });
    await expect(opening).rejects.toThrow(/qdrant/);
    await expect(opening).rejects.not.toThrow(/SPANDA_KEYWORD_EXPANSION/);
  });
});
