// Free space on the disk holding the data dir: gauges read at each scrape, and a watch that logs a disk filling up.
import { statfsSync } from 'node:fs';
import { humanBytes } from './bytes.ts';
import type { Logger } from './log.ts';

export interface DiskSpace {
  /** Bytes this process may still write (statfs's available blocks). */
  readonly free: number;
  readonly size: number;
}

/** The disk space where `dir` lives; undefined when it cannot be read (the dir is gone, no statfs on this platform). */
export function diskSpace(dir: string): DiskSpace | undefined {
  try {
    const s = statfsSync(dir);
    return { free: s.bavail * s.bsize, size: s.blocks * s.bsize };
  } catch {
    return undefined;
  }
}

/**
 * Below this share free a disk counts as full: a nats-server started then gives JetStream no storage at all, and a
 * store that failed for want of space waits for more. What "room again" means after a disk filled up.
 */
export const DISK_FULL_FRACTION = 0.01;

/** Whether `space` (as diskSpace reads it) is full by DISK_FULL_FRACTION; unknown space is not full. */
export function isFull(space: DiskSpace | undefined): boolean {
  return space !== undefined && space.size > 0 && space.free / space.size < DISK_FULL_FRACTION;
}

/** Below this share free the watch warns (and SpandaDiskAlmostFull fires in deploy/prometheus/spanda.rules.yml). */
export const DISK_LOW_FRACTION = 0.1;

/**
 * Checks the data dir's disk every `intervalMs` and logs when its free share falls under DISK_LOW_FRACTION (a warning
 * naming what stops when it is full) and when it is back above. Returns the stop.
 */
export function watchDiskSpace(dir: string, logger: Logger, intervalMs = 30_000, read: (dir: string) => DiskSpace | undefined = diskSpace): () => void {
  let low = false;
  const check = () => {
    const space = read(dir);
    if (!space || space.size === 0) return;
    const share = space.free / space.size;
    const fields = { dataDir: dir, free: humanBytes(space.free), size: humanBytes(space.size), freePercent: Math.round(share * 1000) / 10 };
    if (!low && share < DISK_LOW_FRACTION) {
      low = true;
      logger.warn(
        'the disk holding the data dir is almost full: once it is, SQLite projections stop applying (they retry and catch up when space is freed) and a nats-server storing there stops answering JetStream (publishing answers 503); free space or grow the disk',
        fields,
      );
    } else if (low && share >= DISK_LOW_FRACTION) {
      low = false;
      logger.info('the disk holding the data dir has room again', fields);
    }
  };
  check();
  const timer = setInterval(check, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
