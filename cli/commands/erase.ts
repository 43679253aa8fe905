// spanda erase: takes one document's (or a whole tenant's) content out of the log, keeping only the fact that it was deleted.
import { SpandaError, ValidationError } from '../../lib/errors.ts';
import { eraseDocument } from '../../streams/erase.ts';
import { eraseTenant, type TenantErasureReport } from '../../streams/erase-tenant.ts';
import { tenantKeys, type TenantKey, type TenantKeysReport } from '../../api/tenant-keys.ts';
import { assertName } from '../../streams/subjects.ts';
import { documentArgs } from '../document-args.ts';
import type { NatsHandle } from '../../streams/nats.ts';
import { configFrom, connectFrom, stringFlag } from '../env.ts';
import type { Command, CommandContext } from '../main.ts';
import { UsageError, printJson } from '../output.ts';
import { progressReporter } from '../progress.ts';

/** A scan shorter than this (the tenant's answers, the DLQ: each read whole) is quick enough to show no progress. */
const PROGRESS_FROM = 50_000;
/** A tenant's stages (scans, deletions, erasing one message at a time) are slower per item: progress from fewer. */
const TENANT_PROGRESS_FROM = 5_000;

export const eraseCommand: Command = {
  usage: `spanda erase <source> <id> --yes [--tenant default] [--wait SECONDS] [--nats-url URL] [--json]
spanda erase --all --tenant TENANT --yes [--revoke-keys] [--api-keys FILE] [--wait SECONDS] [--nats-url URL] [--json]

Deletes the document (as spanda delete), then purges the content of every earlier version from the log: its
DOCUMENTS messages, its CHUNKS and EMBEDDINGS once the pipeline has removed it (waiting up to --wait seconds, default
60), the queries whose answers cited it, and its DLQ entries. The deletion itself stays, so a replay still ends with
the document deleted. Last it records the erasure on ERASURES, so the indexing catalog forgets the erased versions.
It cannot be undone: --yes is required.

--all does the same for every document of a tenant (offboarding), and erases every query of the tenant; --tenant
must be given. It lists the API keys that still grant the tenant access (SPANDA_API_KEYS_BUCKET, SPANDA_API_KEYS_FILE
or --api-keys). --revoke-keys first purges the tenant's keys from the bucket, so nothing new arrives through them while
the erase runs (nodes follow the bucket live); keys in a file are listed to be removed by hand (exit 1 while any
remain).`,
  options: {
    tenant: { type: 'string' },
    wait: { type: 'string' },
    yes: { type: 'boolean', short: 'y' },
    all: { type: 'boolean' },
    'revoke-keys': { type: 'boolean' },
    'api-keys': { type: 'string' },
    config: { type: 'string' },
  },
  async run(ctx) {
    const waitSeconds = waitArg(ctx, this.usage);
    if (ctx.values.all === true) return eraseWholeTenant(ctx, this.usage, waitSeconds);
    if (ctx.values['revoke-keys'] === true) throw new UsageError(`--revoke-keys goes with --all (offboarding a tenant); one document's erase leaves keys alone\nusage: ${this.usage}`);
    const { tenant, source, id } = documentArgs(ctx, this.usage);
    if (ctx.values.yes !== true) {
      throw new UsageError(`spanda erase purges ${source}/${id} (tenant ${tenant}) from the log for good: add --yes to go ahead (spanda delete only deletes it)`);
    }
    return runErasure(ctx, waitSeconds, {
      progressFrom: PROGRESS_FROM,
      erase: (handle, options) => eraseDocument(handle, { tenant, source, id }, options),
      summary: (report) =>
        `erased ${source}/${id} (tenant ${tenant}); the deletion stays at DOCUMENTS sequence ${report.deletionSeq}\n` +
        `  purged: ${report.purged.documents} from DOCUMENTS, ${report.purged.chunks} from CHUNKS, ${report.purged.embeddings} from EMBEDDINGS; ` +
        `${report.queries} ${report.queries === 1 ? 'query' : 'queries'} that cited it; ${report.dlqEntries} DLQ ${report.dlqEntries === 1 ? 'entry' : 'entries'}\n`,
      notes: (report) => [
        ...(report.neverPublished ? [`the log held no version of ${source}/${id} for tenant ${tenant}; check the source and id (spanda inspect events 'docs.${tenant}.${source}.>')`] : []),
        ...(report.unprocessed.length > 0
          ? [
              `the pipeline had not removed the document from ${report.unprocessed.join(', ')} within ${waitSeconds} s; ` +
                'they were purged whole, but a processor still behind could write an older version there again: once the node has caught up, run spanda erase again',
            ]
          : []),
        ...(report.notRunning.length > 0 ? [`no process embeds with the model of ${report.notRunning.join(', ')}: erased whole without waiting (nothing of the erased versions can come back there)`] : []),
        'the serving store drops the document as it applies the deletion (its rows zeroed), and the indexing catalog forgets its earlier versions ' +
          '(ids, titles, times) as it applies the erasure (ERASURES)',
      ],
    });
  },
};

