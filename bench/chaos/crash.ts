// Crash consistency: documents with interleaved updates, deletes and re-creations while processes are SIGKILLed at random
// moments and restarted (a whole `spanda up` node; chunker, embedder and projector processes of `spanda run`); then the
// API is asked about every acknowledged final state, the streams are counted and `spanda verify` compares digests.
import path from 'node:path';
import { connectNats } from '../../streams/nats.ts';
import { freePort } from '../../streams/server.ts';
import { note, round, sleep } from '../lib/common.ts';
import { settleAndCheck, spandaVerify, streamCounts, type Verdict } from './lib/check.ts';
import { startExternalNats, startRoles, startUp, type SpandaProcess } from './lib/procs.ts';
import type { ChaosResult, Scale } from './lib/result.ts';
import { scopedTempDir, Scope } from './lib/scope.ts';
import { Ledger, newPublishStats, planRounds, publishRound, seeded } from './lib/workload.ts';

interface CrashSize {
  readonly documents: number;
  readonly updateRounds: number;
  readonly perRound: number;
  readonly kills: number;
  /** Random pause between a restart and the next kill, in ms. */
  readonly pauseMs: readonly [number, number];
}

const SIZES: Record<Scale['name'], CrashSize> = {
  full: { documents: 2000, updateRounds: 12, perRound: 250, kills: 8, pauseMs: [300, 2500] },
  short: { documents: 200, updateRounds: 4, perRound: 60, kills: 2, pauseMs: [200, 800] },
};

interface TopologyRun {
  readonly topology: string;
  readonly kills: Record<string, number>;
  readonly events: number;
  readonly publishStatuses: Record<string, number>;
  readonly missingRetryAfter: number;
  readonly refused: string[];
  readonly verdict: Verdict & { appliedMs: number; settleMs: number };
  readonly streams: Awaited<ReturnType<typeof streamCounts>>;
  readonly verify: Array<{ dataDir: string; ok: boolean; digest?: string; logDigest?: string; output?: string }>;
  readonly publishMs: number;
}

/** Publishes every round while `killer` SIGKILLs and restarts processes; returns once both are done. */
async function publishUnderFire(
  api: () => string,
  size: CrashSize,
  seed: number,
  victims: readonly SpandaProcess[],
): Promise<{ ledger: Ledger; stats: ReturnType<typeof newPublishStats>; kills: Record<string, number>; publishMs: number }> {
  const random = seeded(seed);
  const rounds = planRounds(size.documents, size.updateRounds, size.perRound, random);
  const ledger = new Ledger();
  const stats = newPublishStats();
  const kills: Record<string, number> = {};
  let publishing = true;
  const killer = (async () => {
    const killRandom = seeded(seed + 1);
    for (let k = 0; k < size.kills; k++) {
      const [lo, hi] = size.pauseMs;
      await sleep(lo + killRandom() * (hi - lo));
      const victim = victims[Math.floor(killRandom() * victims.length)] as SpandaProcess;
      note(`crash: SIGKILL ${victim.name} (pid ${victim.pid})${publishing ? ' while publishing' : ' while indexing'}`);
      await victim.restart();
      kills[victim.name] = (kills[victim.name] ?? 0) + 1;
    }
  })();
  const started = performance.now();
  for (const ops of rounds) await publishRound(api, ops, ledger, stats);
  const publishMs = performance.now() - started;
  publishing = false;
  await killer;
  return { ledger, stats, kills, publishMs };
}

async function finish(
  topology: string,
  api: string,
  natsUrl: string,
  dataDirs: readonly string[],
  run: Awaited<ReturnType<typeof publishUnderFire>>,
): Promise<TopologyRun> {
  note(`crash/${topology}: ${run.ledger.events} events acknowledged; waiting for the node to settle, then checking every document`);
  const verdict = await settleAndCheck(api, run.ledger);
  const handle = await connectNats({ url: natsUrl, name: 'spanda-chaos', connectTimeoutMs: 10_000 });
  const streams = await streamCounts(handle).finally(() => handle.drain());
  const verify = [];
  for (const dir of dataDirs) {
    const v = await spandaVerify(natsUrl, dir);
    verify.push({ dataDir: path.basename(dir), ok: v.ok, ...(v.digest ? { digest: v.digest } : {}), ...(v.logDigest ? { logDigest: v.logDigest } : {}), ...(v.ok ? {} : { output: v.output }) });
  }
  return {
    topology,
    kills: run.kills,
    events: run.ledger.events,
    publishStatuses: run.stats.tally.counts,
    missingRetryAfter: run.stats.missingRetryAfter.count,
    refused: run.stats.refused.slice(0, 5),
    verdict,
    streams,
    verify,
    publishMs: round(run.publishMs, 0),
  };
}

