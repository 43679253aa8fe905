// HTTP for chaos scripts: calls that never throw (a refused connection and a client-side timeout are outcomes too) and a tally of statuses.

/** Status 0: the connection failed (nothing listening, reset); -1: no answer within the client's timeout (a hang). */
export const CONNECTION_FAILED = 0;
export const TIMED_OUT = -1;

export interface HttpOutcome {
  readonly status: number;
  readonly ms: number;
  /** The parsed JSON body, the text when it is not JSON, undefined when there was no response. */
  readonly body: unknown;
  readonly headers: Headers | undefined;
  readonly error?: string;
}

export interface CallOptions {
  readonly body?: unknown;
  /** Sent as is (no JSON encoding), e.g. NDJSON or malformed JSON. */
  readonly raw?: string;
  readonly headers?: Record<string, string>;
  readonly timeoutMs?: number;
}

export async function call(base: string, method: string, route: string, options: CallOptions = {}): Promise<HttpOutcome> {
  const started = performance.now();
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 30_000);
  const body = options.raw ?? (options.body !== undefined ? JSON.stringify(options.body) : undefined);
  try {
    const response = await fetch(`${base}${route}`, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers },
      ...(body !== undefined ? { body } : {}),
      signal: controller.signal,
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, ms: performance.now() - started, body: parsed, headers: response.headers };
  } catch (err) {
    const timedOut = controller.signal.aborted;
    return {
      status: timedOut ? TIMED_OUT : CONNECTION_FAILED,
      ms: performance.now() - started,
      body: undefined,
      headers: undefined,
      error: err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Counts of each status (as strings, "0" for a failed connection, "-1" for a timeout) with a few examples of the bad ones. */
export class StatusTally {
  readonly counts: Record<string, number> = {};
  /** Up to 20 examples of 5xx (other than 503), failed connections and timeouts: route, status, detail. */
  readonly examples: string[] = [];

  record(label: string, outcome: HttpOutcome): void {
    const key = String(outcome.status);
    this.counts[key] = (this.counts[key] ?? 0) + 1;
    const bad = outcome.status >= 500 || outcome.status <= 0;
    if (bad && outcome.status !== 503 && this.examples.length < 20) {
      const detail = outcome.error ?? (typeof outcome.body === 'object' && outcome.body !== null ? (outcome.body as { detail?: string }).detail : String(outcome.body));
      this.examples.push(`${label} → ${outcome.status}: ${String(detail).slice(0, 300)}`);
    }
  }

  count(predicate: (status: number) => boolean): number {
    return Object.entries(this.counts).reduce((sum, [status, n]) => (predicate(Number(status)) ? sum + n : sum), 0);
  }

  get total(): number {
    return this.count(() => true);
  }

  /** Server errors that are not "come back later": every 5xx but 503. */
  get serverErrors(): number {
    return this.count((s) => s >= 500 && s !== 503);
  }
}
