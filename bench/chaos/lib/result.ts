// The figures every chaos scenario reports (faults, events, lost, duplicated, resurrected, 5xx), written to bench/results/chaos-NAME.json.
import { loadAverage, table, writeResult } from '../../lib/common.ts';

export interface ChaosResult {
  readonly scenario: string;
  /** One line: what was done to the system. */
  readonly description: string;
  /** Faults injected (SIGKILLs, broker kills, fuzzed inputs, limit hits). */
  readonly faults: number;
  /** Events the clients had acknowledged (202) or injected. */
  readonly events: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly resurrected: number;
  /** Responses 500–599 other than 503 (503 + Retry-After is the answer while NATS is down). */
  readonly http5xx: number;
  /** Everything else the scenario measured, keyed with units. */
  readonly figures: Record<string, unknown>;
  /** Problems found (empty when the run is clean). */
  readonly failures: string[];
  /** Why the scenario could not run on this machine (its figures are then empty). */
  readonly skipped?: string;
}

export interface Scale {
  /** 'full' for `npm run chaos`, 'short' for the CI form. */
  readonly name: 'full' | 'short';
  /** Seed of the workload and the kill moments. */
  readonly seed: number;
}

export async function writeChaosResult(result: ChaosResult, scale: Scale, startLoad: readonly number[]): Promise<string> {
  return writeResult(`chaos-${result.scenario}`, startLoad, { scale: scale.name, seed: scale.seed, ...result });
}

export const startLoad = (): number[] => loadAverage();

export function textTable(results: readonly ChaosResult[]): string {
  return table(
    ['scenario', 'faults', 'events', 'lost', 'dup', 'resurrected', '5xx', 'result'],
    results.map((r) => [r.scenario, String(r.faults), String(r.events), String(r.lost), String(r.duplicated), String(r.resurrected), String(r.http5xx), r.skipped !== undefined ? 'skipped' : r.failures.length === 0 ? 'pass' : 'FAIL']),
  );
}
