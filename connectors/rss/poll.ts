// One poll of one feed: conditional GET, parse, publish new and changed items, optionally delete the ones that left.
import { z } from 'zod';
import { UnavailableError, errorMessage } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import { publishDeletion, publishDocument } from '../../streams/document-log.ts';
import type { NatsHandle } from '../../streams/nats.ts';
import { mapLimit } from '../../streams/publisher.ts';
import type { ConnectorStateStore } from '../connector.ts';
import { decodeFeed } from './charset.ts';
import { itemDocument, itemId, type FeedTarget, type ItemDocument } from './documents.ts';
import { parseFeed } from './parse.ts';

export const feedStateSchema = z.object({
  etag: z.string().optional(),
  lastModified: z.string().optional(),
  checkedAt: z.string(),
  failures: z.number().int().min(0),
  lastError: z.string().optional(),
});
export type FeedState = z.infer<typeof feedStateSchema>;

export const itemStateSchema = z.object({ id: z.string(), hash: z.string(), seq: z.number().int(), at: z.string() });
export type ItemState = z.infer<typeof itemStateSchema>;

export interface PollOptions {
  readonly nats: NatsHandle;
  readonly state: ConnectorStateStore;
  readonly logger: Logger;
  /** Publish document.deleted for items that were published before and are no longer in the feed (default false). */
  readonly deleteMissing?: boolean;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
  /** Aborts a fetch in flight (the connector stopping). */
  readonly signal?: AbortSignal;
  /** Largest feed body read (default 20 MiB). */
  readonly maxBytes?: number;
  readonly userAgent?: string;
}

export interface ItemError {
  readonly id?: string;
  readonly index: number;
  readonly error: string;
}

export type FeedStatus = 'updated' | 'unchanged' | 'not-modified' | 'failed';

/** What one poll of one feed did. `ok` is false when the feed failed or some of its items could not be published. */
export interface FeedResult {
  readonly url: string;
  readonly tenant: string;
  readonly source: string;
  readonly ok: boolean;
  readonly status: FeedStatus;
  readonly httpStatus?: number;
  readonly items: number;
  readonly published: number;
  readonly unchanged: number;
  readonly deleted: number;
  readonly errors: readonly ItemError[];
  /** Why the feed failed, naming it. */
  readonly error?: string;
  /** The server asked us to wait this long (429/503 Retry-After). */
  readonly retryAfterMs?: number;
  /** Failures in a row, this one included (0 after a success): drives the backoff. */
  readonly failures: number;
  readonly ms: number;
  /** Last DOCUMENTS sequence this poll wrote (0 when none). */
  readonly lastSeq: number;
}

