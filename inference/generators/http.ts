// Calling model servers over HTTP: per-attempt timeouts, retries with jittered backoff on 429/5xx honouring Retry-After.
import { ConfigError, TransientError, UnavailableError, errorMessage } from '../../lib/errors.ts';

export interface RetryPolicy {
  /** Attempts in all (1 = no retry). */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Timeout of one attempt (connect and, for non-streaming calls, the whole body). */
  readonly timeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 250, maxDelayMs: 8_000, timeoutMs: 60_000 };

/** Retry-After as milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function retryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export const isRetryableStatus = (status: number): boolean => status === 429 || status === 408 || status >= 500;

/** Full jitter on an exponential backoff, but never earlier than the server asked. */
export function backoffMs(attempt: number, policy: RetryPolicy, serverHintMs: number | undefined, random = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  const jittered = exp / 2 + random() * (exp / 2);
  return serverHintMs !== undefined ? Math.max(serverHintMs, jittered) : jittered;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });

/**
 * Runs `attempt` until it succeeds, retrying TransientErrors with backoff (a server's Retry-After wins when longer).
 * A Retry-After beyond the policy's longest delay is not waited out: the caller gets a 503 with that hint instead.
 */
export async function withRetries<T>(what: string, policy: RetryPolicy, attempt: (n: number) => Promise<T>, signal?: AbortSignal): Promise<T> {
  let last: unknown;
  for (let n = 0; n < policy.attempts; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (!(err instanceof TransientError)) throw err;
      last = err;
      if (n === policy.attempts - 1) break;
      if (err.retryAfterMs !== undefined && err.retryAfterMs > policy.maxDelayMs * 4) break;
      await sleep(backoffMs(n, policy, err.retryAfterMs), signal);
    }
  }
  const hint = last instanceof TransientError && last.retryAfterMs !== undefined ? Math.ceil(last.retryAfterMs / 1000) : 5;
  throw new UnavailableError(`${what} failed after ${policy.attempts} attempt(s): ${errorMessage(last)}`, Math.max(1, hint), { cause: last });
}

/**
 * One HTTP attempt: a 2xx response is returned (its body unread), 429/408/5xx become TransientError with the server's
 * Retry-After, 401/403/404 a ConfigError naming `setting`, other 4xx an Error with the server's message.
 */
export async function request(url: string, init: RequestInit & { timeoutMs: number; setting: string; signal?: AbortSignal }): Promise<Response> {
  const { timeoutMs, setting, signal, ...rest } = init;
  const timeout = AbortSignal.timeout(timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, { ...rest, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
  } catch (err) {
    if (signal?.aborted) throw err;
    if (timeout.aborted) throw new TransientError(`${url} did not answer within ${timeoutMs} ms`);
    throw new TransientError(`cannot reach ${url} (${causeOf(err)}); check ${setting}`);
  }
  if (response.ok) return response;
  const body = (await response.text().catch(() => '')).slice(0, 500);
  if (isRetryableStatus(response.status)) {
    throw new TransientError(`${url} answered ${response.status}${body ? `: ${body}` : ''}`, retryAfterMs(response.headers.get('retry-after')));
  }
  if (response.status === 401 || response.status === 403) throw new ConfigError(`${url} refused the credentials (${response.status}); check ${setting}${body ? `: ${body}` : ''}`);
  if (response.status === 404) throw new ConfigError(`${url} answered 404; check ${setting}${body ? `: ${body}` : ''}`);
  throw new Error(`${url} answered ${response.status}${body ? `: ${body}` : ''}`);
}

function causeOf(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : undefined;
  return cause ?? errorMessage(err);
}
