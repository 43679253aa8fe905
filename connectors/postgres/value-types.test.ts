// Date and timestamp text from Postgres as the CDC source writes it: no time zone of the process involved, offsets applied, microseconds and infinity kept.
import { describe, expect, it } from 'vitest';
import { cdcTextParser, parseTimestamp, parseTimestamptz } from './value-types.ts';

describe('CDC value types', () => {
  it('converts timestamptz text in any session zone to the same UTC instant', () => {
    expect(parseTimestamptz('2025-06-01 06:00:00+05:30')).toBe('2025-06-01T00:30:00.000Z');
    expect(parseTimestamptz('2025-05-31 20:30:00.123456-04')).toBe('2025-06-01T00:30:00.123456Z');
    expect(parseTimestamptz('2025-06-01 00:30:00.12+00')).toBe('2025-06-01T00:30:00.120Z');
    expect(parseTimestamptz('1900-01-01 00:53:28+00:53:28')).toBe('1900-01-01T00:00:00.000Z');
    expect(parseTimestamptz('0044-03-15 12:00:00+00 BC')).toBe('0044-03-15 12:00:00+00 BC');
    expect(parseTimestamptz('infinity')).toBe('infinity');
    expect(parseTimestamptz('-infinity')).toBe('-infinity');
  });

  it('writes timestamp without time zone as ISO without a zone, and dates as the day', () => {
    expect(parseTimestamp('2025-06-01 00:30:00.123456')).toBe('2025-06-01T00:30:00.123456');
    expect(parseTimestamp('-infinity')).toBe('-infinity');
    expect(cdcTextParser(1082)('2025-06-01')).toBe('2025-06-01');
    expect(cdcTextParser(1185)('{"2025-06-01 06:00:00+05:30",NULL}')).toEqual(['2025-06-01T00:30:00.000Z', null]);
    expect(cdcTextParser(23)('42')).toBe(42);
  });
});
