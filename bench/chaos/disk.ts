// Disk full: `spanda up` (its nats-server child and SQLite projections on one small tmpfs) publishing until the disk
// is full, then the space freed. Publishing must fail with 503/507 (never 500 or a hang), queries keep being answered,
// /readyz says why, and once space is freed everything acknowledged becomes queryable with no restart and no help.
import { spawnSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { diskSpace } from '../../lib/disk-space.ts';
import { freePort } from '../../streams/server.ts';
import { note, sleep } from '../lib/common.ts';
import { settleAndCheck, spandaVerify, type Verdict, type VerifyOutcome } from './lib/check.ts';
import { call, StatusTally } from './lib/http.ts';
import { startUp } from './lib/procs.ts';
import type { ChaosResult, Scale } from './lib/result.ts';
import { scopedTempDir, Scope } from './lib/scope.ts';
import { docText, Ledger } from './lib/workload.ts';

const SIZES: Record<Scale['name'], { diskMb: number; roomMb: number; batch: number }> = {
  full: { diskMb: 96, roomMb: 12, batch: 50 },
  short: { diskMb: 64, roomMb: 6, batch: 25 },
};

/** Why a tmpfs cannot be mounted here (not root, no mount(8)), or undefined when it can. */
function cannotMount(dir: string): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to mount a small tmpfs (a disk that can fill up without filling the machine)';
  const probe = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { encoding: 'utf8' });
  if (probe.status !== 0) return `cannot mount a tmpfs here: ${(probe.stderr || probe.error?.message || '').trim()}`;
  spawnSync('umount', [dir]);
  return undefined;
}

const readyz = async (api: string) => (await call(api, 'GET', '/readyz', { timeoutMs: 10_000 })).body as { status?: string; checks?: Record<string, { ok: boolean; detail?: string }> } | undefined;

