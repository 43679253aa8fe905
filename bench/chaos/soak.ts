// Soak: publishing (updates, deletes and re-creations over a fixed set of documents, so the data stays the same size) and
// querying together for minutes, with each process's RSS and the consumers' lag sampled every few seconds; a series that
// keeps growing in the second half as in the first has not levelled off.
import { listConsumers } from '../../streams/consumer-list.ts';
import type { NatsHandle } from '../../streams/nats.ts';
import { connectNats } from '../../streams/nats.ts';
import { STREAMS } from '../../streams/provision.ts';
import { note, round, sleep, summarize } from '../lib/common.ts';
import { trend } from './lib/trend.ts';
import { settleAndCheck } from './lib/check.ts';
import { call, StatusTally } from './lib/http.ts';
import { rssMb, startExternalNats, startRoles } from './lib/procs.ts';
import type { ChaosResult, Scale } from './lib/result.ts';
import { scopedTempDir, Scope } from './lib/scope.ts';
import { Ledger, planRounds, publishRound, newPublishStats, seeded } from './lib/workload.ts';

const SIZES: Record<Scale['name'], { minutes: number; documents: number; perRound: number; roundMs: number; sampleMs: number }> = {
  full: { minutes: 10, documents: 2000, perRound: 20, roundMs: 100, sampleMs: 5000 },
  short: { minutes: 0.3, documents: 200, perRound: 10, roundMs: 100, sampleMs: 2000 },
};

interface Sample {
  /** Seconds since the soak started. */
  readonly t: number;
  readonly rssMb: Record<string, number>;
  /** Messages not yet handled by the processors' durable consumers (pending + unacknowledged). */
  readonly processorLag: number;
  /** Messages the serving projection has still to apply (from /readyz). */
  readonly projectionLag: number;
}

async function processorLag(handle: NatsHandle): Promise<number> {
  let lag = 0;
  for (const stream of [STREAMS.DOCUMENTS, STREAMS.CHUNKS]) {
    for (const c of await listConsumers(handle, stream)) if (c.config.durable_name) lag += c.num_pending + c.num_ack_pending;
  }
  return lag;
}

