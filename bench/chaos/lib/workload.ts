// The chaos workload: seeded documents with versions, deletes and re-creations, published over HTTP the way a careful client does
// (retrying on 503 after Retry-After, on a refused connection while a node restarts), and a ledger of what was acknowledged.
import { call, StatusTally, type HttpOutcome } from './http.ts';

/** A small seeded PRNG (mulberry32): the same seed gives the same documents, operations and kill moments. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const SOURCE = 'api';

/** A word found only in this document's chunks (every version), so a keyword query names exactly its chunks. */
export const docToken = (id: string): string => `chaosdoc${id.replace(/[^a-z0-9]/gi, '')}`;

const TOPICS = ['tides', 'lichens', 'ciphers', 'kilns', 'comets', 'orchards', 'glaciers', 'looms'];

/** Text of one version: under one chunk (the chunker's default size is 800 characters), different for every version. */
export function docText(id: string, version: number): string {
  const topic = TOPICS[(id.length + version) % TOPICS.length] as string;
  return `${docToken(id)} version ${version} is about ${topic}. Revision marker rev${version}x${docToken(id)}. ${'Filler prose for the chunker. '.repeat(6)}`;
}

export type OpKind = 'upsert' | 'delete';

export interface Op {
  readonly id: string;
  readonly kind: OpKind;
  /** The version an upsert writes (0 for a delete). */
  readonly version: number;
}

export interface Acked extends Op {
  readonly seq: number;
}

/** What the server acknowledged (202 with a sequence), per document in the order the client sent it. */
export class Ledger {
  private readonly acked = new Map<string, Acked[]>();
  /** Documents with an operation never acknowledged (deadline passed): their final state is unknown, so checks skip them. */
  readonly ambiguous = new Set<string>();
  events = 0;

  record(op: Op, seq: number): void {
    const list = this.acked.get(op.id) ?? [];
    list.push({ ...op, seq });
    this.acked.set(op.id, list);
    this.events++;
  }

  /** Each document's last acknowledged operation. */
  finals(): Map<string, Acked> {
    const out = new Map<string, Acked>();
    for (const [id, list] of this.acked) if (!this.ambiguous.has(id) && list.length > 0) out.set(id, list.at(-1) as Acked);
    return out;
  }

  get maxSeq(): number {
    let max = 0;
    for (const list of this.acked.values()) for (const a of list) max = Math.max(max, a.seq);
    return max;
  }
}

/**
 * The operations of one run: every document created, then rounds in which random documents are updated, deleted or
 * (when deleted) created again. A document appears at most once per round, so its operations stay in order.
 */
export function planRounds(documents: number, updateRounds: number, perRound: number, random: () => number): Op[][] {
  const ids = Array.from({ length: documents }, (_, i) => `c${String(i).padStart(5, '0')}`);
  const version = new Map(ids.map((id) => [id, 1]));
  const live = new Set(ids);
  const rounds: Op[][] = [];
  const create = ids.map((id) => ({ id, kind: 'upsert' as const, version: 1 }));
  for (let i = 0; i < create.length; i += 500) rounds.push(create.slice(i, i + 500));
  for (let r = 0; r < updateRounds; r++) {
    const picked = new Set<string>();
    while (picked.size < Math.min(perRound, documents)) picked.add(ids[Math.floor(random() * ids.length)] as string);
    rounds.push(
      [...picked].map((id) => {
        if (!live.has(id)) {
          live.add(id);
          const v = (version.get(id) ?? 0) + 1;
          version.set(id, v);
          return { id, kind: 'upsert', version: v };
        }
        if (random() < 0.3) {
          live.delete(id);
          return { id, kind: 'delete', version: 0 };
        }
        const v = (version.get(id) ?? 0) + 1;
        version.set(id, v);
        return { id, kind: 'upsert', version: v };
      }),
    );
  }
  return rounds;
}

