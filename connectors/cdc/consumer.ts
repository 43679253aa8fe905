// The Debezium connector: a durable JetStream consumer of change events that publishes document events, acking each change only after they are stored.
import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { PermanentEventError, UnavailableError, ValidationError, errorMessage } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import { defaultMetrics } from '../../lib/metrics.ts';
import { sendToDlq } from '../../streams/dlq.ts';
import { publishDeletion, publishDocument } from '../../streams/document-log.ts';
import { confirmedAck } from '../../streams/acks.ts';
import { reportConsumerStalls } from '../../streams/consumer-stalls.ts';
import { consumeOptions, type NatsHandle } from '../../streams/nats.ts';
import type { Connector, ConnectorContext, ConnectorOutcome, ConnectorState, ConnectorStatus, RunningConnector } from '../connector.ts';
import { decodeChange } from './envelope.ts';
import { mapChange, tableOf, type DocumentAction } from './map-change.ts';
import { canonicalJson } from '../../streams/ids.ts';
import type { Mapping } from './mapping.ts';
import { ensureCdcStream } from './stream.ts';
import { deleteAllOfSource } from './truncate.ts';

/** How long the server may take to confirm an ack (the client's own default for ackAck). */
const ACK_CONFIRM_TIMEOUT_MS = 5000;

/** ce-source of the document events this connector writes. */
export const CDC_PRODUCER = '/connectors/cdc';
/** DLQ stage (subject dlq.cdc) for change events that cannot become documents. */
export const CDC_DLQ_STAGE = 'cdc';

export interface DebeziumConsumerConfig {
  /** Subject filter of the change events, e.g. `dbserver1.>` (Debezium Server writes `<topic.prefix>.<schema>.<table>`). */
  readonly subjects: string;
  readonly mapping: Mapping;
  /** Durable consumer name (default derived from the subjects). */
  readonly durable?: string;
  /** Stream to create when none holds the subjects (default DebeziumStream). */
  readonly streamName?: string;
  /** Create that stream when missing (default true). */
  readonly createStream?: boolean;
  readonly storage?: 'file' | 'memory';
  /** Attempts for an unexpected error before the change goes to the DLQ (NATS outages are retried forever). */
  readonly maxAttempts?: number;
  /** How long JetStream waits for a change's ack before delivering it again (default DEFAULT_CDC_ACK_WAIT_MS). */
  readonly ackWaitMs?: number;
  /** How long one ack may wait for the server's confirmation before it is sent again (default 5 s). */
  readonly ackConfirmTimeoutMs?: number;
}

/** The durable consumer's ack_wait: a change whose ack the server never got comes back after this long. */
export const DEFAULT_CDC_ACK_WAIT_MS = 30_000;

export interface RunningDebeziumConsumer extends RunningConnector {
  /** True when every change event stored so far has been handled and acknowledged. */
  caughtUp(): Promise<boolean>;
}

/** A durable name NATS accepts, readable from the subject filter. */
export function durableNameFor(subjects: string): string {
  return `spanda-cdc-${subjects.replace(/\*/g, 'any').replace(/>/g, 'all').replace(/[^A-Za-z0-9_-]+/g, '-')}`.slice(0, 200);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function durableConfig(durable: string, filter: string, ackWaitMs: number) {
  return {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    filter_subject: filter,
    ack_wait: ackWaitMs * 1_000_000,
    max_ack_pending: 1024,
    max_deliver: -1,
    description: `Spanda CDC: Debezium change events on ${filter} → DOCUMENTS`,
  };
}

/**
 * Creates the durable consumer, or takes over an existing one. Messages a previous runner held unacked (it was killed)
 * would come back only after ack_wait, behind newer ones: out of order for the same row. So the consumer is recreated
 * at its ack floor and everything after it is delivered again, in order. One runner per subject filter.
 */
async function ensureDurable(handle: NatsHandle, stream: string, durable: string, filter: string, takeOver: boolean, ackWaitMs: number): Promise<{ redeliveredUpTo: number }> {
  const config = durableConfig(durable, filter, ackWaitMs);
  try {
    const info = await handle.jsm.consumers.info(stream, durable);
    if (takeOver && info.num_ack_pending > 0) {
      await handle.jsm.consumers.delete(stream, durable);
      await handle.jsm.consumers.add(stream, { ...config, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: info.ack_floor.stream_seq + 1 });
      // Delivered again as new messages: the caller treats them as redeliveries.
      return { redeliveredUpTo: info.delivered.stream_seq };
    }
    if (info.config.filter_subject !== filter || info.config.ack_wait !== config.ack_wait) {
      await handle.jsm.consumers.update(stream, durable, { filter_subject: filter, ack_wait: config.ack_wait });
    }
    return { redeliveredUpTo: 0 };
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound)) throw err;
    await handle.jsm.consumers.add(stream, { ...config, deliver_policy: DeliverPolicy.All });
    return { redeliveredUpTo: 0 };
  }
}

