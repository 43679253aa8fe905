// Column values as the CDC source writes them: date and timestamp text kept as Postgres wrote it, independent of the process's time zone; for the source's own connections only.
import pg from 'pg';
import type { PgoutputPlugin } from 'pg-logical-replication';

/**
 * Session settings of the source's connections (the replication one included, whose walsender writes the streamed
 * values): ISO dates whatever DateStyle the server defaults to, the form the parsers here read.
 */
export const CDC_SESSION_OPTIONS = '-c DateStyle=ISO,MDY';

/** Type OIDs whose text the source converts itself (pg's defaults turn them into Dates in the process's time zone). */
const OID = { date: 1082, timestamp: 1114, timestamptz: 1184, dateArray: 1182, timestampArray: 1115, timestamptzArray: 1185, textArray: 1009 } as const;

type TextParser = (text: string) => unknown;
/** pg's default parser for a type OID (its type names only the built-in OIDs it has constants for). */
const pgDefault = (oid: number, format: 'text' | 'binary' = 'text') => pg.types.getTypeParser(oid as Parameters<typeof pg.types.getTypeParser>[0], format) as TextParser;

const INFINITE = new Set(['infinity', '-infinity']);

/** `date`: the calendar day as written ("2025-06-01"), "infinity"/"-infinity" kept. */
export function parseDate(text: string): string {
  return text;
}

/** `timestamp without time zone`: ISO 8601 without an invented zone ("2025-06-01T00:30:00.123456"); BC and infinite values as Postgres wrote them. */
export function parseTimestamp(text: string): string {
  if (INFINITE.has(text) || text.endsWith(' BC')) return text;
  return text.replace(' ', 'T');
}

const ZONED = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?$/;

/**
 * `timestamp with time zone`: the instant in UTC, ISO 8601 ("2025-05-31T22:30:00.000Z"), with microseconds when the
 * value has them ("….123456Z"), whatever TimeZone the session runs in; infinite, BC and out-of-range values as
 * Postgres wrote them.
 */
export function parseTimestamptz(text: string): string {
  const m = ZONED.exec(text);
  if (!m) return text;
  const [, y, mo, d, h, mi, s, frac = '', sign, oh, om = '0', os = '0'] = m;
  const offsetMs = (sign === '-' ? -1 : 1) * ((Number(oh) * 60 + Number(om)) * 60 + Number(os)) * 1000;
  const local = new Date(0);
  local.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  local.setUTCHours(Number(h), Number(mi), Number(s), 0);
  const utc = new Date(local.getTime() - offsetMs);
  const iso = utc.toISOString();
  if (!/^\d{4}-/.test(iso)) return text;
  const digits = frac.padEnd(3, '0');
  const fraction = /^\d{3}0*$/.test(digits) ? digits.slice(0, 3) : digits;
  return `${iso.slice(0, 19)}.${fraction}Z`;
}

/** A one- or more-dimensional array of one of these types, elements converted (NULL stays null). */
function arrayOf(element: TextParser): TextParser {
  const texts = pgDefault(OID.textArray);
  const convert = (value: unknown): unknown => (Array.isArray(value) ? value.map(convert) : typeof value === 'string' ? element(value) : value);
  return (text) => convert(texts(text));
}

const OWN_PARSERS: ReadonlyMap<number, TextParser> = new Map<number, TextParser>([
  [OID.date, parseDate],
  [OID.timestamp, parseTimestamp],
  [OID.timestamptz, parseTimestamptz],
  [OID.dateArray, arrayOf(parseDate)],
  [OID.timestampArray, arrayOf(parseTimestamp)],
  [OID.timestamptzArray, arrayOf(parseTimestamptz)],
]);

/** The text parser for a type OID: the source's own for dates and timestamps, pg's default for the rest. */
export function cdcTextParser(oid: number): TextParser {
  return OWN_PARSERS.get(oid) ?? pgDefault(oid);
}

/**
 * Type parsers for the source's pg clients (`new pg.Client({ types: cdcTypes })`): pg's global parsers, which other
 * code in the process uses, are left as they are.
 */
export const cdcTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) =>
    format === 'binary' ? pgDefault(oid, 'binary') : cdcTextParser(oid)) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * Has the pgoutput plugin convert streamed values with the same parsers as cdcTypes (the library takes pg's global
 * ones when it reads a relation), so a streamed change and a snapshot read of the same row give the same values.
 */
export function withCdcTypes(plugin: PgoutputPlugin): PgoutputPlugin {
  const parse = plugin.parse.bind(plugin);
  plugin.parse = (buffer) => {
    const message = parse(buffer);
    if (message.tag === 'relation') for (const column of message.columns) column.parser = cdcTextParser(column.typeOid);
    return message;
  };
  return plugin;
}
