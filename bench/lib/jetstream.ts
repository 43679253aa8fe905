// The raw JetStream baseline pipeline rates are divided by: pipelined acked publishes and an acking durable pull consumer.
import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { readdirSync, readFileSync } from 'node:fs';
import type { NatsHandle } from '../../streams/nats.ts';
import { mapLimit } from '../../streams/publisher.ts';
import { round } from './common.ts';

export interface Rate {
  readonly messages: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly mbPerSecond: number;
}

export interface Baseline {
  readonly label: string;
  readonly publish: Rate;
  readonly consume: Rate;
}

const rate = (messages: number, bytes: number, ms: number): Rate => ({
  messages,
  seconds: round(ms / 1000, 3),
  perSecond: Math.round(messages / (ms / 1000)),
  mbPerSecond: round(bytes / 1e6 / (ms / 1000), 2),
});

/**
 * Publishes `payloads` to a fresh file-backed stream configured like Spanda's (limits, 2 min duplicate window) with
 * `concurrency` acked publishes in flight, each with a message id and CloudEvents-sized headers as an event has; then
 * reads them back with a durable pull consumer acking each message (as the processors do, without decoding). The
 * stream is deleted afterwards.
 */
export async function jetstreamBaseline(handle: NatsHandle, payloads: readonly Uint8Array[], label: string, concurrency: number): Promise<Baseline> {
  const name = `BASELINE_${label.replace(/[^A-Za-z0-9]/g, '_').toUpperCase()}`;
  const prefix = `baseline.${label.replace(/[^A-Za-z0-9]/g, '_')}`;
  await handle.jsm.streams.add({
    name,
    subjects: [`${prefix}.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    num_replicas: 1,
    allow_direct: true,
    duplicate_window: 2 * 60_000 * 1_000_000,
  });
  try {
    const bytes = payloads.reduce((sum, p) => sum + p.byteLength, 0);
    const publishStarted = performance.now();
    await mapLimit(payloads, concurrency, (payload, i) => {
      const h = natsHeaders();
      h.set('ce-specversion', '1.0');
      h.set('ce-type', 'document.upserted');
      h.set('ce-id', `baseline-${label}-${i}`);
      h.set('ce-source', '/bench');
      h.set('ce-time', new Date().toISOString());
      h.set('content-type', 'application/json');
      return handle.js.publish(`${prefix}.default.bench.doc-${i}`, payload, { headers: h, msgID: `${label}/${i}`, timeout: 30_000 });
    });
    const publishMs = performance.now() - publishStarted;

    await handle.jsm.consumers.add(name, {
      durable_name: 'baseline',
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      max_ack_pending: 1000,
      ack_wait: 120_000 * 1_000_000,
    });
    const consumer = await handle.js.consumers.get(name, 'baseline');
    const consumeStarted = performance.now();
    // The same pull size as the chunker's runner (max(batchSize·2, 64) = 128).
    const messages = await consumer.consume({ max_messages: 128 });
    let received = 0;
    for await (const msg of messages) {
      msg.ack();
      if (++received === payloads.length) break;
    }
    await handle.nc.flush();
    const consumeMs = performance.now() - consumeStarted;
    await messages.close().catch(() => undefined);
    return { label, publish: rate(payloads.length, bytes, publishMs), consume: rate(payloads.length, bytes, consumeMs) };
  } finally {
    await handle.jsm.streams.delete(name).catch(() => undefined);
  }
}

/** CPU ms (user + system) a process (or, given its stat file, a thread) has used so far, from /proc; undefined where there is no /proc (not Linux). */
export function processCpuMs(pid: number, statFile = `/proc/${pid}/stat`): number | undefined {
  try {
    const stat = readFileSync(statFile, 'utf8');
    // Fields after the command name (which may contain spaces): state is first, utime the 12th, stime the 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    // USER_HZ is 100 on every Linux this runs on.
    return Number.isFinite(ticks) ? ticks * 10 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU time (ms, user + system) of each thread of this process by thread id, from /proc (Linux); empty elsewhere. */
export function threadCpuMs(): Map<number, number> {
  const out = new Map<number, number>();
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const tid of tids) {
    const ms = processCpuMs(Number(tid), `/proc/self/task/${tid}/stat`);
    if (ms !== undefined) out.set(Number(tid), ms);
  }
  return out;
}

/**
 * Where a stretch of this process's CPU went, from threadCpuMs() before and after it and the process's total CPU over
 * it: the main thread; the other threads that ran before it and still run (V8's GC helpers, libuv's pool); and the
 * threads started within it, ended or not (its total less the others: a store's worker).
 */
export function cpuByThread(before: Map<number, number>, after: Map<number, number>, processMs: number): { mainMs: number; helpersMs: number; startedMs: number } | undefined {
  if (after.size === 0) return undefined;
  let mainMs = 0;
  let helpersMs = 0;
  for (const [tid, ms] of after) {
    const earlier = before.get(tid);
    if (earlier === undefined) continue; // started within the stretch: in the remainder
    if (tid === process.pid) mainMs = ms - earlier;
    else helpersMs += ms - earlier;
  }
  return { mainMs, helpersMs, startedMs: Math.max(0, processMs - mainMs - helpersMs) };
}

/** Messages and bytes held by each stream (what each pipeline stage wrote). */
export async function streamSizes(handle: NatsHandle, names: readonly string[]): Promise<Record<string, { messages: number; bytes: number }>> {
  const out: Record<string, { messages: number; bytes: number }> = {};
  for (const name of names) {
    const info = await handle.jsm.streams.info(name).catch(() => undefined);
    if (info) out[name] = { messages: info.state.messages, bytes: info.state.bytes };
  }
  return out;
}
