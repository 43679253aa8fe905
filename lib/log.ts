// A small leveled logger: one line per event on stderr, human-readable by default, JSON with SPANDA_LOG_FORMAT=json.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(component: string): Logger;
}

function envLevel(): LogLevel {
  const value = process.env.SPANDA_LOG_LEVEL;
  return value && value in ORDER ? (value as LogLevel) : 'info';
}

function formatValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === 'string') return /^[\w./:@-]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

export function createLogger(component = 'spanda', level: LogLevel = envLevel(), write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const json = process.env.SPANDA_LOG_FORMAT === 'json';
  const emit = (lvl: LogLevel, message: string, fields: LogFields = {}) => {
    if (ORDER[lvl] < ORDER[level]) return;
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
    child: (name) => createLogger(`${component}/${name}`, level, write),
  };
}

export const silentLogger: Logger = createLogger('silent', 'silent');
