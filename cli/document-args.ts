// The `<source> <id> [--tenant]` arguments of the commands that name one document (delete, erase), checked before connecting.
import { ValidationError } from '../lib/errors.ts';
import { docIdSchema } from '../streams/events/index.ts';
import { assertName, type DocumentAddress } from '../streams/subjects.ts';
import { stringFlag } from './env.ts';
import type { CommandContext } from './main.ts';
import { UsageError } from './output.ts';

/** The document the command line names; a mistyped argument is a usage error (exit 2), not a failure to retry. */
export function documentArgs(ctx: CommandContext, usage: string): DocumentAddress {
  const [sourceArg, id, ...extra] = ctx.args;
  if (sourceArg === undefined || id === undefined || extra.length > 0) {
    throw new UsageError(`give a source and a document id (quote an id with spaces)\nusage: ${usage}`);
  }
  let tenant: string;
  let source: string;
  try {
    tenant = assertName('tenant', stringFlag(ctx, 'tenant') ?? 'default');
    source = assertName('source', sourceArg);
  } catch (err) {
    if (err instanceof ValidationError) throw new UsageError(`${err.message}\nusage: ${usage}`);
    throw err;
  }
  const checked = docIdSchema.safeParse(id);
  if (!checked.success) {
    throw new UsageError(`invalid document id ${JSON.stringify(id)}: ${checked.error.issues.map((i) => i.message).join('; ')}\nusage: ${usage}`);
  }
  return { tenant, source, id };
}
