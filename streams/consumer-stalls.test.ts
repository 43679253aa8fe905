// Which nats-server versions forget expired pull requests, and the warning a node logs once when connected to one.
import { describe, expect, it } from 'vitest';
import { createLogger } from '../lib/log.ts';
import { forgetsExpiredPulls, warnIfServerForgetsPulls } from './consumer-stalls.ts';

describe('forgetsExpiredPulls', () => {
  it('is true before 2.9.16 and false from it on', () => {
    for (const v of ['2.9.10', '2.9.15', '2.8.4', '1.4.0', 'v2.9.0']) expect(forgetsExpiredPulls(v), v).toBe(true);
    for (const v of ['2.9.16', '2.9.25', '2.10.0', '2.11.3', '3.0.0', '2.10.0-beta.1']) expect(forgetsExpiredPulls(v), v).toBe(false);
  });

  it('is false for a version it cannot read', () => {
    for (const v of [undefined, '', 'dev', '2.9', 'x.y.z']) expect(forgetsExpiredPulls(v), String(v)).toBe(false);
  });
});

describe('warnIfServerForgetsPulls', () => {
  it('warns once per version with what to do, and not at all for a fixed server', () => {
    const lines: string[] = [];
    const log = createLogger('test', 'warn', (line) => lines.push(line));
    const results = [warnIfServerForgetsPulls('2.9.11', log), warnIfServerForgetsPulls('2.9.11', log), warnIfServerForgetsPulls('2.10.4', log)];
    expect(results).toEqual([true, false, false]);
    expect(lines.join('')).toMatch(/nats-server 2\.9\.11 forgets .*upgrade nats-server/);
  });
});
