// Named error classes shared by every layer; each carries a stable code that the API maps to a problem type.

/** Base class: `code` is stable and machine-readable, `message` says what happened and what to do next. */
export class SpandaError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Input that can never succeed as given (bad request body, invalid event). Not retried. */
export class ValidationError extends SpandaError {
  readonly issues: readonly string[];
  constructor(message: string, issues: readonly string[] = [], options?: { cause?: unknown }) {
    super('validation', message, options);
    this.issues = issues;
  }
}

/** Something asked for does not exist. */
export class NotFoundError extends SpandaError {
  constructor(message: string) {
    super('not-found', message);
  }
}

/** A dependency (NATS, a store, a model server) is down or overloaded; the caller may retry later. */
export class UnavailableError extends SpandaError {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds = 5, options?: { cause?: unknown }) {
    super('unavailable', message, options);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * A stream is at one of its limits (max_msgs, max_bytes, the server's storage) and refuses new messages: nothing was
 * stored, and retrying changes nothing until an operator raises the limit or frees space. Still an UnavailableError, so
 * processors retry their input (never dead-letter it) until there is room again.
 */
export class StorageLimitError extends UnavailableError {
  override readonly code = 'storage-limit';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 30, options);
  }
}

/** Waiting for something (read-your-writes) took longer than the caller allowed; the message says what is pending. */
export class GatewayTimeoutError extends SpandaError {
  constructor(message: string) {
    super('timeout', message);
  }
}

/** A processor could not handle an event for a reason that retrying will not fix: the event goes to the DLQ. */
export class PermanentEventError extends SpandaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('permanent', message, options);
  }
}

/** A failure worth retrying (timeouts, 429/5xx); `retryAfterMs` honours a server's hint when it gave one. */
export class TransientError extends SpandaError {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs?: number, options?: { cause?: unknown }) {
    super('transient', message, options);
    this.retryAfterMs = retryAfterMs;
  }
}

/** Configuration that cannot work (missing binary, bad flag); the message says how to fix it. */
export class ConfigError extends SpandaError {
  constructor(message: string) {
    super('config', message);
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * The message with what its causes add: fetch's "fetch failed" says nothing without its cause's "connect
 * ECONNREFUSED 127.0.0.1:6333". A cause whose text the message already holds is left out.
 */
export function errorMessageWithCauses(err: unknown): string {
  let text = errorMessage(err);
  let cause = err instanceof Error ? err.cause : undefined;
  for (let depth = 0; cause !== undefined && cause !== null && depth < 4; depth++) {
    const more = cause instanceof Error ? cause.message || (cause as { code?: unknown }).code : undefined;
    if (typeof more === 'string' && more !== '' && !text.includes(more)) text += `: ${more}`;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return text;
}

/** Whether `err` says the disk is full: SQLite's SQLITE_FULL, or ENOSPC from a file write. */
export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') return true;
  return /database or disk is full|no space left on device/i.test(errorMessage(err));
}