/** A whole node (`spanda up`, its nats-server child included) SIGKILLed and started again on the same data dir and ports. */
async function upTopology(scope: Scope, size: CrashSize, seed: number): Promise<TopologyRun> {
  const dataDir = await scopedTempDir(scope, 'spanda-chaos-crash-up-');
  const port = await freePort();
  const natsPort = await freePort();
  const node = await startUp(scope, 'node', dataDir, { port, natsPort });
  const run = await publishUnderFire(() => node.api, size, seed, [node]);
  return finish('spanda up', node.api, `nats://127.0.0.1:${natsPort}`, [dataDir], run);
}

/** Roles as processes on an external nats-server: chunker, embedder and projector SIGKILLed; the API process publishes and serves. */
async function rolesTopology(scope: Scope, size: CrashSize, seed: number): Promise<TopologyRun> {
  const nats = await startExternalNats(scope, await scopedTempDir(scope, 'spanda-chaos-crash-nats-'));
  const projectorDir = await scopedTempDir(scope, 'spanda-chaos-crash-projector-');
  const apiDir = await scopedTempDir(scope, 'spanda-chaos-crash-api-');
  const projector = await startRoles(scope, ['projector'], nats.url, projectorDir);
  const api = await startRoles(scope, ['api'], nats.url, apiDir);
  const chunker = await startRoles(scope, ['chunker'], nats.url, await scopedTempDir(scope, 'spanda-chaos-crash-chunker-'));
  const embedder = await startRoles(scope, ['embedder'], nats.url, await scopedTempDir(scope, 'spanda-chaos-crash-embedder-'));
  const run = await publishUnderFire(() => api.api, size, seed + 100, [chunker, embedder, projector]);
  return finish('spanda run', api.api, nats.url, [projectorDir, apiDir], run);
}

export async function crashScenario(scale: Scale): Promise<ChaosResult> {
  const size = SIZES[scale.name];
  const runs: TopologyRun[] = [];
  // The short (CI) form runs the role processes only: test/e2e/replay.test.ts already SIGKILLs a whole `spanda up`.
  for (const topology of scale.name === 'short' ? [rolesTopology] : [upTopology, rolesTopology]) {
    const scope = new Scope();
    try {
      runs.push(await topology(scope, size, scale.seed));
    } finally {
      await scope.close();
    }
  }
  const sum = (f: (r: TopologyRun) => number) => runs.reduce((s, r) => s + f(r), 0);
  const failures: string[] = [];
  for (const r of runs) {
    const v = r.verdict;
    if (v.lost + v.duplicated + v.resurrected > 0) failures.push(`${r.topology}: ${v.lost} lost, ${v.duplicated} duplicated, ${v.resurrected} resurrected (${v.examples.slice(0, 3).join('; ')})`);
    if (v.ambiguous > 0) failures.push(`${r.topology}: ${v.ambiguous} documents with an operation never acknowledged`);
    if (r.streams.extraEvents > 0 || r.streams.missingEvents > 0) failures.push(`${r.topology}: stream counts disagree ${JSON.stringify(r.streams)}`);
    for (const v2 of r.verify) if (!v2.ok) failures.push(`${r.topology}: spanda verify failed on ${v2.dataDir}: ${v2.output ?? ''}`);
    if (r.refused.length > 0) failures.push(`${r.topology}: publishes refused: ${r.refused.join('; ')}`);
    if (r.missingRetryAfter > 0) failures.push(`${r.topology}: ${r.missingRetryAfter} answers 503 without Retry-After`);
  }
  const http5xx = sum((r) => Object.entries(r.publishStatuses).reduce((s, [k, n]) => (Number(k) >= 500 && Number(k) !== 503 ? s + n : s), 0));
  if (http5xx > 0) failures.push(`${http5xx} answers 5xx other than 503 while publishing`);
  return {
    scenario: 'crash',
    description: `${size.documents} documents, updates/deletes/re-creations; SIGKILL + restart of spanda up, and of chunker/embedder/projector processes`,
    faults: sum((r) => Object.values(r.kills).reduce((a, b) => a + b, 0)),
    events: sum((r) => r.events),
    lost: sum((r) => r.verdict.lost),
    duplicated: sum((r) => r.verdict.duplicated + r.streams.extraEvents),
    resurrected: sum((r) => r.verdict.resurrected),
    http5xx,
    figures: { documents: size.documents, runs },
    failures,
  };
}
