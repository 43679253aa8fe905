// Broker restart: nats-server SIGKILLed mid-ingest (the supervised child of `spanda up`, and an external server under
// `spanda run` roles). A publishing client and a querying client record every status: 503 + Retry-After while NATS is
// down, never a 500 or a hang; every acknowledged document is then queryable; queries are answered from the store meanwhile.
import { round, sleep, summarize } from '../lib/common.ts';
import { isAlive } from '../../lib/processes.ts';
import { freePort } from '../../streams/server.ts';
import { settleAndCheck, type Verdict } from './lib/check.ts';
import { call, StatusTally, TIMED_OUT, type HttpOutcome } from './lib/http.ts';
import { natsChildPid, startExternalNats, startRoles, startUp } from './lib/procs.ts';
import type { ChaosResult, Scale } from './lib/result.ts';
import { scopedTempDir, Scope } from './lib/scope.ts';
import { docText, Ledger } from './lib/workload.ts';

interface BrokerSize {
  readonly kills: number;
  /** Healthy ingest between two kills, ms. */
  readonly betweenMs: number;
  /** How long the external server stays down before it is started again, ms. */
  readonly downMs: number;
  readonly batch: number;
  /** Pause after each acknowledged batch, ms. */
  readonly pauseMs: number;
}

const SIZES: Record<Scale['name'], BrokerSize> = {
  full: { kills: 4, betweenMs: 4000, downMs: 3000, batch: 20, pauseMs: 100 },
  short: { kills: 1, betweenMs: 1500, downMs: 1500, batch: 10, pauseMs: 50 },
};

/** A window in which NATS was down, from the kill to the first publish acknowledged after it. */
interface Outage {
  readonly killedAt: number;
  recoveredAt?: number;
}

interface ModeRun {
  readonly mode: string;
  readonly kills: number;
  readonly events: number;
  readonly publish: Record<string, number>;
  readonly query: Record<string, number>;
  readonly publishExamples: string[];
  readonly queryExamples: string[];
  /** 503s without a Retry-After header. */
  readonly missingRetryAfter: number;
  readonly retryAfterSeconds: number[];
  /** Time from a kill to the first 503 a publisher saw, and to the first 202 after it, ms. */
  readonly first503Ms: number[];
  readonly recoveryMs: number[];
  /** Queries sent while NATS was down, and how many of them were not answered 200. */
  readonly queriesDuringOutage: number;
  readonly queryFailuresDuringOutage: number;
  /** Slowest answer to a publish while NATS was down, ms (a hang would show here). */
  readonly slowestPublishDuringOutageMs: number;
  readonly queryMs: ReturnType<typeof summarize>;
  readonly verdict: Verdict & { appliedMs: number; settleMs: number };
  /** spanda processes that exited on their own (NATS going away must not take them down). */
  readonly crashedProcesses: number;
}

