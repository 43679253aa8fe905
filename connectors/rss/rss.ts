// The RSS/Atom connector: polls each feed on its own schedule (once, or every interval with backoff per feed).
import { errorMessage } from '../../lib/errors.ts';
import { sleepUnlessAborted } from '../../lib/sleep.ts';
import { connectorState, type Connector, type ConnectorOutcome, type ConnectorState, type RunningConnector } from '../connector.ts';
import { defaultSource, type FeedTarget } from './documents.ts';
import { pollFeed, type FeedResult, type PollOptions } from './poll.ts';

export interface RssConfig {
  readonly feeds: readonly string[];
  readonly tenant?: string;
  /** Source of every feed's documents; by default medium, substack or rss from the feed's host. */
  readonly source?: string;
  /** Poll interval in ms; without it each feed is polled once and the connector stops. */
  readonly everyMs?: number;
  /** Longest wait between polls of a failing feed (default 6 h, at least everyMs). */
  readonly maxBackoffMs?: number;
  readonly deleteMissing?: boolean;
  /** Feeds polled at the same time in a one-shot run (default 4). */
  readonly concurrency?: number;
  /** Called after every poll of every feed (CLI output). */
  readonly onResult?: (result: FeedResult) => void;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
}

/** Name used for the connector's KV namespace (`rss.…` keys in the spanda-connectors bucket). */
export const RSS_CONNECTOR = 'rss';

/** Checks feed URLs up front: a typo is a usage error, not a failed poll. */
export function feedTargets(config: Pick<RssConfig, 'feeds' | 'tenant' | 'source'>): FeedTarget[] {
  return config.feeds.map((url) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error(`${JSON.stringify(url)} is not a URL; give the feed's full address, e.g. https://medium.com/feed/@user`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`${url}: only http and https feeds can be polled`);
    return { url, tenant: config.tenant ?? 'default', source: config.source ?? defaultSource(url) };
  });
}

/**
 * The wait before the next poll of a feed: the interval after a success; after failures the interval doubled per
 * failure in a row, capped, never shorter than a Retry-After the server sent, with ±10% jitter so feeds spread out.
 */
export function nextDelayMs(result: Pick<FeedResult, 'failures' | 'retryAfterMs'>, everyMs: number, maxBackoffMs: number, random = Math.random): number {
  const base = result.failures === 0 ? everyMs : Math.min(Math.max(maxBackoffMs, everyMs), everyMs * 2 ** Math.min(result.failures, 20));
  const jittered = base * (0.9 + 0.2 * random());
  return Math.round(Math.max(jittered, result.retryAfterMs ?? 0));
}

async function mapConcurrent<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

export function rssConnector(config: RssConfig): Connector {
  const targets = feedTargets(config);
  return {
    name: RSS_CONNECTOR,
    async start(ctx): Promise<RunningConnector> {
      const logger = ctx.logger.child('rss');
      const stopping = new AbortController();
      const options: PollOptions = {
        // A feed that hangs does not hold up a stop (an edit of the connectors file, a shutdown) until its timeout.
        signal: stopping.signal,
        nats: ctx.nats,
        state: connectorState(ctx.kv, RSS_CONNECTOR),
        logger,
        deleteMissing: config.deleteMissing ?? false,
        ...(config.fetch ? { fetch: config.fetch } : {}),
        ...(config.timeoutMs !== undefined ? { timeoutMs: config.timeoutMs } : {}),
      };
      const latest = new Map<string, FeedResult>();
      let state: ConnectorState = 'running';
      let published = 0;
      let lastError: string | undefined;

      const pollOnce = async (target: FeedTarget): Promise<FeedResult> => {
        // pollFeed reports feed problems in its result; anything thrown here is a bug, and must not stop other feeds.
        const result = await pollFeed(target, options).catch(
          (err: unknown): FeedResult => ({
            ...target,
            ok: false,
            status: 'failed',
            items: 0,
            published: 0,
            unchanged: 0,
            deleted: 0,
            errors: [],
            error: `feed ${target.url}: ${errorMessage(err)}`,
            failures: (latest.get(target.url)?.failures ?? 0) + 1,
            ms: 0,
            lastSeq: 0,
          }),
        );
        latest.set(target.url, result);
        published += result.published;
        if (!result.ok) lastError = result.error ?? result.errors[0]?.error;
        if (result.status !== 'failed') {
          // A poll that changed something is news; an unchanged feed every few minutes is not (debug, or /v1/connectors).
          const log = result.published > 0 || result.deleted > 0 || result.errors.length > 0 ? logger.info.bind(logger) : logger.debug.bind(logger);
          log('feed polled', {
            feed: target.url,
            status: result.status,
            items: result.items,
            published: result.published,
            deleted: result.deleted,
            ...(result.errors.length > 0 ? { refused: result.errors.length, error: result.errors[0]?.error } : {}),
          });
        }
        config.onResult?.(result);
        return result;
      };

      const run = async (): Promise<ConnectorOutcome> => {
        if (config.everyMs === undefined) {
          await mapConcurrent(targets, config.concurrency ?? 4, async (t) => {
            if (!stopping.signal.aborted) await pollOnce(t);
          });
          const failed = [...latest.values()].filter((r) => !r.ok);
          if (failed.length === 0) return { ok: true };
          // A feed that is not ok failed outright or had items that could not be ingested (the rest of it was).
          const others = failed.length < targets.length ? '; the other feeds were ingested' : '';
          return { ok: false, error: `${failed.length} of ${targets.length} feeds failed or were ingested only in part${others}` };
        }
        const every = config.everyMs;
        const maxBackoff = config.maxBackoffMs ?? 6 * 60 * 60_000;
        // One loop per feed: a slow or failing feed never delays the others.
        await Promise.all(
          targets.map(async (t) => {
            while (!stopping.signal.aborted) {
              const result = await pollOnce(t);
              await sleepUnlessAborted(nextDelayMs(result, every, maxBackoff), stopping.signal);
            }
          }),
        );
        return { ok: true };
      };

      const done = run().then(
        (outcome) => {
          // A one-shot run whose feeds failed still ran to its end: the outcome says what failed.
          state = 'stopped';
          return outcome;
        },
        (err: unknown): ConnectorOutcome => {
          state = 'failed';
          lastError = errorMessage(err);
          return { ok: false, error: lastError };
        },
      );
      return {
        name: RSS_CONNECTOR,
        done,
        async stop() {
          if (state === 'running') state = 'stopping';
          stopping.abort();
          await done;
        },
        status: () => ({
          name: RSS_CONNECTOR,
          // Every feed failing its last poll (not read, or not a feed) is a connector that gets nothing in: `retrying`, as a
          // source whose server is away. A feed that was read but had items it refused is running; its details say which.
          state: state === 'running' && latest.size === targets.length && [...latest.values()].every((r) => r.status === 'failed') ? 'retrying' : state,
          published,
          ...(lastError !== undefined ? { lastError } : {}),
          details: { feeds: targets.map((t) => latest.get(t.url) ?? { url: t.url, status: 'pending' }) },
        }),
      };
    },
  };
}
