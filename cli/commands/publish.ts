// spanda publish: sends documents from files, directories or stdin (JSONL) to the DOCUMENTS stream, with progress.
import { assertName } from '../../streams/subjects.ts';
import { connectFrom, stringFlag } from '../env.ts';
import type { Command } from '../main.ts';
import { printJson } from '../output.ts';
import { UsageError } from '../output.ts';
import { publishFrom } from '../../connectors/files/publish.ts';
import { countDocuments } from '../../connectors/files/read.ts';
import { progressBar } from '../progress.ts';

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
    // On a terminal: a bar over the counted total of a file or directory. stdin cannot be counted ahead, and a pipe or
    // --json gets no bar: those keep a progress line on stderr every 2 s.
    const total = process.stderr.isTTY === true && ctx.values.json !== true ? await countDocuments(target) : undefined;
    const bar = progressBar(total !== undefined);
    let barOpen = total !== undefined;
    const closeBar = () => {
      if (barOpen) bar.finish();
      barOpen = false;
    };
    try {
      const summary = await publishFrom(handle, target, {
        tenant,
        source,
        skipUnchanged: ctx.values.force !== true,
        onProgress: (done, invalid) => {
          if (total !== undefined) bar.update('publish', done + invalid, Math.max(total, done + invalid));
          else if (Date.now() - lastReport >= 2000) {
            lastReport = Date.now();
            process.stderr.write(`published ${done} documents so far${invalid ? `, ${invalid} invalid` : ''}…\n`);
          }
        },
      });
      closeBar();
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
      closeBar();
      await handle.drain();
    }
  },
};
