// Storage limits: DOCUMENTS at its max_msgs, then at its max_bytes (discard new), then CHUNKS full downstream of an
// accepted publish. A refused publish must say which limit (a problem naming it, never a generic 500); nothing
// acknowledged is lost, and once the limit is raised everything acknowledged becomes queryable without help.
import { DiscardPolicy } from '@nats-io/jetstream';
import { readDlq } from '../../streams/dlq.ts';
import { listConsumers } from '../../streams/consumer-list.ts';
import { connectNats, type NatsHandle } from '../../streams/nats.ts';
import { STREAMS } from '../../streams/provision.ts';
import { note, sleep } from '../lib/common.ts';
import { settleAndCheck, type Verdict } from './lib/check.ts';
import { call, StatusTally, type HttpOutcome } from './lib/http.ts';
import { startExternalNats, startRoles } from './lib/procs.ts';
import type { ChaosResult, Scale } from './lib/result.ts';
import { scopedTempDir, Scope } from './lib/scope.ts';
import { docText, Ledger } from './lib/workload.ts';

/** The status a publish refused for a full stream must get (507 Insufficient Storage), and what its detail must name. */
export const LIMIT_STATUS = 507;
const NAMES_LIMIT = /maximum (messages|bytes)/;

interface Refusal {
  readonly limit: string;
  readonly route: string;
  readonly status: number;
  readonly type?: string;
  readonly detail?: string;
  readonly retryAfter?: string | null;
}

const SIZES: Record<Scale['name'], { before: number; attempts: number; downstream: number }> = {
  full: { before: 200, attempts: 40, downstream: 100 },
  short: { before: 20, attempts: 6, downstream: 20 },
};

async function setLimits(handle: NatsHandle, stream: string, limits: { max_msgs?: number; max_bytes?: number }): Promise<void> {
  await handle.jsm.streams.update(stream, { ...limits, discard: DiscardPolicy.New });
}

