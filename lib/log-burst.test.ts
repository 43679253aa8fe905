// A burst of the same warning (every event in flight when NATS stalls) is two lines per window, each call still at debug.
import { describe, expect, it, vi } from 'vitest';
import { createLogger } from './log.ts';
import { burstWarning } from './log-burst.ts';

describe('burstWarning', () => {
  it('logs the first call in full, then one line counting the rest of the window, and starts again after it', () => {
    vi.useFakeTimers();
    try {
      const lines: Array<{ level: string; message: string; seq?: number; more?: number }> = [];
      const warn = burstWarning(createLogger('test', 'debug', (line) => lines.push(JSON.parse(line)), { format: 'json' }), 'event will be retried', 5_000);
      for (let seq = 1; seq <= 300; seq++) warn({ seq });
      vi.advanceTimersByTime(5_000);
      warn({ seq: 301 });
      vi.advanceTimersByTime(5_000); // a window with nothing more says nothing more
      const warnings = lines.filter((l) => l.level === 'warn');
      expect(warnings).toEqual([
        expect.objectContaining({ message: 'event will be retried', seq: 1 }),
        expect.objectContaining({ message: 'event will be retried: 299 more in the last 5 s, the last of them', seq: 300, more: 299 }),
        expect.objectContaining({ message: 'event will be retried', seq: 301 }),
      ]);
      expect(lines.filter((l) => l.level === 'debug')).toHaveLength(301);
    } finally {
      vi.useRealTimers();
    }
  });
});
