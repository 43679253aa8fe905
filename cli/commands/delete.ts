// spanda delete: publishes document.deleted for one document straight to the DOCUMENTS stream and prints its sequence.
import { ValidationError } from '../../lib/errors.ts';
import { docIdSchema } from '../../streams/events/index.ts';
import { publishDeletion } from '../../streams/document-log.ts';
import { assertName } from '../../streams/subjects.ts';
import { connectFrom, stringFlag } from '../env.ts';
import type { Command } from '../main.ts';
import { UsageError, printJson } from '../output.ts';

export const deleteCommand: Command = {
  usage: 'spanda delete <source> <id> [--tenant default] [--nats-url URL] [--json]',
  options: {
    tenant: { type: 'string' },
  },
  async run(ctx) {
    const [sourceArg, id, ...extra] = ctx.args;
    if (sourceArg === undefined || id === undefined || extra.length > 0) {
      throw new UsageError(`give a source and a document id (quote an id with spaces)\nusage: ${this.usage}`);
    }
    // Checked before connecting, and reported as usage errors (exit 2): a mistyped argument is not a failure to retry.
    let tenant: string;
    let source: string;
    try {
      tenant = assertName('tenant', stringFlag(ctx, 'tenant') ?? 'default');
      source = assertName('source', sourceArg);
    } catch (err) {
      if (err instanceof ValidationError) throw new UsageError(`${err.message}\nusage: ${this.usage}`);
      throw err;
    }
    const checked = docIdSchema.safeParse(id);
    if (!checked.success) {
      throw new UsageError(`invalid document id ${JSON.stringify(id)}: ${checked.error.issues.map((i) => i.message).join('; ')}\nusage: ${this.usage}`);
    }
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
