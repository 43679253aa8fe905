// `npm run bench [-- NAME…]`: runs the named benchmarks (all without a name), each in its own process, then the report.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fromRoot } from './lib/common.ts';

/** In the order `npm run bench` runs them: quick and store-level first, whole-system later, SciFact (long) last. */
const ALL = ['chunker', 'store', 'embedder', 'pipeline', 'post', 'cdc', 'query', 'replay', 'freshness', 'huge-document', 'fairness', 'scaling', 'memory', 'tenants', 'scifact'] as const;

const asked = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = asked.filter((name) => !(ALL as readonly string[]).includes(name));
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(', ')}; choose from ${ALL.join(', ')}`);
  process.exit(2);
}
const names = asked.length > 0 ? asked : [...ALL];
const failed: string[] = [];
for (const name of names) {
  const file = fromRoot(`bench/${name}.bench.ts`);
  if (!existsSync(file)) {
    console.error(`bench/${name}.bench.ts is missing`);
    failed.push(name);
    continue;
  }
  console.error(`\n=== ${name} ===`);
  // The benchmarks run a node in their own process: with the heap flags a node runs with (deploy/Dockerfile, npm start).
  const run = spawnSync(process.execPath, ['--max-semi-space-size=32', '--import', 'tsx', file], { stdio: 'inherit', cwd: fromRoot('.') });
  if (run.status !== 0) failed.push(name);
}
// The report reads whatever results exist, so it runs after a partial run too.
spawnSync(process.execPath, ['--import', 'tsx', fromRoot('bench/report.ts')], { stdio: 'inherit', cwd: fromRoot('.') });
if (failed.length > 0) {
  console.error(`\nfailed: ${failed.join(', ')}`);
  process.exit(1);
}
