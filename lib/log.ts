// A small leveled logger (one line per event on stderr: text, or JSON objects), W3C trace context, and URL redaction.
import { randomHex } from './random-pool.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
export const LOG_LEVELS = Object.keys(ORDER) as readonly LogLevel[];
export type LogFormat = 'text' | 'json';

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(component: string): Logger;
  /** The same logger with fields added to every line (e.g. a request's trace_id). */
  with(fields: LogFields): Logger;
}

function envLevel(): LogLevel {
  const value = process.env.SPANDA_LOG_LEVEL;
  return value && value in ORDER ? (value as LogLevel) : 'info';
}

function envFormat(): LogFormat {
  return process.env.SPANDA_LOG_FORMAT === 'json' ? 'json' : 'text';
}

function formatValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === 'string') return /^[\w./:@-]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

export interface LoggerOptions {
  /** Defaults to SPANDA_LOG_FORMAT (json) or text. */
  readonly format?: LogFormat;
  /** Fields on every line. */
  readonly fields?: LogFields;
}

export function createLogger(
  component = 'spanda',
  level: LogLevel = envLevel(),
  write: (line: string) => void = (l) => process.stderr.write(l),
  options: LoggerOptions = {},
): Logger {
  // Read once: a request's logger (requestContext's with()) is built per call, and process.env is slow to read.
  const format = options.format ?? envFormat();
  const json = format === 'json';
  const bound = options.fields ?? {};
  const emit = (lvl: LogLevel, message: string, own: LogFields = {}) => {
    if (ORDER[lvl] < ORDER[level]) return;
    const fields = { ...bound, ...own };
    const time = new Date().toISOString();
    if (json) {
      const normalized = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v instanceof Error ? v.message : v]));
      write(`${JSON.stringify({ time, level: lvl, component, message, ...normalized })}\n`);
      return;
    }
    const extra = Object.entries(fields)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${formatValue(v)}`)
      .join(' ');
    write(`${time} ${lvl.padEnd(5)} ${component}: ${message}${extra ? ` ${extra}` : ''}\n`);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (name) => createLogger(`${component}/${name}`, level, write, { ...options, format }),
    with: (fields) => createLogger(component, level, write, { ...options, format, fields: { ...bound, ...fields } }),
  };
}

export const silentLogger: Logger = createLogger('silent', 'silent');

/** A URL with any user:password@ removed, for logs and status pages (NATS_URL may carry credentials). */
export function redactUrl(url: string): string {
  return url.replace(/(^|,|\s)([a-z][a-z0-9+.-]*:\/\/)[^/@\s,]*@/gi, '$1$2');
}

// W3C Trace Context (https://www.w3.org/TR/trace-context/): version 00, 32-hex trace id, 16-hex parent id, 2-hex flags.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

export interface TraceContext {
  readonly traceId: string;
  readonly spanId: string;
  readonly flags: string;
}

/** Parses a traceparent header; anything malformed (or the all-zero ids the spec forbids) is undefined. */
export function parseTraceparent(header: string | undefined | null): TraceContext | undefined {
  if (!header || header.length > 512) return undefined;
  const m = TRACEPARENT.exec(header.trim());
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  // Version ff is invalid; version 00 has exactly four fields. Later versions may add fields after the fourth.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId, flags };
}

export function formatTraceparent(t: TraceContext): string {
  return `00-${t.traceId}-${t.spanId}-${t.flags}`;
}

/** This process's span in the trace: the caller's trace id (a new one when absent or malformed) and a new span id. */
export function childTrace(parent: TraceContext | undefined): TraceContext {
  return { traceId: parent?.traceId ?? randomHex(16), spanId: randomHex(8), flags: parent?.flags ?? '01' };
}

/** The trace id of a traceparent header value, for log lines. */
export function traceIdOf(traceparent: string | undefined | null): string | undefined {
  return parseTraceparent(traceparent)?.traceId;
}

/**
 * Sends the process's warnings (process.emitWarning, here and forwarded from worker threads) through `logger` instead
 * of Node's own "(node:PID) Warning:" lines on stderr, which broke a JSON log's one object per line. For a node's
 * command (spanda up, spanda run): it replaces Node's printer for the whole process.
 */
export function routeProcessWarnings(logger: Logger): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning: Error) => logger.warn(warning.message, warning.name !== 'Warning' ? { warning: warning.name } : {}));
}