export interface PublishOptions {
  /** Give up on an operation after this long (it is then ambiguous). */
  readonly deadlineMs?: number;
  readonly concurrency?: number;
}

const retryAfterMs = (o: HttpOutcome): number => {
  const seconds = Number(o.headers?.get('retry-after'));
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 5) * 1000 : 500;
};

/** Retries one request until it is answered 2xx or 4xx (or the deadline passes); every answer is tallied. */
async function untilAnswered(label: string, attempt: () => Promise<HttpOutcome>, tally: StatusTally, deadline: number, missingRetryAfter: { count: number }): Promise<HttpOutcome | undefined> {
  for (;;) {
    const o = await attempt();
    tally.record(label, o);
    if (o.status >= 200 && o.status < 500) return o;
    if (o.status === 503 && !o.headers?.get('retry-after')) missingRetryAfter.count++;
    if (Date.now() > deadline) return undefined;
    await new Promise((r) => setTimeout(r, o.status === 503 ? retryAfterMs(o) : 300));
  }
}

export interface PublishStats {
  readonly tally: StatusTally;
  /** 503 answers without a Retry-After header. */
  readonly missingRetryAfter: { count: number };
  /** Operations refused with a 4xx (a client bug or a server one: none expected). */
  readonly refused: string[];
}

export const newPublishStats = (): PublishStats => ({ tally: new StatusTally(), missingRetryAfter: { count: 0 }, refused: [] });

/** Publishes one round: the upserts as one batch, the deletes one by one; records every acknowledgement in the ledger. */
export async function publishRound(base: () => string, ops: readonly Op[], ledger: Ledger, stats: PublishStats, options: PublishOptions = {}): Promise<void> {
  const deadline = Date.now() + (options.deadlineMs ?? 180_000);
  const upserts = ops.filter((o) => o.kind === 'upsert');
  const deletes = ops.filter((o) => o.kind === 'delete');
  const documents = upserts.map((o) => ({ id: o.id, text: docText(o.id, o.version), metadata: { version: o.version } }));
  const tasks: Array<() => Promise<void>> = [];
  if (upserts.length > 0) {
    tasks.push(async () => {
      const o = await untilAnswered('POST /v1/documents', () => call(base(), 'POST', '/v1/documents', { body: { documents }, timeoutMs: 60_000 }), stats.tally, deadline, stats.missingRetryAfter);
      if (!o) return void upserts.forEach((u) => ledger.ambiguous.add(u.id));
      if (o.status !== 202) {
        stats.refused.push(`POST /v1/documents → ${o.status}: ${JSON.stringify(o.body).slice(0, 300)}`);
        return void upserts.forEach((u) => ledger.ambiguous.add(u.id));
      }
      const accepted = (o.body as { accepted: Array<{ id: string; seq: number }> }).accepted;
      const seqOf = new Map(accepted.map((a) => [a.id, a.seq]));
      for (const u of upserts) {
        const seq = seqOf.get(u.id);
        if (seq === undefined) ledger.ambiguous.add(u.id);
        else ledger.record(u, seq);
      }
    });
  }
  for (const d of deletes) {
    tasks.push(async () => {
      const route = `/v1/documents/${SOURCE}/${encodeURIComponent(d.id)}`;
      const o = await untilAnswered('DELETE /v1/documents/:source/:id', () => call(base(), 'DELETE', route, { timeoutMs: 30_000 }), stats.tally, deadline, stats.missingRetryAfter);
      if (!o || o.status !== 202) {
        if (o) stats.refused.push(`DELETE ${route} → ${o.status}: ${JSON.stringify(o.body).slice(0, 300)}`);
        return void ledger.ambiguous.add(d.id);
      }
      ledger.record(d, (o.body as { seq: number }).seq);
    });
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(options.concurrency ?? 8, tasks.length) }, async () => {
      while (next < tasks.length) await (tasks[next++] as () => Promise<void>)();
    }),
  );
}
