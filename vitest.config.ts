// Test tiers: unit (pure, milliseconds), integration (real nats-server / SQLite), e2e (the CLI and HTTP as a user drives them).
import { defineConfig } from 'vitest/config';

const sources = ['lib', 'streams', 'processors', 'projections', 'inference', 'api', 'connectors', 'cli', 'bench', 'deploy'];

export default defineConfig({
  test: {
    // Two files at a time (vitest's default on 2 cores is one): integration tests spend much of their time waiting on
    // servers and timers. The e2e files (no file parallelism) still run one at a time, after the rest.
    maxWorkers: 2,
    projects: [
      {
        test: {
          name: 'unit',
          include: sources.map((dir) => `${dir}/**/*.test.ts`),
          exclude: ['**/*.int.test.ts', '**/node_modules/**'],
        },
      },
      {
        test: {
          name: 'integration',
          include: [...sources.map((dir) => `${dir}/**/*.int.test.ts`), 'test/**/*.int.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
