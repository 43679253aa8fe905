// spanda publish: sends documents from files, directories or stdin (JSONL) to the DOCUMENTS stream, with progress.
import { assertName } from '../../streams/subjects.ts';
import { connectFrom, stringFlag } from '../env.ts';
import type { Command } from '../main.ts';
import { printJson } from '../output.ts';
import { UsageError } from '../output.ts';
import { publishFrom } from '../publishing.ts';

export const publishCommand: Command = {
  usage: 'spanda publish <file|dir|-> [--tenant default] [--source files] [--force] [--nats-url URL] [--json]',
  options: {
    tenant: { type: 'string' },
    source: { type: 'string' },
    force: { type: 'boolean' },
  },
  async run(ctx) {
    const target = ctx.args[0];
    if (target === undefined || ctx.args.length > 1) throw new UsageError(`give exactly one file, directory or -\nusage: ${this.usage}`);
    const tenant = assertName('tenant', stringFlag(ctx, 'tenant') ?? 'default');
    const source = assertName('source', stringFlag(ctx, 'source') ?? 'files');
    const handle = await connectFrom(ctx);
    const started = Date.now();
    let lastReport = started;
    try {
      const summary = await publishFrom(handle, target, {
        tenant,
        source,
        skipUnchanged: ctx.values.force !== true,
        onProgress: (done, invalid) => {
          if (Date.now() - lastReport >= 2000) {
            lastReport = Date.now();
            process.stderr.write(`published ${done} documents so far${invalid ? `, ${invalid} invalid` : ''}…\n`);
          }
        },
      });
      const seconds = (Date.now() - started) / 1000;
      if (ctx.values.json) printJson({ ...summary, seconds });
      else {
        for (const problem of summary.invalid) process.stderr.write(`invalid: ${problem.origin}: ${problem.error}\n`);
        process.stdout.write(
          `published ${summary.published} documents, ${summary.unchanged} unchanged` +
            `${summary.invalid.length ? `, ${summary.invalid.length} invalid (not published, see above)` : ''} in ${seconds.toFixed(1)} s` +
            `${summary.lastSeq ? `; last DOCUMENTS sequence ${summary.lastSeq}` : ''}\n`,
        );
      }
      return summary.invalid.length > 0 ? 1 : 0;
    } finally {
      await handle.drain();
    }
  },
};
