// Documents an API key may publish per second: a batch takes one token per document at once, an NDJSON upload waits for each.
import type { Context } from 'hono';
import { ValidationError } from '../lib/errors.ts';
import { sleepUnlessAborted } from '../lib/sleep.ts';
import { AuthError, TokenBuckets, principalOf, type ApiAuth, type RateLimit } from './auth.ts';

/** One set of buckets per API (its auth), apart from the per-request ones: documents and requests are counted apart. */
const bucketsOf = new WeakMap<ApiAuth, TokenBuckets>();

function limitOf(c: Context, auth: ApiAuth | undefined): { keyId: string; limit: RateLimit; buckets: TokenBuckets } | undefined {
  const principal = principalOf(c);
  if (!auth || !principal) return undefined; // open mode: one user on loopback, nothing to share fairly
  const limit = principal.documentLimit ?? auth.documentLimit;
  if (!limit) return undefined;
  let buckets = bucketsOf.get(auth);
  if (!buckets) bucketsOf.set(auth, (buckets = new TokenBuckets()));
  return { keyId: principal.keyId, limit, buckets };
}

/** Gives back documents taken from the quota that were never published (JetStream refused them: a 503 or 507). */
export type Refund = (unpublished: number) => void;

const noRefund: Refund = () => undefined;

/**
 * Takes `count` documents of the key's quota at once, before anything is published: a 429 with Retry-After when
 * the key has too few left now, a 400 when `count` is more than it may ever publish at once (its burst). Returns how
 * to give back the ones a failed publish did not store, so a client retrying after a 503 is not also throttled.
 */
export function takeDocuments(c: Context, auth: ApiAuth | undefined, count: number): Refund {
  const quota = limitOf(c, auth);
  if (!quota) return noRefund;
  const { limit } = quota;
  if (count > limit.burst) {
    throw new ValidationError(
      `a batch of ${count} documents is more than this API key may publish at once (${limit.burst}, at ${limit.perSecond} documents per second); send at most ${limit.burst} per request`,
      [`documents: more than ${limit.burst}`],
    );
  }
  const taken = quota.buckets.take(quota.keyId, limit, count);
  if (!taken.ok) {
    throw new AuthError(
      429,
      'rate-limited',
      `this API key may publish ${limit.perSecond} documents per second (at most ${limit.burst} at once) and has too few left for ${count}; retry after ${taken.retryAfterS} s, or stream them as NDJSON, which waits for the quota instead`,
      { 'retry-after': String(taken.retryAfterS) },
    );
  }
  return (unpublished) => quota.buckets.give(quota.keyId, limit, Math.min(count, unpublished));
}

/**
 * Waits until the key may publish one more document (an NDJSON upload slows to the key's rate instead of failing);
 * false when the client went away meanwhile.
 */
export async function awaitDocument(c: Context, auth: ApiAuth | undefined): Promise<boolean> {
  const quota = limitOf(c, auth);
  if (!quota) return true;
  const signal = c.req.raw.signal;
  for (;;) {
    const taken = quota.buckets.take(quota.keyId, quota.limit, 1);
    if (taken.ok) return true;
    // At most a second at a time: a tiny rate's wait can pass a timer's limit (~24.8 days), which fires at once.
    await sleepUnlessAborted(Math.min(1000, Math.max(1, Math.ceil(taken.waitMs))), signal);
    if (signal.aborted) return false;
  }
}

/** Gives back one document an NDJSON line took (awaitDocument) and JetStream then refused to store. */
export function refundDocument(c: Context, auth: ApiAuth | undefined): void {
  const quota = limitOf(c, auth);
  quota?.buckets.give(quota.keyId, quota.limit, 1);
}
