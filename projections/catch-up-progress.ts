// A projector's progress towards the log's head in events applied by this run, for replay progress bars.
import type { SourcePosition } from './projector.ts';

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