/** The --wait flag in seconds (default 60). */
function waitArg(ctx: CommandContext, usage: string): number {
  const waitText = stringFlag(ctx, 'wait') ?? '60';
  const waitSeconds = Number(waitText);
  if (!/^\d+(\.\d+)?$/.test(waitText) || !Number.isFinite(waitSeconds) || waitSeconds > 86_400) {
    throw new UsageError(`--wait takes seconds, 0 to 86400 (got ${JSON.stringify(waitText)})\nusage: ${usage}`);
  }
  return waitSeconds;
}

/** spanda erase --all --tenant T: every document of the tenant, and its queries. */
async function eraseWholeTenant(ctx: CommandContext, usage: string, waitSeconds: number): Promise<number> {
  if (ctx.args.length > 0) throw new UsageError(`--all erases every document of the tenant: give no source or id\nusage: ${usage}`);
  const named = stringFlag(ctx, 'tenant');
  // No default: the whole of "default" is never erased by a forgotten flag.
  if (named === undefined) throw new UsageError(`--all needs --tenant: name the tenant whose documents and queries are erased\nusage: ${usage}`);
  let tenant: string;
  try {
    tenant = assertName('tenant', named);
  } catch (err) {
    if (err instanceof ValidationError) throw new UsageError(`${err.message}\nusage: ${usage}`);
    throw err;
  }
  if (ctx.values.yes !== true) {
    throw new UsageError(`spanda erase --all purges every document and query of tenant ${tenant} from the log for good: add --yes to go ahead`);
  }
  const revoke = ctx.values['revoke-keys'] === true;
  const config = configFrom(ctx);
  const sources = { file: config.apiKeysFile, bucket: config.apiKeysBucket };
  return runErasure<TenantErasureReport & { keys: TenantKeysReport }>(ctx, waitSeconds, {
    progressFrom: TENANT_PROGRESS_FROM,
    erase: async (handle, options) => {
      // Looked at (and revoked) before anything is erased: a key source that cannot be read stops the command here,
      // and the tenant cannot publish through revoked keys while the erase runs.
      const before = await tenantKeys(handle, sources, tenant, revoke).catch((err: unknown) => {
        throw err instanceof SpandaError ? Object.assign(err, { message: `${err.message}; nothing was erased` }) : err;
      });
      const { revoked } = before;
      if (revoked.length > 0) options.onStep(`revoked ${apiKeys(revoked.length)} of tenant ${tenant} in bucket ${sources.bucket}`);
      const report = await eraseTenant(handle, tenant, options);
      // Looked at again afterwards: a key put meanwhile still grants access.
      const after = await tenantKeys(handle, sources, tenant, false).catch(() => before);
      return { ...report, keys: { ...after, revoked } };
    },
    summary: (report) =>
      `erased tenant ${tenant}: ${report.documents} ${report.documents === 1 ? 'document' : 'documents'} (${report.deletionsPublished} deletions published; the deletions stay)\n` +
      `  purged: ${report.purged.documents} from DOCUMENTS, ${report.purged.chunks} from CHUNKS, ${report.purged.embeddings} from EMBEDDINGS, ` +
      `${report.purged.queries} from QUERIES (${report.queries} ${report.queries === 1 ? 'query' : 'queries'}); ${report.dlqEntries} DLQ ${report.dlqEntries === 1 ? 'entry' : 'entries'}\n` +
      (report.keys.revoked.length > 0 ? `  revoked: ${keyList(report.keys.revoked)} (bucket ${report.keys.bucket})\n` : ''),
    notes: (report) => [
      ...(report.unaddressable.length > 0
        ? [`${report.unaddressable.length} DOCUMENTS subjects held no readable document id (${sample(report.unaddressable)}); they were purged whole, with no deletion`]
        : []),
      ...(report.unprocessed.length > 0
        ? [
            `the pipeline had not removed ${report.unprocessed.length} documents' derived subjects within ${waitSeconds} s (${sample(report.unprocessed)}); ` +
              'they were purged whole, but a processor still behind could write an older version there again: once the node has caught up, run spanda erase --all again',
          ]
        : []),
      ...(report.notRunning.length > 0 ? [`no process embeds with the model of ${report.notRunning.length} EMBEDDINGS subjects (${sample(report.notRunning)}): erased whole without waiting`] : []),
      'the serving stores drop the documents as they apply the deletions (their rows zeroed), and the indexing catalog forgets their earlier versions ' +
        '(ids, titles, times) as it applies the erasures (ERASURES)',
      ...keyNotes(tenant, report.keys, revoke),
    ],
    failed: (report) => revoke && remainingKeys(report.keys) > 0,
  });
}

