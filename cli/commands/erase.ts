// spanda erase: takes one document's content out of the log (every stream), keeping only the fact that it was deleted.
import { eraseDocument } from '../../streams/erase.ts';
import { documentArgs } from '../document-args.ts';
import { connectFrom, stringFlag } from '../env.ts';
import type { Command } from '../main.ts';
import { UsageError, printJson } from '../output.ts';
import { progressReporter } from '../progress.ts';

/** A scan shorter than this is quick enough to show no progress. */
const PROGRESS_FROM = 50_000;

export const eraseCommand: Command = {
  usage: `spanda erase <source> <id> --yes [--tenant default] [--wait SECONDS] [--nats-url URL] [--json]

Deletes the document (as spanda delete), then purges the content of every earlier version from the log: its
DOCUMENTS messages, its CHUNKS and EMBEDDINGS once the pipeline has removed it (waiting up to --wait seconds, default
60), the queries whose answers cited it, and its DLQ entries. The deletion itself stays, so a replay still ends with
the document deleted. It cannot be undone: --yes is required.`,
  options: {
    tenant: { type: 'string' },
    wait: { type: 'string' },
    yes: { type: 'boolean', short: 'y' },
  },
  async run(ctx) {
    const { tenant, source, id } = documentArgs(ctx, this.usage);
    const waitText = stringFlag(ctx, 'wait') ?? '60';
    const waitSeconds = Number(waitText);
    if (!/^\d+(\.\d+)?$/.test(waitText) || !Number.isFinite(waitSeconds) || waitSeconds > 86_400) {
      throw new UsageError(`--wait takes seconds, 0 to 86400 (got ${JSON.stringify(waitText)})\nusage: ${this.usage}`);
    }
    if (ctx.values.yes !== true) {
      throw new UsageError(`spanda erase purges ${source}/${id} (tenant ${tenant}) from the log for good: add --yes to go ahead (spanda delete only deletes it)`);
    }
    const handle = await connectFrom(ctx);
    try {
      const progress = progressReporter(false);
      const report = await eraseDocument(
        handle,
        { tenant, source, id },
        {
          waitMs: waitSeconds * 1000,
          onStep: (step) => process.stderr.write(`spanda erase: ${step}\n`),
          // The tenant's answers and the DLQ are read whole: at hundreds of thousands of messages that takes a while.
          onProgress: (scan, done, total) => total >= PROGRESS_FROM && progress.update(scan, done, total),
        },
      );
      progress.finish();
      if (ctx.values.json) {
        printJson(report);
      } else {
        const { purged } = report;
        process.stdout.write(
          `erased ${source}/${id} (tenant ${tenant}); the deletion stays at DOCUMENTS sequence ${report.deletionSeq}\n` +
            `  purged: ${purged.documents} from DOCUMENTS, ${purged.chunks} from CHUNKS, ${purged.embeddings} from EMBEDDINGS; ` +
            `${report.queries} ${report.queries === 1 ? 'query' : 'queries'} that cited it; ${report.dlqEntries} DLQ ${report.dlqEntries === 1 ? 'entry' : 'entries'}\n`,
        );
      }
      if (report.neverPublished) {
        process.stderr.write(`spanda erase: the log held no version of ${source}/${id} for tenant ${tenant}; check the source and id (spanda inspect events 'docs.${tenant}.${source}.>')\n`);
      }
      if (report.unprocessed.length > 0) {
        process.stderr.write(
          `spanda erase: the pipeline had not removed the document from ${report.unprocessed.join(', ')} within ${waitSeconds} s; ` +
            'they were purged whole, but a processor still behind could write an older version there again: once the node has caught up, run spanda erase again\n',
        );
      }
      // The projections keep no content of a deleted document, but the catalog lists its versions (ids, titles, times).
      process.stderr.write(
        'spanda erase: the serving store drops the document as it applies the deletion (its rows zeroed); the indexing catalog still lists its earlier versions ' +
          '(ids, titles, times) until it is rebuilt: spanda replay --projection indexing\n',
      );
      return report.unprocessed.length > 0 ? 1 : 0;
    } finally {
      await handle.drain();
    }
  },
};