export async function limitsScenario(scale: Scale): Promise<ChaosResult> {
  const size = SIZES[scale.name];
  const scope = new Scope();
  const tally = new StatusTally();
  const ledger = new Ledger();
  const refusals: Refusal[] = [];
  const failures: string[] = [];
  let n = 0;
  const nextDoc = () => {
    const id = `l${String(n++).padStart(5, '0')}`;
    return { id, text: docText(id, 1) };
  };
  const acknowledge = (o: HttpOutcome) => {
    for (const a of (o.body as { accepted: Array<{ id: string; seq: number }> }).accepted) ledger.record({ id: a.id, kind: 'upsert', version: 1 }, a.seq);
  };
  /** Publishes `docs` as one request; returns the refused documents (to re-send once the limit is raised). */
  const publish = async (limit: string, docs: Array<{ id: string; text: string }>): Promise<Array<{ id: string; text: string }>> => {
    const o = await call(api, 'POST', '/v1/documents', { body: docs.length === 1 ? docs[0] : { documents: docs }, timeoutMs: 30_000 });
    tally.record('POST /v1/documents', o);
    if (o.status === 202) {
      acknowledge(o);
      return [];
    }
    const p = (o.body ?? {}) as { type?: string; detail?: string };
    refusals.push({ limit, route: 'POST /v1/documents', status: o.status, ...(p.type ? { type: p.type } : {}), ...(p.detail ? { detail: p.detail } : {}), retryAfter: o.headers?.get('retry-after') ?? null });
    return docs;
  };
  let api = '';
  let dlqEntries = 0;
  let downstreamPendingWhileFull = 0;
  let verdict: Verdict | undefined;
  try {
    const nats = await startExternalNats(scope, await scopedTempDir(scope, 'spanda-chaos-limits-nats-'));
    const node = await startRoles(scope, ['chunker', 'embedder', 'projector', 'api'], nats.url, await scopedTempDir(scope, 'spanda-chaos-limits-node-'));
    api = node.api;
    const handle = await connectNats({ url: nats.url, name: 'spanda-chaos-limits', connectTimeoutMs: 10_000 });
    scope.add(() => handle.drain());

    for (let i = 0; i < size.before; i += 10) await publish('none', Array.from({ length: 10 }, nextDoc));
    const documents = async () => (await handle.jsm.streams.info(STREAMS.DOCUMENTS)).state;

    // 1. DOCUMENTS at max_msgs: singles and batches until refused, a delete, an NDJSON upload.
    const refusedDocs: Array<{ id: string; text: string }> = [];
    await setLimits(handle, STREAMS.DOCUMENTS, { max_msgs: (await documents()).messages + 5 });
    note(`limits: DOCUMENTS max_msgs set to ${(await documents()).messages + 5} (discard new)`);
    for (let i = 0; i < size.attempts; i++) refusedDocs.push(...(await publish('DOCUMENTS max_msgs', i % 2 === 0 ? [nextDoc()] : Array.from({ length: 5 }, nextDoc))));
    const del = await call(api, 'DELETE', '/v1/documents/api/l00000', { timeoutMs: 30_000 });
    tally.record('DELETE /v1/documents/:source/:id', del);
    if (del.status === 202) ledger.record({ id: 'l00000', kind: 'delete', version: 0 }, (del.body as { seq: number }).seq);
    else refusals.push({ limit: 'DOCUMENTS max_msgs', route: 'DELETE /v1/documents/:source/:id', status: del.status, ...((del.body as { type?: string; detail?: string }) ?? {}), retryAfter: del.headers?.get('retry-after') ?? null });
    const ndjsonDoc = nextDoc();
    const nd = await call(api, 'POST', '/v1/documents', { raw: `${JSON.stringify(ndjsonDoc)}\n`, headers: { 'content-type': 'application/x-ndjson' }, timeoutMs: 30_000 });
    tally.record('POST /v1/documents (NDJSON)', nd);
    const line = typeof nd.body === 'string' ? (JSON.parse(nd.body.trim().split('\n')[0] ?? '{}') as { seq?: number; error?: { status: number; type: string; detail: string } }) : (nd.body as { seq?: number; error?: { status: number; type: string; detail: string } });
    if (line?.seq !== undefined) ledger.record({ id: ndjsonDoc.id, kind: 'upsert', version: 1 }, line.seq);
    else {
      refusedDocs.push(ndjsonDoc);
      if (line?.error) refusals.push({ limit: 'DOCUMENTS max_msgs', route: 'POST /v1/documents (NDJSON line)', status: line.error.status, type: line.error.type, detail: line.error.detail });
    }

    // 2. DOCUMENTS at max_bytes instead.
    await setLimits(handle, STREAMS.DOCUMENTS, { max_msgs: -1, max_bytes: (await documents()).bytes + 4096 });
    for (let i = 0; i < size.attempts; i++) refusedDocs.push(...(await publish('DOCUMENTS max_bytes', [nextDoc()])));

    // Raised again: everything refused is accepted when re-sent.
    await setLimits(handle, STREAMS.DOCUMENTS, { max_msgs: -1, max_bytes: -1 });
    for (let i = 0; i < refusedDocs.length; i += 50) {
      const left = await publish('none (raised)', refusedDocs.slice(i, i + 50));
      if (left.length > 0) failures.push(`${left.length} documents still refused after the limit was raised`);
    }

    // 3. CHUNKS full downstream: publishing is accepted (DOCUMENTS has room); the chunker cannot store its output and
    // retries it (never dead-letters it); raising the limit lets it through.
    await sleep(1000);
    await setLimits(handle, STREAMS.CHUNKS, { max_msgs: (await handle.jsm.streams.info(STREAMS.CHUNKS)).state.messages + 3 });
    for (let i = 0; i < size.downstream; i += 10) await publish('CHUNKS max_msgs (downstream)', Array.from({ length: 10 }, nextDoc));
    await sleep(scale.name === 'full' ? 15_000 : 4000);
    for (const c of await listConsumers(handle, STREAMS.DOCUMENTS)) downstreamPendingWhileFull += c.num_pending + c.num_ack_pending;
    dlqEntries = (await readDlq(handle)).length;
    await setLimits(handle, STREAMS.CHUNKS, { max_msgs: -1 });
  } finally {
    // The check needs the node: run it before the scope closes.
    try {
      if (api !== '') {
        verdict = await settleAndCheck(api, ledger, { timeoutMs: 240_000 });
        if (verdict.lost + verdict.duplicated + verdict.resurrected > 0) failures.push(`${verdict.lost} lost, ${verdict.duplicated} duplicated, ${verdict.resurrected} resurrected (${verdict.examples.slice(0, 3).join('; ')})`);
      }
    } finally {
      await scope.close();
    }
  }
  const unclear = refusals.filter((r) => r.limit !== 'none' && (r.status !== LIMIT_STATUS || !NAMES_LIMIT.test(r.detail ?? '')));
  if (refusals.length === 0) failures.push('no publish was refused: the limits were never reached');
  if (unclear.length > 0) failures.push(`${unclear.length} refusals without a ${LIMIT_STATUS} problem naming the limit (e.g. ${JSON.stringify(unclear[0])})`);
  if (dlqEntries > 0) failures.push(`${dlqEntries} events dead-lettered while CHUNKS was full (a full stream must be retried, not dead-lettered)`);
  const http5xx = tally.count((s) => s >= 500 && s !== LIMIT_STATUS && s !== 503);
  if (http5xx > 0) failures.push(`${http5xx} answers 5xx other than ${LIMIT_STATUS}: ${tally.examples.slice(0, 3).join('; ')}`);
  return {
    scenario: 'limits',
    description: 'DOCUMENTS at max_msgs, then max_bytes (discard new): publishes refused, re-sent once raised; CHUNKS full downstream of accepted publishes',
    faults: refusals.length + 1,
    events: ledger.events,
    lost: verdict?.lost ?? Number.NaN,
    duplicated: verdict?.duplicated ?? Number.NaN,
    resurrected: verdict?.resurrected ?? Number.NaN,
    http5xx,
    figures: {
      statuses: tally.counts,
      refusals: refusals.length,
      refusalExamples: [...new Map(refusals.map((r) => [`${r.limit} ${r.route}`, r])).values()],
      chunksFull: { pendingOnDocumentsConsumers: downstreamPendingWhileFull, dlqEntries },
      verdict,
    },
    failures,
  };
}
