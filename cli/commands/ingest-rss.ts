// spanda ingest rss: polls RSS 2.0 / Atom feeds once (or every interval) and publishes new and changed items.
import { openConnectorBucket } from '../../connectors/connector.ts';
import type { FeedResult } from '../../connectors/rss/poll.ts';
import { feedTargets, rssConnector } from '../../connectors/rss/rss.ts';
import { durationMs } from '../../lib/duration.ts';
import { createLogger, silentLogger } from '../../lib/log.ts';
import { assertName } from '../../streams/subjects.ts';
import { connectFrom, stringFlag } from '../env.ts';
import { UsageError, printJson } from '../output.ts';
import type { IngestSubcommand } from './ingest.ts';

/** "10m", "30s", "1h", "1.5h" → milliseconds; at least one second. */
export function parseDuration(value: string): number {
  const ms = durationMs(value) ?? Number.NaN;
  if (!Number.isFinite(ms) || ms < 1000) throw new UsageError(`--every takes a duration of at least 1s such as 30s, 10m or 1h (got ${JSON.stringify(value)})`);
  return ms;
}

function describe(result: FeedResult): string {
  if (result.status === 'failed') return `failed  ${result.error ?? result.url}`;
  const counts =
    result.status === 'not-modified'
      ? 'not modified'
      : `${result.items} items: ${result.published} published, ${result.unchanged} unchanged${result.deleted ? `, ${result.deleted} deleted` : ''}`;
  const problems = result.errors.map((e) => `\n        item${e.id ? ` ${e.id}` : ` #${e.index + 1}`}: ${e.error}`).join('');
  return `${result.ok ? 'ok     ' : 'partial'} ${result.url}  ${counts} (${result.ms} ms)${problems}`;
}

export const ingestRss: IngestSubcommand = {
  usage: 'spanda ingest rss <url…> [--every 10m] [--source NAME] [--tenant T] [--delete-missing] [--json] [--nats-url URL]',
  accepts: ['every', 'source', 'tenant', 'delete-missing'],
  async run(ctx) {
    if (ctx.args.length === 0) throw new UsageError(`give at least one feed URL\nusage: ${this.usage}`);
    const tenant = assertName('tenant', stringFlag(ctx, 'tenant') ?? 'default');
    const sourceFlag = stringFlag(ctx, 'source');
    const source = sourceFlag === undefined ? undefined : assertName('source', sourceFlag);
    const everyFlag = stringFlag(ctx, 'every');
    const everyMs = everyFlag === undefined ? undefined : parseDuration(everyFlag);
    const json = ctx.values.json === true;
    try {
      feedTargets({ feeds: ctx.args, tenant, ...(source !== undefined ? { source } : {}) });
    } catch (err) {
      throw new UsageError(`${(err as Error).message}\nusage: ${this.usage}`);
    }

    const results: FeedResult[] = [];
    const handle = await connectFrom(ctx);
    try {
      const kv = await openConnectorBucket(handle);
      const connector = rssConnector({
        feeds: ctx.args,
        tenant,
        ...(source !== undefined ? { source } : {}),
        ...(everyMs !== undefined ? { everyMs } : {}),
        deleteMissing: ctx.values['delete-missing'] === true,
        onResult: (result) => {
          results.push(result);
          // One-shot --json prints one document at the end; a polling run prints a JSON line per poll.
          if (json && everyMs !== undefined) process.stdout.write(`${JSON.stringify(result)}\n`);
          else if (!json) process.stdout.write(`${describe(result)}\n`);
        },
      });
      const running = await connector.start({ nats: handle, kv, logger: everyMs !== undefined && !json ? createLogger('spanda') : silentLogger });
      if (everyMs !== undefined) {
        const stop = () => void running.stop();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        if (!json) process.stderr.write(`polling ${ctx.args.length} feed(s) every ${everyFlag}; Ctrl-C stops\n`);
      }
      const outcome = await running.done;
      if (everyMs === undefined) {
        if (json) printJson({ ok: outcome.ok, feeds: results });
        else if (!outcome.ok && outcome.error) process.stderr.write(`spanda: ${outcome.error}\n`);
        return outcome.ok ? 0 : 1;
      }
      return 0;
    } finally {
      await handle.drain();
    }
  },
};
