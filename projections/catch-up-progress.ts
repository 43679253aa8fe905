// A rebuild's projector catching up with the log's head: its progress in events applied by this run, and the wait.
import { ConfigError } from '../lib/errors.ts';
import type { RunningProjector, SourcePosition } from './projector.ts';

export interface CatchUp {
  readonly applied: number;
  readonly total: number;
}

/**
 * Events applied since the projector started, out of those plus the ones its sources still count pending: not stream
 * sequences, which overstated the work and the rate (a slice filtered to one model skips the other models' messages,
 * and a resumed build starts past its first events, so a resumed replay showed an ETA of seconds for minutes of work).
 * Once caught up, the total is what was applied. Undefined before any source has been opened and counted.
 */
export function catchUpProgress(positions: readonly SourcePosition[], caughtUp: boolean): CatchUp | undefined {
  let applied = 0;
  let pending = 0;
  for (const p of positions) {
    applied += p.read;
    pending += p.pending;
  }
  if (caughtUp) return { applied, total: applied };
  return applied + pending === 0 ? undefined : { applied, total: applied + pending };
}

/**
 * Waits until every source of `projector` has applied up to its `target` sequence (returning as soon as the batch that
 * reaches it applies), reporting progress every 100 ms.
 * Throws a ConfigError naming `what` when the projector's health says it is not advancing (batches keep failing, or
 * pending events see no progress), instead of waiting forever.
 */
export async function awaitCatchUp(projector: RunningProjector, target: Readonly<Record<string, number>>, onProgress: (progress: CatchUp) => void, what: string): Promise<void> {
  const reached = (positions: readonly SourcePosition[]) => positions.every((p) => p.applied >= (target[p.key] ?? 0));
  for (;;) {
    const positions = projector.positions();
    const caughtUp = reached(positions);
    const shown = catchUpProgress(positions, caughtUp);
    if (shown) onProgress(shown);
    if (caughtUp) return;
    const health = projector.health();
    if (!health.ok) throw new ConfigError(`${what} is not advancing: ${health.detail}`);
    // Up to 100 ms between progress reports, but no longer than the batch that reaches the target.
    await projector.waitUntil(reached, 100).catch(() => undefined);
  }
}
