// npm run chaos [-- NAME…] [--short] [--seed N]: runs the reliability scenarios, writes bench/results/chaos-NAME.json and the Reliability section of BENCHMARKS.md.
import { parseArgs } from 'node:util';
import { onCleanup, runBenchmark } from '../lib/common.ts';
import { closeAllScopes } from './lib/scope.ts';
import { SCENARIOS, type ScenarioName } from './scenarios.ts';
import { startLoad, textTable, writeChaosResult, type ChaosResult, type Scale } from './lib/result.ts';
import { updateBenchmarksMd } from './report.ts';

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  allowPositionals: true,
  options: { short: { type: 'boolean' }, seed: { type: 'string' }, 'soak-minutes': { type: 'string' } },
});

const names = positionals.length > 0 ? positionals : (Object.keys(SCENARIOS) as ScenarioName[]);
const unknown = names.filter((n) => !(n in SCENARIOS));
if (unknown.length > 0) {
  process.stderr.write(`unknown scenario ${unknown.join(', ')}; choose from ${Object.keys(SCENARIOS).join(', ')}\n`);
  process.exit(2);
}
if (values['soak-minutes'] !== undefined) process.env.SPANDA_CHAOS_SOAK_MINUTES = values['soak-minutes'];
const scale: Scale = { name: values.short ? 'short' : 'full', seed: values.seed !== undefined ? Number(values.seed) : 12 };

await runBenchmark('chaos', async () => {
  onCleanup(closeAllScopes);
  const results: ChaosResult[] = [];
  for (const name of names as ScenarioName[]) {
    const load = startLoad();
    const result = await SCENARIOS[name](scale);
    results.push(result);
    const file = await writeChaosResult(result, scale, load);
    process.stdout.write(`${name}: ${result.skipped !== undefined ? `skipped: ${result.skipped}` : result.failures.length === 0 ? 'pass' : `FAIL\n  ${result.failures.join('\n  ')}`} (${file})\n`);
  }
  process.stdout.write(`\n${textTable(results)}\n`);
  await updateBenchmarksMd();
  process.stdout.write('updated the Reliability section of BENCHMARKS.md\n');
  if (results.some((r) => r.failures.length > 0)) process.exitCode = 1;
});