/** A feed that could not be read: the message names the feed and says what went wrong. */
export class FeedError extends Error {
  readonly retryAfterMs: number | undefined;
  readonly httpStatus: number | undefined;
  constructor(url: string, reason: string, options: { retryAfterMs?: number; httpStatus?: number; cause?: unknown } = {}) {
    super(`feed ${url}: ${reason}`, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'FeedError';
    this.retryAfterMs = options.retryAfterMs;
    this.httpStatus = options.httpStatus;
  }
}

function validators(state: FeedState | undefined): Pick<FeedState, 'etag' | 'lastModified'> {
  return { ...(state?.etag !== undefined ? { etag: state.etag } : {}), ...(state?.lastModified !== undefined ? { lastModified: state.lastModified } : {}) };
}

const DEFAULT_MAX_BYTES = 20 * 1024 * 1024;
const ITEM_CONCURRENCY = 8;

function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

/** Why reading the body stopped short: the timeout, or the server closing the connection (the cause says how). */
function cutShort(url: string, err: unknown, received: number, expected: number): FeedError {
  const got = expected > 0 ? `got ${received} of ${expected} bytes` : `got ${received} bytes`;
  if (err instanceof Error && err.name === 'TimeoutError') return new FeedError(url, `timed out while reading the feed (${got})`, { cause: err });
  const cause = (err as { cause?: unknown }).cause;
  const detail = cause instanceof Error ? `: ${errorMessage(cause)}` : '';
  return new FeedError(url, `the connection closed before the whole feed was read (${got}${detail})`, { cause: err });
}

async function readBody(response: Response, url: string, maxBytes: number): Promise<string> {
  const length = Number(response.headers.get('content-length') ?? '0');
  if (length > maxBytes) throw new FeedError(url, `the feed is ${length} bytes, over the ${maxBytes}-byte limit`);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body?.getReader();
  const next = async () => {
    try {
      return await reader?.read();
    } catch (err) {
      throw cutShort(url, err, size, length);
    }
  };
  for (let read = await next(); read && !read.done; read = await next()) {
    size += read.value.byteLength;
    if (size > maxBytes) {
      await reader?.cancel();
      throw new FeedError(url, `the feed is over the ${maxBytes}-byte limit`);
    }
    chunks.push(read.value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.byteLength;
  }
  return decodeFeed(bytes, response.headers.get('content-type'));
}

function fetchSignal(options: PollOptions): AbortSignal {
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 30_000);
  return options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
}

async function fetchFeed(
  target: FeedTarget,
  previous: FeedState | undefined,
  options: PollOptions,
): Promise<{ notModified: true; status: number } | { notModified: false; status: number; body: string; etag?: string; lastModified?: string }> {
  const headers: Record<string, string> = {
    accept: 'application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5',
    'user-agent': options.userAgent ?? 'spanda-rss/0.1 (+https://github.com/spanda)',
  };
  if (previous?.etag) headers['if-none-match'] = previous.etag;
  if (previous?.lastModified) headers['if-modified-since'] = previous.lastModified;
  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(target.url, { headers, redirect: 'follow', signal: fetchSignal(options) });
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    throw new FeedError(target.url, `cannot fetch it (${errorMessage(cause instanceof Error ? cause : err)})`, { cause: err });
  }
  if (response.status === 304) {
    await response.body?.cancel();
    return { notModified: true, status: 304 };
  }
  if (!response.ok) {
    await response.body?.cancel();
    const wait = retryAfterMs(response.headers.get('retry-after'));
    throw new FeedError(target.url, `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`, {
      httpStatus: response.status,
      ...(wait !== undefined ? { retryAfterMs: wait } : {}),
    });
  }
  const body = await readBody(response, target.url, options.maxBytes ?? DEFAULT_MAX_BYTES);
  const etag = response.headers.get('etag') ?? undefined;
  const lastModified = response.headers.get('last-modified') ?? undefined;
  return { notModified: false, status: response.status, body, ...(etag ? { etag } : {}), ...(lastModified ? { lastModified } : {}) };
}

/**
 * Polls one feed once. Never throws for the feed's own problems (HTTP errors, malformed XML, bad items): they come back
 * in the result, naming the feed. The ETag/Last-Modified are stored only after every item was handled, so a poll cut
 * short (NATS down, process killed) fetches the whole feed again next time; item hashes make that publish nothing twice.
 */