async function drive(api: string, size: BrokerSize, kill: () => Promise<void>, revive: () => Promise<void>): Promise<Omit<ModeRun, 'mode' | 'verdict' | 'crashedProcesses'> & { ledger: Ledger }> {
  const ledger = new Ledger();
  const publish = new StatusTally();
  const query = new StatusTally();
  const outages: Outage[] = [];
  const retryAfter = new Set<number>();
  const first503Ms: number[] = [];
  let missingRetryAfter = 0;
  let slowest = 0;
  let queriesDuringOutage = 0;
  let queryFailuresDuringOutage = 0;
  const queryMs: number[] = [];
  const down = () => outages.some((o) => o.recoveredAt === undefined);
  let running = true;
  let n = 0;

  const publisher = (async () => {
    while (running) {
      const documents = Array.from({ length: size.batch }, () => {
        const id = `b${String(n++).padStart(6, '0')}`;
        return { id, text: docText(id, 1) };
      });
      // The same batch until it is acknowledged: a careful client honours Retry-After, and re-sending is deduplicated.
      for (let attempt = 0; attempt < 200; attempt++) {
        const wasDown = down();
        const sentAt = Date.now();
        const o: HttpOutcome = await call(api, 'POST', '/v1/documents', { body: { documents }, timeoutMs: 15_000 });
        publish.record('POST /v1/documents', o);
        if (wasDown || down()) slowest = Math.max(slowest, o.ms);
        if (o.status === 202) {
          for (const a of (o.body as { accepted: Array<{ id: string; seq: number }> }).accepted) ledger.record({ id: a.id, kind: 'upsert', version: 1 }, a.seq);
          // Recovered: acknowledged for a request sent after the kill (one in flight at the kill may still be stored).
          for (const outage of outages) if (outage.recoveredAt === undefined && outage.killedAt < sentAt) outage.recoveredAt = Date.now();
          // A steady client, not a flood: the check afterwards asks about every document.
          await sleep(size.pauseMs);
          break;
        }
        if (o.status === 503) {
          const seconds = Number(o.headers?.get('retry-after'));
          if (!Number.isFinite(seconds) || seconds <= 0) missingRetryAfter++;
          else retryAfter.add(seconds);
          const open = outages.find((x) => x.recoveredAt === undefined);
          if (open && first503Ms.length < outages.length) first503Ms.push(Date.now() - open.killedAt);
          await sleep(Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 2) * 1000 : 500);
          continue;
        }
        if (o.status >= 400 && o.status < 500) break;
        await sleep(300);
      }
    }
  })();

  const querier = (async () => {
    for (let i = 0; running; i++) {
      const during = down();
      const o = await call(api, 'POST', '/v1/query', { body: { query: `chaosdocb${String(i % Math.max(1, n)).padStart(6, '0')} tides`, mode: 'keyword', k: 5 }, timeoutMs: 15_000 });
      query.record('POST /v1/query', o);
      if (o.status === 200) queryMs.push(o.ms);
      if (during) {
        queriesDuringOutage++;
        if (o.status !== 200) queryFailuresDuringOutage++;
      }
      await sleep(20);
    }
  })();

  for (let k = 0; k < size.kills; k++) {
    await sleep(size.betweenMs);
    outages.push({ killedAt: Date.now() });
    await kill();
    await revive();
    // The next kill only once publishing works again (bounded: a server that never comes back fails the run below).
    for (let w = 0; w < 300 && down(); w++) await sleep(100);
  }
  await sleep(size.betweenMs);
  running = false;
  await Promise.all([publisher, querier]);
  return {
    ledger,
    kills: size.kills,
    events: ledger.events,
    publish: publish.counts,
    query: query.counts,
    publishExamples: publish.examples,
    queryExamples: query.examples,
    missingRetryAfter,
    retryAfterSeconds: [...retryAfter].sort(),
    first503Ms,
    recoveryMs: outages.map((o) => (o.recoveredAt === undefined ? Number.NaN : o.recoveredAt - o.killedAt)),
    queriesDuringOutage,
    queryFailuresDuringOutage,
    slowestPublishDuringOutageMs: round(slowest, 0),
    queryMs: summarize(queryMs),
  };
}

async function upMode(scope: Scope, size: BrokerSize): Promise<ModeRun> {
  const dataDir = await scopedTempDir(scope, 'spanda-chaos-broker-up-');
  const node = await startUp(scope, 'node', dataDir, { natsPort: await freePort() });
  const run = await drive(
    node.api,
    size,
    async () => {
      const pid = await natsChildPid(dataDir);
      if (pid !== undefined && isAlive(pid)) process.kill(pid, 'SIGKILL');
    },
    // The node's supervisor restarts its child on its own.
    async () => undefined,
  );
  const verdict = await settleAndCheck(node.api, run.ledger);
  return { mode: 'spanda up (supervised child)', ...withoutLedger(run), verdict, crashedProcesses: node.running && node.starts === 1 ? 0 : 1 };
}

