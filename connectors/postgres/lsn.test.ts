// LSN text ↔ number round trips and ordering.
import { describe, expect, it } from 'vitest';
import { formatLsn, maxLsn, parseLsn } from './lsn.ts';

describe('lsn', () => {
  it('round-trips and orders', () => {
    expect(formatLsn(parseLsn('16/B374D848'))).toBe('16/B374D848');
    expect(parseLsn('0/1')).toBe(1n);
    expect(parseLsn('1/0')).toBe(1n << 32n);
    expect(parseLsn('0/FFFFFFFF') < parseLsn('1/0')).toBe(true);
    expect(maxLsn(parseLsn('0/10'), parseLsn('0/9'))).toBe(16n);
    expect(() => parseLsn('nope')).toThrow(/not a Postgres LSN/);
  });
});
