// The CI form of `npm run chaos`: every reliability scenario at small scale (crash, broker, limits, disk, fuzz, soak), none failing.
import { afterAll, describe, expect, it } from 'vitest';
import { SCENARIOS, type ScenarioName } from '../../bench/chaos/scenarios.ts';
import type { Scale } from '../../bench/chaos/lib/result.ts';
import { closeAllScopes } from '../../bench/chaos/lib/scope.ts';

const scale: Scale = { name: 'short', seed: Number(process.env.SPANDA_CHAOS_SEED ?? 12) };

describe('chaos, short form', () => {
  // A scenario cut short by its timeout still stops what it started.
  afterAll(closeAllScopes);

  it.for(Object.keys(SCENARIOS) as ScenarioName[])(
    '%s: nothing lost, duplicated or resurrected, no 5xx, no crash',
    { timeout: 300_000 },
    async (name, ctx) => {
      const result = await SCENARIOS[name](scale);
      // A scenario this machine cannot run (disk: no root to mount a tmpfs) says why, visibly, and asserts nothing.
      if (result.skipped !== undefined) return ctx.skip(`${name}: ${result.skipped}`);
      process.stdout.write(`[chaos ${name}] faults ${result.faults}, events ${result.events}, lost ${result.lost}, duplicated ${result.duplicated}, resurrected ${result.resurrected}, 5xx ${result.http5xx}\n`);
      expect(result.failures).toEqual([]);
      expect(result).toMatchObject({ lost: 0, duplicated: 0, resurrected: 0, http5xx: 0 });
      expect(result.events).toBeGreaterThan(0);
    },
  );
});
