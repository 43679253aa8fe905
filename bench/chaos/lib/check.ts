// The independent check after a chaos run: every acknowledged final state asked of the API (lost, duplicated, resurrected),
// the streams' counts compared, and `spanda verify` run as a user would.
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { NatsHandle } from '../../../streams/nats.ts';
import { STREAMS } from '../../../streams/provision.ts';
import { REPO_ROOT, note, sleep } from '../../lib/common.ts';
import { call } from './http.ts';
import { docToken, SOURCE, type Acked, type Ledger } from './workload.ts';

export interface Verdict {
  readonly checked: number;
  readonly live: number;
  readonly deleted: number;
  /** Live documents whose acknowledged version is not served (missing, older, not queryable, or without vectors). */
  readonly lost: number;
  /** Live documents that also show chunks of another version, or whose chunks and vectors disagree. */
  readonly duplicated: number;
  /** Deleted documents still served or queryable. */
  readonly resurrected: number;
  /** Documents with an operation never acknowledged (not checked). */
  readonly ambiguous: number;
  /** A few of the problems, to read. */
  readonly examples: string[];
}

interface DocState {
  seq: number | null;
  deleted: boolean;
  chunks: number;
  vectors: number;
}

async function checkOne(base: string, id: string, final: Acked): Promise<'ok' | 'lost' | 'duplicated' | 'resurrected' | string> {
  const got = await call(base, 'GET', `/v1/documents/${SOURCE}/${encodeURIComponent(id)}`, { timeoutMs: 30_000 });
  const q = await call(base, 'POST', '/v1/query', { body: { query: docToken(id), mode: 'keyword', k: 100, filter: { docId: id } }, timeoutMs: 30_000 });
  if ((got.status !== 200 && got.status !== 404) || q.status !== 200) return `error: GET ${got.status}, query ${q.status}`;
  const state = got.status === 200 ? (got.body as DocState) : undefined;
  const hits = (q.body as { results: Array<{ seq: number }> }).results;
  if (final.kind === 'delete') return (state && !state.deleted) || hits.length > 0 ? 'resurrected' : 'ok';
  if (hits.some((h) => h.seq !== final.seq) || (state && state.seq !== null && state.seq > final.seq)) return 'duplicated';
  if (!state || state.deleted || state.seq !== final.seq || state.chunks === 0 || !hits.some((h) => h.seq === final.seq)) return 'lost';
  if (state.vectors !== state.chunks) return state.vectors > state.chunks ? 'duplicated' : 'lost';
  return 'ok';
}

/** Asks the API about every document of the ledger (a GET of its state and a keyword query scoped to it). */
export async function checkDocuments(base: string, ledger: Ledger, concurrency = 8): Promise<Verdict> {
  const finals = [...ledger.finals()];
  const counts = { lost: 0, duplicated: 0, resurrected: 0, live: 0, deleted: 0 };
  const examples: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < finals.length) {
        const [id, final] = finals[next++] as [string, Acked];
        counts[final.kind === 'delete' ? 'deleted' : 'live']++;
        const verdict = await checkOne(base, id, final);
        if (verdict === 'ok') continue;
        const kind = verdict.startsWith('error') ? 'lost' : (verdict as 'lost' | 'duplicated' | 'resurrected');
        counts[kind]++;
        if (examples.length < 10) examples.push(`${id} (${final.kind} seq ${final.seq}): ${verdict}`);
      }
    }),
  );
  return { checked: finals.length, ...counts, ambiguous: ledger.ambiguous.size, examples };
}

/**
 * Waits until the node has applied everything (a read-your-writes query on the last sequence, then /readyz caught up),
 * then checks; a check with problems is repeated a few times in case the last vectors were still on their way.
 */
export async function settleAndCheck(base: string, ledger: Ledger, options: { timeoutMs?: number } = {}): Promise<Verdict & { appliedMs: number; settleMs: number }> {
  const started = Date.now();
  const deadline = started + (options.timeoutMs ?? 180_000);
  while (Date.now() < deadline) {
    const q = await call(base, 'POST', '/v1/query', { body: { query: 'settle', mode: 'keyword', k: 1, after_seq: Math.max(1, ledger.maxSeq), timeout_ms: 10_000 }, timeoutMs: 20_000 });
    if (q.status === 200) break;
    await sleep(500);
  }
  while (Date.now() < deadline) {
    const ready = await call(base, 'GET', '/readyz', { timeoutMs: 10_000 });
    if ((ready.body as { projection?: { caughtUp?: boolean } } | undefined)?.projection?.caughtUp) break;
    await sleep(500);
  }
  const appliedMs = Date.now() - started;
  note(`applied up to DOCUMENTS ${ledger.maxSeq} after ${appliedMs} ms; checking ${ledger.finals().size} documents`);
  let verdict = await checkDocuments(base, ledger);
  while (verdict.lost + verdict.duplicated + verdict.resurrected > 0 && Date.now() < deadline) {
    note(`check: ${verdict.lost} lost, ${verdict.duplicated} duplicated, ${verdict.resurrected} resurrected (${verdict.examples.slice(0, 2).join('; ')}); checking again`);
    await sleep(3000);
    verdict = await checkDocuments(base, ledger);
  }
  return { ...verdict, appliedMs, settleMs: Date.now() - started };
}

export interface StreamCounts {
  readonly documents: number;
  readonly chunks: number;
  readonly embeddings: number;
  readonly dlq: number;
  /** CHUNKS events beyond one per DOCUMENTS event, and EMBEDDINGS beyond one per CHUNKS event (a processor's output stored twice). */
  readonly extraEvents: number;
  /** DOCUMENTS events with no CHUNKS event, and CHUNKS events with no EMBEDDINGS event, once everything settled. */
  readonly missingEvents: number;
}

/** Message counts of the streams; with documents under one chunk and one model, each stage writes one event per input. */
export async function streamCounts(handle: NatsHandle): Promise<StreamCounts> {
  const count = async (stream: string) => (await handle.jsm.streams.info(stream)).state.messages;
  const [documents, chunks, embeddings, dlq] = await Promise.all([count(STREAMS.DOCUMENTS), count(STREAMS.CHUNKS), count(STREAMS.EMBEDDINGS), count(STREAMS.DLQ)]);
  return {
    documents,
    chunks,
    embeddings,
    dlq,
    extraEvents: Math.max(0, chunks - documents) + Math.max(0, embeddings - chunks),
    missingEvents: Math.max(0, documents - chunks) + Math.max(0, chunks - embeddings),
  };
}

export interface VerifyOutcome {
  readonly code: number;
  readonly ok: boolean;
  readonly digest?: string;
  readonly logDigest?: string;
  readonly output: string;
}

/** `spanda verify --json` on a data dir, as a user runs it. */
export function spandaVerify(natsUrl: string, dataDir: string, timeoutMs = 180_000): Promise<VerifyOutcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'spanda.js'), 'verify', '--json', '--nats-url', natsUrl, '--data-dir', dataDir], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      let parsed: { ok?: boolean; digest?: string; logDigest?: string } = {};
      try {
        parsed = JSON.parse(out.slice(out.indexOf('{'))) as typeof parsed;
      } catch {
        // not JSON: the output says why
      }
      resolve({ code: code ?? -1, ok: code === 0 && parsed.ok === true, ...(parsed.digest ? { digest: parsed.digest } : {}), ...(parsed.logDigest ? { logDigest: parsed.logDigest } : {}), output: out.slice(-2000) });
    });
  });
}
