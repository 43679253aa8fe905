// spanda verify: compares a projection generation's digest with one computed straight from the log; exit 1 on mismatch.
import { silentLogger } from '../../lib/log.ts';
import { verifyGeneration } from '../../projections/replay.ts';
import { provision } from '../../streams/provision.ts';
import { configFrom, connectFrom, stringFlag } from '../env.ts';
import { generationRuntime, INFERENCE_ROLE } from '../inference-runtime.ts';
import type { Command } from '../main.ts';
import { UsageError, printJson } from '../output.ts';

export const verifyCommand: Command = {
  usage: 'spanda verify [--projection inference] [--generation ID] [--json] [--nats-url URL] [--data-dir DIR]',
  options: { projection: { type: 'string' }, generation: { type: 'string' }, 'data-dir': { type: 'string' } },
  async run(ctx) {
    const projection = stringFlag(ctx, 'projection') ?? INFERENCE_ROLE;
    if (projection !== INFERENCE_ROLE) throw new UsageError(`--projection ${projection} cannot be verified yet: use inference\nusage: ${this.usage}`);
    const config = configFrom(ctx);
    const handle = await connectFrom(ctx);
    try {
      const { kv } = await provision(handle);
      const result = await verifyGeneration(generationRuntime(handle, kv, config, [], silentLogger), projection, stringFlag(ctx, 'generation'));
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
      await handle.drain();
    }
  },
};
