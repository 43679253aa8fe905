// Keeps a configured connector running in a long-lived process: a start or a run that fails is retried with backoff.
import { errorMessage } from '../lib/errors.ts';
import { sleepUnlessAborted } from '../lib/sleep.ts';
import type { Connector, ConnectorContext, ConnectorOutcome, ConnectorStatus, RunningConnector } from './connector.ts';

export interface SupervisorOptions {
  /** The name in status, logs and metrics (default: the connector's; the registry numbers repeated names). */
  readonly name?: string;
  /** First wait after a failure (default 1 s); doubled per failure in a row up to maxDelayMs. */
  readonly minDelayMs?: number;
  /** Longest wait between attempts (default 60 s). */
  readonly maxDelayMs?: number;
  /** Called on every failed start or failed run (metrics). */
  readonly onFailure?: (name: string, error: string) => void;
}

/** What a supervised connector adds to its status details: failed starts and runs so far, and when it next tries while it waits. */
export interface SupervisedDetails {
  readonly restarts: number;
  readonly retryAt?: string;
}

/**
 * Starts `connector` and keeps it going: a start that throws (Postgres not up yet, a feed host unknown) and a run that
 * ends in failure are retried after 1 s, 2 s, 4 s … up to a minute, each failure logged with what to fix; a run that
 * ends well (a one-shot connector) is not started again. Returns at once; `status()` says `starting` or `retrying`
 * (with the last error and the next attempt) until the connector runs, then the connector's own status.
 */
export function superviseConnector(connector: Connector, ctx: ConnectorContext, options: SupervisorOptions = {}): RunningConnector {
  const name = options.name ?? connector.name;
  const minDelay = options.minDelayMs ?? 1000;
  const maxDelay = Math.max(options.maxDelayMs ?? 60_000, minDelay);
  const stopping = new AbortController();
  let current: RunningConnector | undefined;
  let publishedBefore = 0;
  let failures = 0;
  let inARow = 0;
  let lastError: string | undefined;
  let retryAt: number | undefined;
  let finished: ConnectorOutcome | undefined;

  const failed = (error: string, what: string) => {
    failures++;
    lastError = error;
    options.onFailure?.(name, error);
    const delay = Math.min(maxDelay, minDelay * 2 ** Math.min(inARow, 20));
    inARow++;
    retryAt = Date.now() + delay;
    // The first failure is an error; the same one again while it waits is a warning, so logs do not fill up.
    const log = inARow === 1 ? ctx.logger.error.bind(ctx.logger) : ctx.logger.warn.bind(ctx.logger);
    log(`connector ${what}; retrying`, { connector: name, error, attempt: inARow, retryInMs: delay });
    return delay;
  };

  const loop = async (): Promise<ConnectorOutcome> => {
    while (!stopping.signal.aborted) {
      let running: RunningConnector;
      try {
        running = await connector.start(ctx);
      } catch (err) {
        await sleepUnlessAborted(failed(errorMessage(err), 'did not start'), stopping.signal);
        continue;
      }
      if (stopping.signal.aborted) {
        await running.stop();
        break;
      }
      current = running;
      retryAt = undefined;
      const startedAt = Date.now();
      const outcome = await running.done;
      publishedBefore += running.status().published;
      current = undefined;
      if (stopping.signal.aborted) break;
      if (outcome.ok) return outcome;
      // A run that lasted a while before failing starts the backoff again from its first step.
      if (Date.now() - startedAt > maxDelay) inARow = 0;
      await sleepUnlessAborted(failed(outcome.error ?? 'stopped with an error', 'failed'), stopping.signal);
    }
    return { ok: true };
  };

  const done = loop().then((outcome) => (finished = outcome));
  return {
    name,
    done,
    async stop() {
      stopping.abort();
      await current?.stop();
      await done;
    },
    status(): ConnectorStatus {
      const details: SupervisedDetails = { restarts: failures, ...(retryAt !== undefined && current === undefined ? { retryAt: new Date(retryAt).toISOString() } : {}) };
      if (current) {
        const inner = current.status();
        return { ...inner, name, published: publishedBefore + inner.published, details: { ...inner.details, ...details } };
      }
      const state = finished ? 'stopped' : stopping.signal.aborted ? 'stopping' : failures === 0 ? 'starting' : 'retrying';
      return { name, state, published: publishedBefore, ...(lastError !== undefined ? { lastError } : {}), details: { ...details } };
    },
  };
}
