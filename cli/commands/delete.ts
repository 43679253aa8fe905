// spanda delete: publishes document.deleted for one document straight to the DOCUMENTS stream and prints its sequence.
import { publishDeletion } from '../../streams/document-log.ts';
import { documentArgs } from '../document-args.ts';
import { connectFrom } from '../env.ts';
import type { Command } from '../main.ts';
import { printJson } from '../output.ts';

export const deleteCommand: Command = {
  usage: 'spanda delete <source> <id> [--tenant default] [--nats-url URL] [--json]',
  options: {
    tenant: { type: 'string' },
  },
  async run(ctx) {
    const { tenant, source, id } = documentArgs(ctx, this.usage);
    const handle = await connectFrom(ctx);
    try {
      // Deleting a document the log never held still records the deletion (a fact about the id), and says so.
      const published = await publishDeletion(handle, { tenant, source, id }, { producer: '/cli' });
      const { duplicate, neverPublished } = published;
      if (ctx.values.json) printJson({ tenant, source, id, seq: published.seq, ...(duplicate ? { duplicate: true } : {}), ...(neverPublished ? { neverPublished: true } : {}) });
      else {
        const remark = duplicate
          ? ' (already deleted; nothing new stored)'
          : neverPublished
            ? `\nnote: the log held no version of ${source}/${id} for tenant ${tenant}; check the source and id (spanda inspect events 'docs.${tenant}.${source}.>')`
            : '';
        process.stdout.write(`deleted ${source}/${id} (tenant ${tenant}): DOCUMENTS sequence ${published.seq}${remark}\n`);
      }
      return 0;
    } finally {
      await handle.drain();
    }
  },
};
