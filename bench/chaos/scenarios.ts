// The chaos scenarios by name, for `npm run chaos -- NAME` and the CI short form (test/e2e/chaos-short.test.ts).
import { brokerScenario } from './broker.ts';
import { crashScenario } from './crash.ts';
import { diskScenario } from './disk.ts';
import { fuzzScenario } from './fuzz.ts';
import { limitsScenario } from './limits.ts';
import { soakScenario } from './soak.ts';
import type { ChaosResult, Scale } from './lib/result.ts';

export const SCENARIOS = {
  crash: crashScenario,
  broker: brokerScenario,
  limits: limitsScenario,
  disk: diskScenario,
  fuzz: fuzzScenario,
  soak: soakScenario,
} satisfies Record<string, (scale: Scale) => Promise<ChaosResult>>;

export type ScenarioName = keyof typeof SCENARIOS;
