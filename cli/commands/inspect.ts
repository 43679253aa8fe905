// spanda inspect: stream and consumer state (with lag; by tenant in inspect-backlog.ts) and decoded events of a subject — a stand-in for the NATS CLI.
import { DeliverPolicy, type JsMsg } from '@nats-io/jetstream';
import { errorMessage } from '../../lib/errors.ts';
import { decodeEvent } from '../../streams/codec.ts';
import { listConsumers } from '../../streams/consumer-list.ts';
import type { NatsHandle } from '../../streams/nats.ts';
import { readOnce } from '../../streams/ordered.ts';
import { DLQ_HEADER } from '../../processors/runner.ts';
import { connectFrom, stringFlag } from '../env.ts';
import type { Command, CommandContext } from '../main.ts';
import { humanBytes } from '../../lib/bytes.ts';
import { UsageError, printJson, printTable } from '../output.ts';
import { backlogByTenant, type ConsumerBacklog } from './inspect-backlog.ts';

export interface StreamSummary {
  readonly name: string;
  readonly messages: number;
  readonly bytes: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly consumers: number;
}

export async function streamSummaries(handle: NatsHandle): Promise<StreamSummary[]> {
  const out: StreamSummary[] = [];
  for await (const info of handle.jsm.streams.list()) {
    out.push({
      name: info.config.name,
      messages: info.state.messages,
      bytes: info.state.bytes,
      firstSeq: info.state.first_seq,
      lastSeq: info.state.last_seq,
      consumers: info.state.consumer_count,
    });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

export interface ConsumerSummary {
  readonly stream: string;
  readonly name: string;
  readonly filter: string;
  /** Messages not yet delivered plus delivered but unacknowledged: the work left. */
  readonly lag: number;
  readonly pending: number;
  readonly ackPending: number;
  readonly redelivered: number;
  readonly deliveredSeq: number;
  readonly ackFloorSeq: number;
}

export async function consumerSummaries(handle: NatsHandle, stream?: string): Promise<ConsumerSummary[]> {
  const all = (await streamSummaries(handle)).map((s) => s.name);
  if (stream !== undefined && !all.includes(stream)) throw new UsageError(`no stream ${JSON.stringify(stream)}; the streams are ${all.join(', ') || 'none yet (they appear once spanda up has run)'}`);
  const streams = stream !== undefined ? [stream] : all;
  const out: ConsumerSummary[] = [];
  for (const name of streams) {
    for (const c of await listConsumers(handle, name)) {
      if (!c.config.durable_name) continue; // ordered consumers of running projectors are ephemeral
      out.push({
        stream: name,
        name: c.name,
        filter: c.config.filter_subject ?? (c.config.filter_subjects ?? []).join(',') ?? '',
        lag: c.num_pending + c.num_ack_pending,
        pending: c.num_pending,
        ackPending: c.num_ack_pending,
        redelivered: c.num_redelivered,
        deliveredSeq: c.delivered.stream_seq,
        ackFloorSeq: c.ack_floor.stream_seq,
      });
    }
  }
  return out;
}

export interface InspectedEvent {
  readonly stream: string;
  readonly seq: number;
  readonly subject: string;
  readonly time: string;
  readonly type: string | null;
  readonly headers: Record<string, string>;
  readonly data: unknown;
  readonly error?: string;
}

function summarizeVectors(data: unknown, full: boolean): unknown {
  if (full || data === null || typeof data !== 'object' || !('vectors' in data)) return data;
  const d = data as { vectors: Array<{ vector: string }>; model?: { dims?: number } };
  return { ...d, vectors: d.vectors.map((v) => ({ ...v, vector: `<base64 float32 × ${d.model?.dims ?? '?'}>` })) };
}

function inspected(msg: JsMsg, full: boolean): InspectedEvent {
  const headers: Record<string, string> = {};
  for (const [k, values] of msg.headers ?? []) headers[k] = values.join(', ');
  const base = { stream: msg.info.stream, seq: msg.seq, subject: msg.subject, time: new Date(msg.info.timestampNanos / 1e6).toISOString(), headers };
  try {
    const event = decodeEvent({ subject: msg.subject, data: msg.data, headers: msg.headers }, { stream: msg.info.stream, seq: msg.seq });
    return { ...base, type: event.type, data: summarizeVectors(event.data, full) };
  } catch (err) {
    let data: unknown;
    try {
      data = JSON.parse(new TextDecoder().decode(msg.data));
    } catch {
      data = new TextDecoder().decode(msg.data).slice(0, 2000);
    }
    return { ...base, type: msg.headers?.get('ce-type') || null, data: summarizeVectors(data, full), error: errorMessage(err) };
  }
}

/** A subject or a filter of wildcards: non-empty tokens without whitespace, '*' alone in its token, '>' alone and last. */
function isSubjectFilter(subject: string): boolean {
  const tokens = subject.split('.');
  return tokens.every((t, i) => t.length > 0 && !/[\s\u0000-\u001f]/u.test(t) && (t === '*' || t === '>' ? t !== '>' || i === tokens.length - 1 : !/[*>]/.test(t)));
}

/** Ordered-consumer options for the events on `subject` from `fromSeq` on. */
const subjectFrom = (subject: string, fromSeq: number) => ({ filter_subjects: subject, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: fromSeq });

async function matchingPending(handle: NatsHandle, stream: string, subject: string, fromSeq: number): Promise<number> {
  return readOnce(handle, stream, subjectFrom(subject, fromSeq), async (consumer) => (await consumer.info()).num_pending);
}

/** Reads the last `last` events on a subject (wildcards allowed), or those from `fromSeq` on, decoded. */
export async function readEvents(handle: NatsHandle, subject: string, options: { last?: number; fromSeq?: number; full?: boolean }): Promise<InspectedEvent[]> {
  if (!isSubjectFilter(subject)) {
    throw new UsageError(`${JSON.stringify(subject)} is not a subject: dot-separated tokens with no spaces, '*' for one token, '>' last for the rest (e.g. 'docs.default.>')`);
  }
  const stream = await handle.jsm.streams.find(subject).catch(() => {
    throw new UsageError(`no stream holds subject ${JSON.stringify(subject)}; subjects start with docs., chunks., embeddings., erasures., queries. or dlq.`);
  });
  const state = (await handle.jsm.streams.info(stream)).state;
  const limit = options.last ?? 10;
  let start = options.fromSeq ?? 0;
  if (options.fromSeq === undefined) {
    // Widen a window back from the head until it holds `limit` matching events, counting them without reading them.
    let window = Math.max(limit, 16);
    for (;;) {
      start = Math.max(state.first_seq, state.last_seq - window + 1);
      if (start <= state.first_seq || (await matchingPending(handle, stream, subject, start)) >= limit) break;
      window *= 4;
    }
  }
  const total = await matchingPending(handle, stream, subject, Math.max(1, start));
  const wanted = options.fromSeq === undefined ? total : Math.min(total, limit);
  if (wanted === 0) return [];
  // The count is a hint, not a promise: nats-server before 2.9.16 can count more pending messages than a filter with
  // wildcards matches, so the read also ends at the head it saw, when nothing is pending, or when a fetch comes back empty.
  const head = state.last_seq;
  const events = await readOnce(handle, stream, subjectFrom(subject, Math.max(1, start)), async (consumer) => {
    const read: InspectedEvent[] = [];
    for (let done = false; !done; ) {
      const batch = await consumer.fetch({ max_messages: Math.min(wanted - read.length, 256), expires: 2000 });
      let got = 0;
      for await (const msg of batch) {
        got += 1;
        read.push(inspected(msg, options.full === true));
        done = read.length >= wanted || msg.seq >= head || msg.info.pending === 0;
        if (done) break;
      }
      if (got === 0) done = true;
    }
    return read;
  });
  return options.fromSeq === undefined ? events.slice(-limit) : events;
}

function positiveInt(ctx: CommandContext, flag: string): number | undefined {
  const value = stringFlag(ctx, flag);
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${flag} must be a positive integer`);
  return n;
}

function printBacklog(rows: readonly ConsumerBacklog[]): void {
  if (rows.length === 0) {
    process.stdout.write('no durable consumer has a backlog: every stage is caught up\n');
    return;
  }
  printTable(
    rows.flatMap((r) =>
      r.tenants.map((t) => ({
        stream: r.stream,
        consumer: r.consumer,
        tenant: t.tenant,
        messages: t.messages,
        share: `${((100 * t.messages) / Math.max(1, r.counted)).toFixed(1)}%`,
      })),
    ),
  );
  for (const r of rows.filter((x) => x.truncated)) process.stdout.write(`${r.stream}/${r.consumer}: counted the oldest ${r.counted} of its backlog (--max)\n`);
}

export const inspectCommand: Command = {
  usage: 'spanda inspect streams | consumers [STREAM] | backlog [STREAM] [--max N] | events <subject> [--last 10] [--from SEQ] [--full] [--nats-url URL] [--json]',
  options: {
    last: { type: 'string' },
    from: { type: 'string' },
    full: { type: 'boolean' },
    max: { type: 'string' },
  },
  async run(ctx) {
    const [what, arg] = ctx.args;
    if (what !== 'streams' && what !== 'consumers' && what !== 'backlog' && what !== 'events') throw new UsageError(`usage: ${this.usage}`);
    if (what === 'events' && !arg) throw new UsageError(`give a subject, e.g. spanda inspect events 'docs.>'\nusage: ${this.usage}`);
    const json = ctx.values.json === true;
    const handle = await connectFrom(ctx);
    try {
      if (what === 'streams') {
        const rows = await streamSummaries(handle);
        if (json) printJson(rows);
        else printTable(rows.map((r) => ({ ...r, bytes: humanBytes(r.bytes) })));
      } else if (what === 'backlog') {
        const max = positiveInt(ctx, 'max');
        const rows = await backlogByTenant(handle, await consumerSummaries(handle, arg), max, (consumer, counted, of) =>
          process.stderr.write(`counting ${consumer}: ${counted.toLocaleString('en-US')} of ${of.toLocaleString('en-US')}\n`),
        );
        if (json) printJson(rows);
        else printBacklog(rows);
      } else if (what === 'consumers') {
        const rows = await consumerSummaries(handle, arg);
        if (json) printJson(rows);
        else if (rows.length === 0) process.stdout.write('no durable consumers yet (they appear once spanda up has run)\n');
        else printTable(rows, ['stream', 'name', 'filter', 'lag', 'pending', 'ackPending', 'redelivered', 'deliveredSeq']);
      } else {
        const last = positiveInt(ctx, 'last');
        const fromSeq = positiveInt(ctx, 'from');
        const events = await readEvents(handle, arg as string, {
          ...(last !== undefined ? { last } : {}),
          ...(fromSeq !== undefined ? { fromSeq } : {}),
          full: ctx.values.full === true,
        });
        if (json) printJson(events);
        else if (events.length === 0) process.stdout.write(`no events on ${arg}\n`);
        else {
          for (const e of events) {
            const reason = e.headers[DLQ_HEADER.reason];
            process.stdout.write(`#${e.seq} ${e.time} ${e.type ?? '(no ce-type)'} ${e.subject}\n`);
            if (reason) process.stdout.write(`  dlq reason: ${reason} (from ${e.headers[DLQ_HEADER.stream]}:${e.headers[DLQ_HEADER.seq]})\n`);
            if (e.error && !reason) process.stdout.write(`  invalid: ${e.error}\n`);
            process.stdout.write(`  ${JSON.stringify(e.data).slice(0, 600)}\n`);
          }
        }
      }
      return 0;
    } finally {
      await handle.drain();
    }
  },
};
