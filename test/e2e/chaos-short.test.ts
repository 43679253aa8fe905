// The CI form of `npm run chaos`: every reliability scenario at small scale (crash, broker, limits, fuzz, soak), none failing.
import { afterAll, describe, expect, it } from 'vitest';
import { SCENARIOS, type ScenarioName } from '../../bench/chaos/scenarios.ts';
import type { Scale } from '../../bench/chaos/lib/result.ts';
import { closeAllScopes } from '../../bench/chaos/lib/scope.ts';

const scale: Scale = { name: 'short', seed: Number(process.env.SPANDA_CHAOS_SEED ?? 12) };

describe('chaos, short form', () => {
  // A scenario cut short by its timeout still stops what it started.
  afterAll(closeAllScopes);

  it.each(Object.keys(SCENARIOS) as ScenarioName[])(
    '%s: nothing lost, duplicated or resurrected, no 5xx, no crash',
    async (name) => {
      const result = await SCENARIOS[name](scale);
      process.stdout.write(`[chaos ${name}] faults ${result.faults}, events ${result.events}, lost ${result.lost}, duplicated ${result.duplicated}, resurrected ${result.resurrected}, 5xx ${result.http5xx}\n`);
      expect(result.failures).toEqual([]);
      expect(result).toMatchObject({ lost: 0, duplicated: 0, resurrected: 0, http5xx: 0 });
      expect(result.events).toBeGreaterThan(0);
    },
    300_000,
  );
});
