// The data dir's disk space: read from the file system, and a watch that warns once as it runs low and says when it has room.
import os from 'node:os';
import { describe, expect, it, vi } from 'vitest';
import { diskSpace, watchDiskSpace, type DiskSpace } from './disk-space.ts';
import { createLogger } from './log.ts';

describe('diskSpace', () => {
  it('reads the free and total bytes of the disk a directory is on, and nothing for a missing one', () => {
    const space = diskSpace(os.tmpdir());
    expect(space?.size).toBeGreaterThan(0);
    expect(space?.free).toBeGreaterThanOrEqual(0);
    expect(space?.free).toBeLessThanOrEqual(space?.size ?? 0);
    expect(diskSpace('/no/such/dir/anywhere')).toBeUndefined();
  });
});

describe('watchDiskSpace', () => {
  it('warns once when the free share falls under 10%, and says when there is room again', () => {
    vi.useFakeTimers();
    try {
      const readings: DiskSpace[] = [
        { free: 50, size: 100 },
        { free: 9, size: 100 },
        { free: 5, size: 100 },
        { free: 40, size: 100 },
        { free: 30, size: 100 },
      ];
      let i = 0;
      const lines: Array<{ level: string; message: string; freePercent?: number }> = [];
      const logger = createLogger('test', 'debug', (line) => lines.push(JSON.parse(line)), { format: 'json' });
      const stop = watchDiskSpace('/data', logger, 1000, () => readings[Math.min(i++, readings.length - 1)]);
      vi.advanceTimersByTime(4000);
      stop();
      vi.advanceTimersByTime(5000);
      expect(i).toBe(5); // one reading at start, one a second until stopped
      expect(lines.map((l) => [l.level, l.freePercent])).toEqual([
        ['warn', 9],
        ['info', 40],
      ]);
      expect(lines[0]?.message).toMatch(/almost full: once it is, SQLite projections stop applying .* free space or grow the disk/);
    } finally {
      vi.useRealTimers();
    }
  });
});
