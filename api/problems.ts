// RFC 9457 problem details: every error the API returns, with a stable type, a status and a detail saying what to do.
import { ClosedConnectionError, ConnectionError, DrainingConnectionError, NoRespondersError, TimeoutError } from '@nats-io/transport-node';
import { ConfigError, GatewayTimeoutError, NotFoundError, SpandaError, StorageLimitError, UnavailableError, ValidationError } from '../lib/errors.ts';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly [extension: string]: unknown;
}

export const problemType = (code: string) => `urn:spanda:problem:${code}`;

export function problem(status: number, code: string, title: string, detail: string, extensions: Record<string, unknown> = {}): Problem {
  return { type: problemType(code), title, status, detail, ...extensions };
}

/** Maps any thrown value to a problem; unknown errors become a 500 without leaking internals beyond the message. */
export function problemFromError(err: unknown): { problem: Problem; headers: Record<string, string> } {
  if (err instanceof ValidationError) {
    return { problem: problem(400, 'validation', 'Invalid request', err.message, err.issues.length > 0 ? { issues: err.issues } : {}), headers: {} };
  }
  if (err instanceof NotFoundError) return { problem: problem(404, 'not-found', 'Not found', err.message), headers: {} };
  // 507 and no Retry-After: the stream stays full until an operator acts, so retrying on a timer would only spin.
  if (err instanceof StorageLimitError) return { problem: problem(507, 'storage-limit', 'Stream at its limit', err.message), headers: {} };
  if (err instanceof UnavailableError) {
    return {
      problem: problem(503, 'unavailable', 'Service unavailable', err.message),
      headers: { 'retry-after': String(err.retryAfterSeconds) },
    };
  }
  const silence = brokerSilence(err);
  if (silence !== undefined) {
    const detail = `NATS JetStream did not answer (${silence}): the broker is down, restarting or overloaded; retry in a few seconds (GET /readyz says when it answers again)`;
    return { problem: problem(503, 'unavailable', 'Service unavailable', detail), headers: { 'retry-after': '5' } };
  }
  if (err instanceof GatewayTimeoutError) return { problem: problem(504, 'timeout', 'Not applied in time', err.message), headers: {} };
  if (err instanceof ConfigError) return { problem: problem(500, 'config', 'Server misconfigured', err.message), headers: {} };
  if (err instanceof SpandaError) return { problem: problem(500, err.code, 'Internal error', err.message), headers: {} };
  const message = err instanceof Error ? err.message : String(err);
  return { problem: problem(500, 'internal', 'Internal error', `${message}; see the server log`), headers: {} };
}

export function sendProblem(p: Problem, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(p), {
    status: p.status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...headers },
  });
}

/**
 * The message of a NATS client error (or one it caused) that means the broker gave no answer, or undefined: a request
 * that timed out, found no responder (JetStream not running yet) or met a closed or draining connection. The caller can
 * retry; it is not the server's bug.
 */
function brokerSilence(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 5; depth++, e = e.cause) {
    if (e instanceof TimeoutError || e instanceof NoRespondersError || e instanceof ClosedConnectionError || e instanceof ConnectionError || e instanceof DrainingConnectionError) {
      return e.message;
    }
  }
  return undefined;
}
