// CLI flags reach the configuration: every node flag FLAG_TO_ENV names is declared by `spanda up` and `spanda run`.
import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { FLAG_TO_ENV } from '../lib/config.ts';
import { configFrom, NODE_OPTIONS } from './env.ts';

// Flags of FLAG_TO_ENV that other commands declare (replay, publish, …) or that only a config file sets.
const NOT_NODE_FLAGS = new Set(['nats-url', 'chunk-size', 'chunk-overlap', 'sample']);

describe('node flags', () => {
  it('declares every flag FLAG_TO_ENV maps for a node, so none is refused as unknown', () => {
    const missing = Object.keys(FLAG_TO_ENV).filter((flag) => !NOT_NODE_FLAGS.has(flag) && !(flag in NODE_OPTIONS));
    expect(missing).toEqual([]);
  });

  it('turns --generator, --prompt and --keyword-expansion into the configuration', () => {
    const { values } = parseArgs({ args: ['--generator', 'hf', '--prompt', 'grounded@1', '--keyword-expansion', 'rm3'], options: NODE_OPTIONS, strict: true });
    const config = configFrom({ args: [], values });
    expect(config.generator).toBe('hf');
    expect(config.prompt).toBe('grounded@1');
    expect(config.keywordExpansion).toBe('rm3');
  });
});