export async function soakScenario(scale: Scale): Promise<ChaosResult> {
  const size = SIZES[scale.name];
  const minutes = Number(process.env.SPANDA_CHAOS_SOAK_MINUTES ?? size.minutes);
  const scope = new Scope();
  const failures: string[] = [];
  try {
    const nats = await startExternalNats(scope, await scopedTempDir(scope, 'spanda-chaos-soak-nats-'));
    const processors = await startRoles(scope, ['chunker', 'embedder'], nats.url, await scopedTempDir(scope, 'spanda-chaos-soak-proc-'));
    const projector = await startRoles(scope, ['projector'], nats.url, await scopedTempDir(scope, 'spanda-chaos-soak-projector-'));
    const api = await startRoles(scope, ['api'], nats.url, await scopedTempDir(scope, 'spanda-chaos-soak-api-'));
    const handle = await connectNats({ url: nats.url, name: 'spanda-chaos-soak', connectTimeoutMs: 10_000 });
    scope.add(() => handle.drain());
    const pids: Record<string, () => number> = { 'nats-server': () => nats.pid, 'chunker+embedder': () => processors.pid, projector: () => projector.pid, api: () => api.pid };

    // The set of documents first; then rounds over it for as long as the soak lasts.
    const random = seeded(scale.seed + 7);
    const ledger = new Ledger();
    const stats = newPublishStats();
    const rounds = planRounds(size.documents, Math.ceil((minutes * 60_000) / size.roundMs) + 10, size.perRound, random);
    const creates = Math.ceil(size.documents / 500);
    for (const ops of rounds.slice(0, creates)) await publishRound(() => api.api, ops, ledger, stats);
    note(`soak: ${size.documents} documents published; publishing and querying for ${minutes} min`);

    const started = Date.now();
    const endAt = started + minutes * 60_000;
    const samples: Sample[] = [];
    const queries = new StatusTally();
    const queryMs: number[] = [];
    let published = 0;
    const publisher = (async () => {
      for (let r = creates; r < rounds.length && Date.now() < endAt; r++) {
        const t0 = Date.now();
        await publishRound(() => api.api, rounds[r] ?? [], ledger, stats);
        published += rounds[r]?.length ?? 0;
        await sleep(Math.max(0, size.roundMs - (Date.now() - t0)));
      }
    })();
    const querier = (async () => {
      const words = ['tides', 'lichens', 'ciphers', 'kilns', 'comets', 'orchards', 'glaciers', 'looms'];
      for (let i = 0; Date.now() < endAt; i++) {
        const o = await call(api.api, 'POST', '/v1/query', { body: { query: `${words[i % words.length]} revision`, mode: 'hybrid', k: 10 }, timeoutMs: 30_000 });
        queries.record('POST /v1/query', o);
        if (o.status === 200) queryMs.push(o.ms);
        await sleep(40);
      }
    })();
    const sampler = (async () => {
      while (Date.now() < endAt) {
        const rss: Record<string, number> = {};
        for (const [name, pid] of Object.entries(pids)) rss[name] = (await rssMb(pid())) ?? Number.NaN;
        const ready = await call(api.api, 'GET', '/readyz', { timeoutMs: 10_000 });
        const sources = (ready.body as { projection?: { sources?: Array<{ pending: number }> } } | undefined)?.projection?.sources ?? [];
        samples.push({ t: round((Date.now() - started) / 1000, 1), rssMb: rss, processorLag: await processorLag(handle), projectionLag: sources.reduce((s, x) => s + x.pending, 0) });
        await sleep(size.sampleMs);
      }
    })();
    await Promise.all([publisher, querier, sampler]);
    note(`soak: ${published} operations published, ${queries.total} queries; checking every document`);
    const verdict = await settleAndCheck(api.api, ledger);

    // Memory is judged flat under 5 MB/min in the second half (allocator noise), lag under 50 messages/min.
    const rss = Object.fromEntries(Object.keys(pids).map((name) => [name, trend(samples.map((s) => [s.t, s.rssMb[name] ?? 0] as const), 5)]));
    const lag = {
      processors: trend(samples.map((s) => [s.t, s.processorLag] as const), 50),
      projection: trend(samples.map((s) => [s.t, s.projectionLag] as const), 50),
    };
    const judged = scale.name === 'full';
    for (const [name, t] of Object.entries({ ...Object.fromEntries(Object.entries(rss).map(([k, v]) => [`RSS of ${k}`, v])), 'processor lag': lag.processors, 'projection lag': lag.projection })) {
      if (!t.levelled && judged) failures.push(`${name} keeps growing: ${t.slopeFirstHalf}/min in the first half, ${t.slopeLastHalf}/min in the second`);
    }
    const alive = [processors, projector, api].every((p) => p.running && p.starts === 1) && nats.running;
    if (!alive) failures.push('a process died during the soak');
    if (queries.serverErrors + stats.tally.serverErrors > 0) failures.push(`${queries.serverErrors + stats.tally.serverErrors} answers 5xx: ${[...queries.examples, ...stats.tally.examples].slice(0, 3).join('; ')}`);
    if (verdict.lost + verdict.duplicated + verdict.resurrected > 0) failures.push(`${verdict.lost} lost, ${verdict.duplicated} duplicated, ${verdict.resurrected} resurrected`);
    return {
      scenario: 'soak',
      description: `${minutes} min of publishing (updates/deletes over ${size.documents} documents) and hybrid queries together; RSS and lag every ${size.sampleMs / 1000} s`,
      faults: 0,
      events: ledger.events,
      lost: verdict.lost,
      duplicated: verdict.duplicated,
      resurrected: verdict.resurrected,
      http5xx: queries.serverErrors + stats.tally.serverErrors,
      figures: {
        minutes,
        operations: published,
        publishStatuses: stats.tally.counts,
        queries: queries.counts,
        queryMs: summarize(queryMs),
        rssMb: rss,
        lag,
        judged,
        samples,
      },
      failures,
    };
  } finally {
    await scope.close();
  }
}