async function rolesMode(scope: Scope, size: BrokerSize): Promise<ModeRun> {
  const nats = await startExternalNats(scope, await scopedTempDir(scope, 'spanda-chaos-broker-nats-'));
  const api = await startRoles(scope, ['projector', 'api'], nats.url, await scopedTempDir(scope, 'spanda-chaos-broker-api-'));
  const processors = await startRoles(scope, ['chunker', 'embedder'], nats.url, await scopedTempDir(scope, 'spanda-chaos-broker-proc-'));
  const run = await drive(
    api.api,
    size,
    () => nats.kill(),
    async () => {
      await sleep(size.downMs);
      await nats.start();
    },
  );
  const verdict = await settleAndCheck(api.api, run.ledger);
  return { mode: 'spanda run (external nats-server)', ...withoutLedger(run), verdict, crashedProcesses: [api, processors].filter((p) => !p.running || p.starts !== 1).length };
}

function withoutLedger<T extends { ledger: Ledger }>(run: T): Omit<T, 'ledger'> {
  const { ledger: _ledger, ...rest } = run;
  return rest;
}

export async function brokerScenario(scale: Scale): Promise<ChaosResult> {
  const size = SIZES[scale.name];
  const runs: ModeRun[] = [];
  // The short (CI) form runs the external server only: test/e2e/nats-restart.test.ts covers spanda up's child.
  for (const mode of scale.name === 'short' ? [rolesMode] : [upMode, rolesMode]) {
    const scope = new Scope();
    try {
      runs.push(await mode(scope, size));
    } finally {
      await scope.close();
    }
  }
  const failures: string[] = [];
  const bad = (counts: Record<string, number>, p: (s: number) => boolean) => Object.entries(counts).reduce((s, [k, v]) => (p(Number(k)) ? s + v : s), 0);
  let http5xx = 0;
  for (const r of runs) {
    const fiveXX = bad(r.publish, (s) => s >= 500 && s !== 503) + bad(r.query, (s) => s >= 500);
    http5xx += fiveXX;
    const hangs = bad(r.publish, (s) => s === TIMED_OUT) + bad(r.query, (s) => s === TIMED_OUT);
    if (fiveXX > 0) failures.push(`${r.mode}: ${fiveXX} answers 5xx (${[...r.publishExamples, ...r.queryExamples].slice(0, 3).join('; ')})`);
    if (hangs > 0) failures.push(`${r.mode}: ${hangs} requests unanswered within 15 s`);
    if (r.missingRetryAfter > 0) failures.push(`${r.mode}: ${r.missingRetryAfter} answers 503 without Retry-After`);
    if (r.recoveryMs.some((ms) => Number.isNaN(ms))) failures.push(`${r.mode}: publishing never recovered after a kill`);
    if (r.verdict.lost > 0 || r.verdict.ambiguous > 0) failures.push(`${r.mode}: ${r.verdict.lost} acknowledged documents lost, ${r.verdict.ambiguous} never acknowledged (${r.verdict.examples.slice(0, 3).join('; ')})`);
    if (r.crashedProcesses > 0) failures.push(`${r.mode}: ${r.crashedProcesses} spanda processes exited while NATS was down`);
    if (r.queryFailuresDuringOutage > 0) failures.push(`${r.mode}: ${r.queryFailuresDuringOutage} of ${r.queriesDuringOutage} queries failed while NATS was down`);
  }
  return {
    scenario: 'broker',
    description: `nats-server SIGKILLed ${size.kills}× per mode mid-ingest (spanda up's supervised child; an external server under spanda run, down ${size.downMs / 1000} s)`,
    faults: runs.reduce((s, r) => s + r.kills, 0),
    events: runs.reduce((s, r) => s + r.events, 0),
    lost: runs.reduce((s, r) => s + r.verdict.lost, 0),
    duplicated: runs.reduce((s, r) => s + r.verdict.duplicated, 0),
    resurrected: 0,
    http5xx,
    figures: { runs },
    failures,
  };
}