/**
 * The rows a change touches (table + id values of its before and after images), for per-row ordering; undefined for
 * what must run alone (a truncate, or a value that does not decode: it goes to the DLQ in order).
 */
export function rowKeys(mapping: Mapping, data: Uint8Array): string[] | undefined {
  let decoded;
  try {
    decoded = decodeChange(data);
  } catch {
    return undefined;
  }
  if (decoded.kind === 'tombstone') return [];
  const event = decoded.event;
  if (event.op === 't') return undefined;
  const table = tableOf(event);
  const tm = table !== undefined ? mapping.get(table) : undefined;
  if (!tm) return [];
  const keys = new Set<string>();
  for (const row of [event.before, event.after]) if (row) keys.add(`${table}|${canonicalJson(tm.idColumns.map((c) => row[c] ?? null))}`);
  return [...keys];
}

export interface DebeziumConnector extends Connector {
  start(ctx: ConnectorContext): Promise<RunningDebeziumConsumer>;
}

export function debeziumConnector(config: DebeziumConsumerConfig): DebeziumConnector {
  const durable = config.durable ?? durableNameFor(config.subjects);
  const ackWaitMs = config.ackWaitMs ?? DEFAULT_CDC_ACK_WAIT_MS;
  const ackConfirmTimeoutMs = config.ackConfirmTimeoutMs ?? ACK_CONFIRM_TIMEOUT_MS;
  const name = `cdc:${config.subjects}`;
  return {
    name,
    async start({ nats: handle, logger }) {
      const log: Logger = logger.child('cdc');
      const { stream, created } = await ensureCdcStream(handle, {
        subjects: config.subjects,
        ...(config.streamName !== undefined ? { streamName: config.streamName } : {}),
        ...(config.createStream !== undefined ? { create: config.createStream } : {}),
        ...(config.storage !== undefined ? { storage: config.storage } : {}),
      });
      const { redeliveredUpTo } = await ensureDurable(handle, stream, durable, config.subjects, true, ackWaitMs);
      log.info('consuming Debezium change events', { stream, created, durable, subjects: config.subjects });

      let state: ConnectorState = 'running';
      let stopping = false;
      let messages: ConsumerMessages | undefined;
      let lastError: string | undefined;
      let busy = false;
      // Changes applied here whose ack is not confirmed yet: a redelivery of one of them is only acked.
      const handledSeqs = new Set<number>();
      const counts = { changes: 0, published: 0, unchanged: 0, deleted: 0, skipped: 0, tombstones: 0, deadLettered: 0 };
      const maxAttempts = config.maxAttempts ?? 5;

      async function apply(action: DocumentAction, redelivered: boolean): Promise<void> {
        switch (action.kind) {
          case 'upsert': {
            // A redelivered change may be the one whose ack a killed runner never sent: if the log already holds its
            // content, it was applied (acks are confirmed one by one, so it can only be the newest applied).
            const r = await publishDocument(handle, action.tenant, action.doc, { producer: CDC_PRODUCER, skipUnchanged: action.checkLog || redelivered });
            if (r.duplicate) counts.unchanged += 1;
            else counts.published += 1;
            return;
          }
          case 'delete': {
            const r = await publishDeletion(handle, action.address, { producer: CDC_PRODUCER });
            if (!r.duplicate) counts.deleted += 1;
            return;
          }
          case 'truncate':
            counts.deleted += await deleteAllOfSource(handle, action.tenant, action.source, CDC_PRODUCER);
            return;
          case 'skip':
            counts.skipped += 1;
            return;
        }
      }

      async function deadLetter(msg: JsMsg, reason: string, attempts: number): Promise<void> {
        for (;;) {
          try {
            await sendToDlq(handle, CDC_DLQ_STAGE, msg, reason, attempts);
            counts.deadLettered += 1;
            log.warn('change event sent to the DLQ', { subject: msg.subject, seq: msg.seq, reason });
            return;
          } catch (err) {
            if (stopping) throw err;
            lastError = `cannot write to the DLQ: ${errorMessage(err)}`;
            await sleep(1000);
          }
        }
      }

      /** Applies one change until it is stored or dead-lettered (true), or leaves it for redelivery when stopping (false). */
      async function apply1(msg: JsMsg): Promise<boolean> {
        for (let attempt = 1; ; attempt++) {
          try {
            const decoded = decodeChange(msg.data);
            if (decoded.kind === 'tombstone') counts.tombstones += 1;
            else for (const action of mapChange(config.mapping, decoded.event)) await apply(action, msg.redelivered || msg.seq <= redeliveredUpTo);
            counts.changes += 1;
            return true;
          } catch (err) {
            const permanent = err instanceof ValidationError || err instanceof PermanentEventError;
            if (permanent || (!(err instanceof UnavailableError) && attempt >= maxAttempts)) {
              lastError = `${msg.subject} #${msg.seq}: ${errorMessage(err)}`;
              await deadLetter(msg, errorMessage(err), attempt);
              return true;
            }
            lastError = `${msg.subject} #${msg.seq}: ${errorMessage(err)} (retrying)`;
            log.warn('change event not stored yet; retrying', { subject: msg.subject, seq: msg.seq, attempt, error: errorMessage(err) });
            if (stopping) return false; // unacked: redelivered to the next run
            msg.working();
            await sleep(Math.min(200 * 2 ** Math.min(attempt, 6), 10_000));
          }
        }
      }

      /**
       * Changes of different rows are applied concurrently (up to WINDOW); changes of one row strictly in order, and
       * only once the previous one's ack is confirmed. Acks are sent in stream order, so the acked set is always a
       * prefix: after a crash the takeover redelivers from the ack floor, and of each row at most the newest applied
       * change comes back (its content is then the log's latest, so it publishes nothing).
       */
      async function pump(): Promise<void> {
        const WINDOW = 64;
        const rowTail = new Map<string, Promise<void>>();
        const inflight = new Set<Promise<void>>();
        let ackChain: Promise<void> = Promise.resolve();
        let ackBroken = false;

        /**
         * Acks a change and waits until the server confirms it, sending the ack again while the confirmation fails (an
         * ack written just before the connection dropped is lost with it). Only then may the row's next change be
         * applied: were this change redelivered after a newer one of its row, it would publish the older content again.
         * Stopping first, nothing after it is acked, so the next run gets them all again, in order.
         */
        async function confirm(msg: JsMsg): Promise<void> {
          for (let attempt = 1; ; attempt++) {
            try {
              await confirmedAck(handle, msg, ackConfirmTimeoutMs);
              return;
            } catch (err) {
              if (stopping) {
                ackBroken = true;
                return;
              }
              lastError = `the ack of ${msg.subject} #${msg.seq} is not confirmed yet: ${errorMessage(err)} (sending it again)`;
              await sleep(Math.min(200 * 2 ** Math.min(attempt, 5), 5000));
            }
          }
        }
        while (!stopping) {
          try {
            const consumer = await handle.js.consumers.get(stream, durable);
            messages = await consumer.consume(consumeOptions(256));
            reportConsumerStalls(messages, defaultMetrics().consumerStalls.labels(stream, durable), log, { stream, durable });
            for await (const msg of messages) {
              if (stopping) break;
              if (handledSeqs.has(msg.seq)) {
                msg.ack(); // a redelivery (ack_wait passed) of a change already applied here
                continue;
              }
              const keys = rowKeys(config.mapping, msg.data);
              // A truncate or an undecodable change waits for everything before it, and everything after waits for it.
              if (keys === undefined) await Promise.all(inflight);
              const before = keys === undefined ? [...inflight] : keys.map((k) => rowTail.get(k)).filter((p): p is Promise<void> => p !== undefined);
              busy = true;
              const applied = Promise.all(before).then(() => apply1(msg)).catch(() => false);
              const ackSent = Promise.all([applied, ackChain]).then(([ok]) => {
                if (ok) handledSeqs.add(msg.seq);
                if (!ok || ackBroken) {
                  ackBroken = true;
                  return { confirmed: Promise.resolve() };
                }
                return { confirmed: confirm(msg) };
              });
              ackChain = ackSent.then(() => undefined);
              const confirmed = ackSent.then((a) => a.confirmed).then(() => {
                handledSeqs.delete(msg.seq);
              });
              for (const k of keys ?? ['*']) rowTail.set(k, confirmed);
              inflight.add(confirmed);
              void confirmed.finally(() => {
                inflight.delete(confirmed);
                for (const k of keys ?? ['*']) if (rowTail.get(k) === confirmed) rowTail.delete(k);
                if (inflight.size === 0) busy = false;
              });
              if (keys === undefined) await confirmed;
              while (inflight.size >= WINDOW) await Promise.race(inflight);
            }
            await Promise.all(inflight);
          } catch (err) {
            if (stopping) break;
            lastError = `consumer failed: ${errorMessage(err)}`;
            log.error('consumer failed; retrying in 1s', { error: errorMessage(err) });
            await sleep(1000);
            await ensureDurable(handle, stream, durable, config.subjects, false, ackWaitMs).catch(() => undefined);
          }
        }
        await Promise.all(inflight);
      }

      const done: Promise<ConnectorOutcome> = pump().then(
        () => {
          state = 'stopped';
          return { ok: true };
        },
        (err: unknown) => {
          state = 'failed';
          lastError = errorMessage(err);
          return { ok: false, error: lastError };
        },
      );

      const status = (): ConnectorStatus => ({
        name,
        state,
        published: counts.published + counts.deleted,
        ...(lastError !== undefined ? { lastError } : {}),
        details: { stream, durable, subjects: config.subjects, ...counts },
      });

      return {
        name,
        done,
        status,
        async stop() {
          if (!stopping) {
            stopping = true;
            state = 'stopping';
            await messages?.close().catch(() => undefined);
          }
          await done;
        },
        async caughtUp() {
          if (busy) return false;
          const info = await handle.jsm.consumers.info(stream, durable);
          return info.num_pending === 0 && info.num_ack_pending === 0;
        },
      };
    },
  };
}