export async function pollFeed(target: FeedTarget, options: PollOptions): Promise<FeedResult> {
  const started = Date.now();
  const feedKey = ['feed', target.tenant, target.source, target.url];
  const itemKey = (id: string) => ['item', target.tenant, target.source, target.url, id];
  const base = { url: target.url, tenant: target.tenant, source: target.source };
  let previous: FeedState | undefined;
  let published = 0;
  let unchanged = 0;
  let deleted = 0;
  let lastSeq = 0;
  let items = 0;
  const errors: ItemError[] = [];
  try {
    previous = (await options.state.get(feedKey, feedStateSchema))?.value;
    const fetched = await fetchFeed(target, previous, options);
    if (fetched.notModified) {
      await options.state.put(feedKey, { ...validators(previous), checkedAt: new Date().toISOString(), failures: 0 } satisfies FeedState);
      return { ...base, ok: true, status: 'not-modified', httpStatus: 304, items: 0, published, unchanged, deleted, errors, failures: 0, ms: Date.now() - started, lastSeq };
    }
    let feed;
    try {
      feed = parseFeed(fetched.body, { url: target.url });
    } catch (err) {
      throw new FeedError(target.url, errorMessage(err), { httpStatus: fetched.status, cause: err });
    }
    items = feed.items.length;

    // Map every item first; an item the feed repeats (same id) is taken once, its first occurrence.
    const mapped: Array<{ index: number; item: ItemDocument }> = [];
    const seen = new Set<string>();
    feed.items.forEach((item, index) => {
      try {
        const doc = itemDocument(item, target, feed.title);
        if (seen.has(doc.doc.id)) {
          errors.push({ id: doc.doc.id, index, error: `item ${doc.doc.id} appears more than once in the feed; only its first occurrence was used` });
          return;
        }
        seen.add(doc.doc.id);
        mapped.push({ index, item: doc });
      } catch (err) {
        const id = itemId(item);
        errors.push({ ...(id !== undefined ? { id } : {}), index, error: errorMessage(err) });
      }
    });

    let unavailable: unknown;
    await mapLimit(mapped, ITEM_CONCURRENCY, async ({ index, item }) => {
      if (unavailable) return;
      const { doc, hash } = item;
      try {
        const known = (await options.state.get(itemKey(doc.id), itemStateSchema))?.value;
        if (known?.hash === hash) {
          unchanged += 1;
          return;
        }
        // No record (new item, or state lost): let the log tell whether this content is already its latest version.
        const result = await publishDocument(options.nats, target.tenant, doc, { producer: '/connectors/rss', skipUnchanged: known === undefined });
        if (result.duplicate) unchanged += 1;
        else {
          published += 1;
          lastSeq = Math.max(lastSeq, result.seq);
        }
        await options.state.put(itemKey(doc.id), { id: doc.id, hash, seq: result.seq, at: new Date().toISOString() } satisfies ItemState);
      } catch (err) {
        if (err instanceof UnavailableError) unavailable ??= err;
        else errors.push({ id: doc.id, index, error: errorMessage(err) });
      }
    });
    if (unavailable) throw unavailable;

    if (options.deleteMissing) {
      // An item still listed is not missing, even when it failed validation this time: its last good version stays.
      const listed = [...mapped.map(({ item }) => item.doc.id), ...feed.items.map(itemId).filter((id) => id !== undefined)];
      if (listed.length === 0) {
        options.logger.warn(items === 0 ? 'feed lists no items; not deleting anything' : 'no item of the feed has a guid or link; not deleting anything', {
          feed: target.url,
        });
      } else {
        const present = new Set(listed.map((id) => options.state.key(...itemKey(id))));
        for (const key of await options.state.keys(['item', target.tenant, target.source, target.url])) {
          if (present.has(key)) continue;
          const gone = (await options.state.getKey(key, itemStateSchema))?.value;
          if (!gone) continue;
          const result = await publishDeletion(options.nats, { tenant: target.tenant, source: target.source, id: gone.id }, { producer: '/connectors/rss' });
          lastSeq = Math.max(lastSeq, result.seq);
          await options.state.deleteKey(key);
          deleted += 1;
        }
      }
    }

    await options.state.put(feedKey, {
      ...(fetched.etag !== undefined ? { etag: fetched.etag } : {}),
      ...(fetched.lastModified !== undefined ? { lastModified: fetched.lastModified } : {}),
      checkedAt: new Date().toISOString(),
      failures: 0,
    } satisfies FeedState);
    const ok = errors.length === 0;
    return {
      ...base,
      ok,
      status: published + deleted > 0 ? 'updated' : 'unchanged',
      httpStatus: fetched.status,
      items,
      published,
      unchanged,
      deleted,
      errors,
      failures: 0,
      ms: Date.now() - started,
      lastSeq,
    };
  } catch (err) {
    const message = err instanceof FeedError ? err.message : `feed ${target.url}: ${errorMessage(err)}`;
    const failures = (previous?.failures ?? 0) + 1;
    // Recording the failure is best effort: NATS may be the thing that is down.
    await options.state
      .put(feedKey, { ...validators(previous), checkedAt: new Date().toISOString(), failures, lastError: message } satisfies FeedState)
      .catch(() => undefined);
    options.logger.warn('feed poll failed', { feed: target.url, error: message, failures });
    return {
      ...base,
      ok: false,
      status: 'failed',
      ...(err instanceof FeedError && err.httpStatus !== undefined ? { httpStatus: err.httpStatus } : {}),
      ...(err instanceof FeedError && err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}),
      items,
      published,
      unchanged,
      deleted,
      errors,
      error: message,
      failures,
      ms: Date.now() - started,
      lastSeq,
    };
  }
}
