// Reading a bounded slice of a stream in order (for digests computed straight from the log), with an ordered consumer.
import { DeliverPolicy } from '@nats-io/jetstream';
import type { Consumer, JsMsg } from '@nats-io/jetstream';
import type { NatsHandle } from './nats.ts';
import { readOnce } from './ordered.ts';

export interface SliceOptions {
  readonly stream: string;
  readonly filterSubject: string;
  /** Last sequence to read (inclusive); messages after it are not delivered to `onBatch`. */
  readonly upTo: number;
  readonly batchSize?: number;
  /** First sequence to read (default: the start of the stream). */
  readonly fromSeq?: number;
  /** Deliver headers only (the payload's size is in `Nats-Msg-Size`): for tools that list, not process. */
  readonly headersOnly?: boolean;
  /**
   * Called once before the first batch with how many messages match the filter from `fromSeq` on (for a progress bar:
   * it counts those published after `upTo` too).
   */
  readonly onSize?: (messages: number) => void;
}

/** What `onBatch` returns to stop reading before the end of the slice. */
export const STOP_READING = false;

/**
 * Calls `onBatch` with the slice's messages from `fromSeq` (the start of the stream) up to `upTo`, in order, and
 * resolves when it has seen `upTo`, the slice has nothing more to give, or `onBatch` returned STOP_READING. An ordered
 * consumer: nothing durable is left behind.
 */
export async function readSlice(handle: NatsHandle, options: SliceOptions, onBatch: (messages: JsMsg[]) => Promise<void | typeof STOP_READING>): Promise<number> {
  const fromSeq = options.fromSeq ?? 1;
  if (options.upTo < 1 || options.upTo < fromSeq) return 0;
  // onBatch may take its time (a digest folds each batch into a store): the client's own 5 minutes between pulls.
  const ordered = {
    filter_subjects: options.filterSubject,
    ...(fromSeq > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: fromSeq } : { deliver_policy: DeliverPolicy.All }),
    ...(options.headersOnly ? { headers_only: true } : {}),
    inactive_threshold: 5 * 60_000,
  };
  return readOnce(handle, options.stream, ordered, (consumer) => readWith(consumer, options, onBatch));
}

async function readWith(consumer: Consumer, options: SliceOptions, onBatch: (messages: JsMsg[]) => Promise<void | typeof STOP_READING>): Promise<number> {
  if (options.onSize) options.onSize((await consumer.info(true).catch(() => undefined))?.num_pending ?? 0);
  const batchSize = options.batchSize ?? 500;
  let read = 0;
  for (;;) {
    const messages = await consumer.fetch({ max_messages: batchSize, expires: 2000 });
    const batch: JsMsg[] = [];
    let done = false;
    let got = 0;
    for await (const msg of messages) {
      got++;
      if (msg.seq > options.upTo) {
        done = true;
        break;
      }
      batch.push(msg);
      // Stop the fetch at once: it would otherwise wait out its expiry for messages that will not come.
      if (msg.seq === options.upTo || msg.info.pending === 0) {
        done = true;
        break;
      }
    }
    read += batch.length;
    if (batch.length > 0 && (await onBatch(batch)) === STOP_READING) break;
    if (done || got === 0) break;
  }
  return read;
}