const apiKeys = (n: number): string => `${n} API ${n === 1 ? 'key' : 'keys'}`;

const remainingKeys = (keys: TenantKeysReport): number => keys.remaining.bucket.length + keys.remaining.file.length;

/** Keys as a note names them: name (or id) and scopes. */
function keyList(keys: readonly TenantKey[]): string {
  return sample(keys.map((k) => `${k.name ?? `key ${k.keyId}`} [${k.scopes.join(', ')}]`));
}

/** What the operator still has to do about the tenant's API keys. */
function keyNotes(tenant: string, keys: TenantKeysReport, revoke: boolean): string[] {
  if (!keys.configured) {
    return revoke ? ['no API keys are configured where this ran (SPANDA_API_KEYS_BUCKET, SPANDA_API_KEYS_FILE or --api-keys): none were revoked; give the ones your nodes use'] : [];
  }
  const notes: string[] = [];
  if (keys.remaining.bucket.length > 0) {
    notes.push(
      revoke
        ? `${apiKeys(keys.remaining.bucket.length)} of tenant ${tenant} put in bucket ${keys.bucket} while the erase ran (${keyList(keys.remaining.bucket)}): run spanda erase --all --revoke-keys again`
        : `${apiKeys(keys.remaining.bucket.length)} in bucket ${keys.bucket} still ${keys.remaining.bucket.length === 1 ? 'grants' : 'grant'} tenant ${tenant} access (${keyList(keys.remaining.bucket)}): add --revoke-keys to purge them`,
    );
  }
  if (keys.remaining.file.length > 0) {
    notes.push(
      `${apiKeys(keys.remaining.file.length)} of tenant ${tenant} in the key file ${keys.file} (${keyList(keys.remaining.file)}): ` +
        'nodes read the file at start, so remove those entries and restart them (or keep keys in SPANDA_API_KEYS_BUCKET, which --revoke-keys purges live)',
    );
  }
  return notes;
}

/** One erasure as the command runs it: how it erases, what it prints (stdout) and what it adds on stderr. */
interface ErasureRun<R extends { readonly unprocessed: readonly string[] }> {
  /** Stages with fewer items than this show no progress. */
  readonly progressFrom: number;
  erase(handle: NatsHandle, options: { waitMs: number; onStep: (step: string) => void; onProgress: (stage: string, done: number, total: number) => void }): Promise<R>;
  summary(report: R): string;
  notes(report: R): string[];
  /** Whether the run leaves something the operator asked for undone beyond `unprocessed` (exit 1). */
  failed?(report: R): boolean;
}

/** Connects, erases with steps and progress on stderr, prints the report (or --json); exit 1 when anything was left undone. */
async function runErasure<R extends { readonly unprocessed: readonly string[] }>(ctx: CommandContext, waitSeconds: number, run: ErasureRun<R>): Promise<number> {
  const handle = await connectFrom(ctx);
  try {
    const progress = progressReporter(false);
    const report = await run.erase(handle, {
      waitMs: waitSeconds * 1000,
      onStep: (step) => process.stderr.write(`spanda erase: ${step}\n`),
      onProgress: (stage, done, total) => total >= run.progressFrom && progress.update(stage, done, total),
    });
    progress.finish();
    if (ctx.values.json) printJson(report);
    else process.stdout.write(run.summary(report));
    for (const note of run.notes(report)) process.stderr.write(`spanda erase: ${note}\n`);
    return report.unprocessed.length > 0 || run.failed?.(report) === true ? 1 : 0;
  } finally {
    await handle.drain();
  }
}

/** The first few of a list, for a message. */
function sample(items: readonly string[]): string {
  return items.length <= 3 ? items.join(', ') : `${items.slice(0, 3).join(', ')} and ${items.length - 3} more`;
}