export async function diskScenario(scale: Scale): Promise<ChaosResult> {
  const size = SIZES[scale.name];
  const scope = new Scope();
  const tally = new StatusTally();
  const ledger = new Ledger();
  const failures: string[] = [];
  const refusedIds: string[] = [];
  let n = 0;
  const nextDoc = () => {
    const id = `d${String(n++).padStart(6, '0')}`;
    return { id, text: docText(id, 1) };
  };
  const figures: Record<string, unknown> = { diskMb: size.diskMb, freeBeforeFillMb: size.roomMb };
  let verdict: (Verdict & { appliedMs: number }) | undefined;
  let verify: VerifyOutcome | undefined;
  let queriesWhileFull = { answered: 0, failed: 0 };
  let faults = 0;
  const mountDir = await scopedTempDir(scope, 'spanda-chaos-disk-');
  const skipped = cannotMount(mountDir);
  if (skipped !== undefined) {
    await scope.close();
    note(`disk: skipped: ${skipped}`);
    return { scenario: 'disk', description: 'skipped', skipped, faults: 0, events: 0, lost: 0, duplicated: 0, resurrected: 0, http5xx: 0, figures: {}, failures: [] };
  }
  try {
    spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size.diskMb}m`, 'tmpfs', mountDir]);
    scope.add(() => void spawnSync('umount', ['-l', mountDir]));
    const dataDir = path.join(mountDir, 'data');
    await mkdir(dataDir, { recursive: true });
    const natsPort = await freePort();
    const node = await startUp(scope, 'disk', dataDir, { natsPort });
    const api = node.api;

    // Another program fills the disk but for `roomMb`; the node then fills the rest with its own writes.
    const filler = path.join(mountDir, 'filler');
    const free = () => (diskSpace(mountDir)?.free ?? 0) / 2 ** 20;
    await writeFile(filler, Buffer.alloc(Math.max(0, Math.floor((free() - size.roomMb) * 2 ** 20))));
    note(`disk: ${size.diskMb} MB tmpfs, ${free().toFixed(1)} MB left for the node`);
    let refusedInARow = 0;
    const started = Date.now();
    while (refusedInARow < 3 && Date.now() - started < 240_000) {
      const docs = Array.from({ length: size.batch }, nextDoc);
      const o = await call(api, 'POST', '/v1/documents', { body: { documents: docs }, timeoutMs: 60_000 });
      tally.record('POST /v1/documents', o);
      if (o.status === 202) {
        refusedInARow = 0;
        for (const a of (o.body as { accepted: Array<{ id: string; seq: number }> }).accepted) ledger.record({ id: a.id, kind: 'upsert', version: 1 }, a.seq);
      } else {
        refusedInARow++;
        faults++;
        // A 503 for an unconfirmed publish may still have stored it: those documents are neither promised nor checked.
        for (const d of docs) {
          refusedIds.push(d.id);
          ledger.ambiguous.add(d.id);
        }
        figures.firstRefusal ??= { status: o.status, detail: (o.body as { detail?: string } | undefined)?.detail, retryAfter: o.headers?.get('retry-after') ?? null, afterMs: Date.now() - started };
      }
    }
    figures.fillMs = Date.now() - started;
    figures.acknowledgedBeforeFull = ledger.events;
    note(`disk: full after ${ledger.events} acknowledged documents (${refusedInARow} publishes refused in a row)`);

    // While it is full: queries are answered from the store, and /readyz says what is wrong.
    const fullSince = Date.now();
    let notReady: Record<string, { ok: boolean; detail?: string }> | undefined;
    while (Date.now() - fullSince < 90_000) {
      const q = await call(api, 'POST', '/v1/query', { body: { query: 'tides lichens', k: 3 }, timeoutMs: 30_000 });
      tally.record('POST /v1/query', q);
      queriesWhileFull = q.status === 200 ? { ...queriesWhileFull, answered: queriesWhileFull.answered + 1 } : { ...queriesWhileFull, failed: queriesWhileFull.failed + 1 };
      const r = await readyz(api);
      if (r?.status === 'not-ready' && r.checks?.nats?.ok === false && Date.now() - fullSince >= 10_000) {
        notReady = r.checks;
        break;
      }
      notReady = r?.checks;
      await sleep(500);
    }
    figures.readyzWhileFull = notReady;
    figures.queriesWhileFull = queriesWhileFull;

    // Space is freed: no restart, no command; publishing works again and everything acknowledged gets indexed.
    await rm(filler);
    const freedAt = Date.now();
    note(`disk: freed; ${free().toFixed(1)} MB free`);
    let publishAgainMs: number | undefined;
    while (Date.now() - freedAt < 240_000) {
      const doc = nextDoc();
      const o = await call(api, 'POST', '/v1/documents', { body: { documents: [doc] }, timeoutMs: 60_000 });
      tally.record('POST /v1/documents', o);
      const seq = o.status === 202 ? (o.body as { accepted: Array<{ seq: number }> }).accepted[0]?.seq : undefined;
      if (seq !== undefined) {
        ledger.record({ id: doc.id, kind: 'upsert', version: 1 }, seq);
        publishAgainMs = Date.now() - freedAt;
        break;
      }
      ledger.ambiguous.add(doc.id);
      await sleep(2000);
    }
    figures.publishAgainMsAfterFreed = publishAgainMs;
    if (publishAgainMs === undefined) failures.push('publishing did not work again within 4 minutes of freeing space');
    // The refused documents, sent again as a client would (their ids were ambiguous: now acknowledged or not).
    for (let i = 0; i < refusedIds.length; i += size.batch) {
      const docs = refusedIds.slice(i, i + size.batch).map((id) => ({ id, text: docText(id, 1) }));
      const o = await call(api, 'POST', '/v1/documents', { body: { documents: docs }, timeoutMs: 60_000 });
      tally.record('POST /v1/documents', o);
      if (o.status !== 202) continue;
      for (const a of (o.body as { accepted: Array<{ id: string; seq: number }> }).accepted) {
        ledger.ambiguous.delete(a.id);
        ledger.record({ id: a.id, kind: 'upsert', version: 1 }, a.seq);
      }
    }
    verdict = await settleAndCheck(api, ledger, { timeoutMs: 300_000 });
    figures.indexedMsAfterFreed = Date.now() - freedAt;
    if (verdict.lost + verdict.duplicated + verdict.resurrected > 0) failures.push(`${verdict.lost} lost, ${verdict.duplicated} duplicated, ${verdict.resurrected} resurrected (${verdict.examples.slice(0, 3).join('; ')})`);
    verify = await spandaVerify(`nats://127.0.0.1:${natsPort}`, dataDir);
    if (!verify.ok) failures.push(`spanda verify: ${verify.output.slice(-300)}`);
    if (!node.running) failures.push('spanda up exited while the disk was full');
    figures.nodeRestarts = node.starts - 1;
    const log = node.output();
    figures.natsServerRestarted = /restarting nats-server/.test(log);
  } finally {
    await scope.close();
  }
  const http5xx = tally.count((s) => s >= 500 && s !== 503 && s !== 507);
  if (http5xx > 0) failures.push(`${http5xx} answers 5xx other than 503/507: ${tally.examples.slice(0, 3).join('; ')}`);
  const hangs = tally.count((s) => s <= 0);
  if (hangs > 0) failures.push(`${hangs} requests without an answer (timeout or connection failure): ${tally.examples.slice(0, 3).join('; ')}`);
  if (faults === 0) failures.push('no publish was refused: the disk never filled');
  if (queriesWhileFull.failed > 0) failures.push(`${queriesWhileFull.failed} queries failed while the disk was full`);
  return {
    scenario: 'disk',
    description: '`spanda up` on a small tmpfs filled by another program, then freed: publishes refused while full, nothing acknowledged lost, recovery with no restart',
    faults,
    events: ledger.events,
    lost: verdict?.lost ?? Number.NaN,
    duplicated: verdict?.duplicated ?? Number.NaN,
    resurrected: verdict?.resurrected ?? Number.NaN,
    http5xx,
    figures: { ...figures, statuses: tally.counts, verdict, verify: verify ? { ok: verify.ok, digest: verify.digest } : undefined },
    failures,
  };
}
