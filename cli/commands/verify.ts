// spanda verify: compares a projection generation's digest with one computed straight from the log; exit 1 on mismatch.
import { silentLogger } from '../../lib/log.ts';
import { INDEXING_ROLE, verifyCatalog } from '../../projections/catalog-serving.ts';
import { Generations } from '../../projections/generations.ts';
import type { FoldProgress } from '../../projections/log-digest.ts';
import { verifyGeneration } from '../../projections/replay.ts';
import { provision } from '../../streams/provision.ts';
import { configFrom, connectFrom, stringFlag } from '../env.ts';
import { generationRuntime, INFERENCE_ROLE, storeConfigOf } from '../inference-runtime.ts';
import type { Command } from '../main.ts';
import { UsageError, printJson } from '../output.ts';
import { progressReporter } from '../progress.ts';

export const verifyCommand: Command = {
  usage: 'spanda verify [--projection inference|indexing] [--generation ID] [--json] [--nats-url URL] [--data-dir DIR]',
  options: { projection: { type: 'string' }, generation: { type: 'string' }, 'data-dir': { type: 'string' } },
  async run(ctx) {
    const projection = stringFlag(ctx, 'projection') ?? INFERENCE_ROLE;
    if (projection !== INFERENCE_ROLE && projection !== INDEXING_ROLE) {
      throw new UsageError(`--projection must be inference or indexing, got ${JSON.stringify(projection)}\nusage: ${this.usage}`);
    }
    const generation = stringFlag(ctx, 'generation');
    if (generation !== undefined && projection === INDEXING_ROLE) {
      throw new UsageError('--generation picks an inference generation; --projection indexing verifies the catalog that serves (alias.indexing)');
    }
    if (generation !== undefined && !/^[A-Za-z0-9_-]+$/.test(generation)) {
      throw new UsageError(`--generation ${JSON.stringify(generation)} is not a generation id; \`spanda projections list\` shows them`);
    }
    const config = configFrom(ctx);
    const handle = await connectFrom(ctx);
    // Reading the log again is the long part: a bar per slice on a terminal (stderr), a line every few seconds in a
    // pipe or a log, nothing with --json.
    const bar = progressReporter(ctx.values.json === true);
    try {
      const { kv } = await provision(handle);
      const onProgress = (p: FoldProgress) => bar.update(p.source, p.read, p.total);
      if (projection === INDEXING_ROLE) {
        const catalog = await verifyCatalog(handle, new Generations(kv), storeConfigOf(config, INDEXING_ROLE), onProgress);
        bar.finish();
        if (ctx.values.json) printJson(catalog);
        else process.stdout.write(`catalog generation ${catalog.generation} ${catalog.ok ? 'matches' : 'does NOT match'} the log (store ${catalog.digest}, log ${catalog.logDigest})\n`);
        return catalog.ok ? 0 : 1;
      }
      const result = await verifyGeneration(generationRuntime(handle, kv, config, [], silentLogger), projection, generation, onProgress);
      bar.finish();
      if (ctx.values.json) printJson(result);
      else if (result.ok) process.stdout.write(`generation ${result.generation} matches the log (${result.digest}) at ${JSON.stringify(result.checkpoints)}\n`);
      else {
        process.stdout.write(`generation ${result.generation} does NOT match the log: store ${result.digest}, log ${result.logDigest}\n`);
        for (const d of result.differing.slice(0, 50)) process.stdout.write(`  differs: ${d}\n`);
        if (result.differing.length > 50) process.stdout.write(`  … and ${result.differing.length - 50} more\n`);
        process.stdout.write('rebuild it with `spanda replay --projection inference`\n');
      }
      return result.ok ? 0 : 1;
    } finally {
      bar.finish();
      await handle.drain();
    }
  },
};
