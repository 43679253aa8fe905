// Reading a bounded slice of a stream in order (for digests computed straight from the log), with an ordered consumer.
import { setTimeout as sleep } from 'node:timers/promises';
import { DeliverPolicy, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { errorMessage, UnavailableError } from '../lib/errors.ts';
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
 * consumer: nothing durable is left behind. A consumer lost mid-read (nats-server restarted) or one that stops
 * delivering with messages left is replaced by a new one from the first message not yet handed over, for up to ~30 s;
 * each message reaches `onBatch` once.
 */
export async function readSlice(handle: NatsHandle, options: SliceOptions, onBatch: (messages: JsMsg[]) => Promise<void | typeof STOP_READING>): Promise<number> {
  const fromSeq = options.fromSeq ?? 1;
  if (options.upTo < 1 || options.upTo < fromSeq) return 0;
  const state: ReadState = { next: fromSeq, read: 0, sized: false };
  for (let resumes = 0; ; resumes++) {
    // onBatch may take its time (a digest folds each batch into a store): the client's own 5 minutes between pulls.
    const ordered = {
      filter_subjects: options.filterSubject,
      ...(state.next > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: state.next } : { deliver_policy: DeliverPolicy.All }),
      ...(options.headersOnly ? { headers_only: true } : {}),
      inactive_threshold: 5 * 60_000,
    };
    try {
      await readOnce(handle, options.stream, ordered, (consumer) => readWith(consumer, options, state, onBatch));
      return state.read;
    } catch (err) {
      if (!(err instanceof ReadInterrupted)) throw err;
      // The broker restarted (its consumer is gone) or stopped delivering: go on from the next message not yet handed
      // over, on a new consumer, rather than end early (a digest of part of the log would name documents that differ).
      if (resumes >= READ_RESUME.attempts) {
        throw new UnavailableError(
          `JetStream stopped delivering ${options.stream} (${options.filterSubject}) at sequence ${state.next} of ${options.upTo} and did not resume within ${(READ_RESUME.attempts * READ_RESUME.pauseMs) / 1000} s (${err.message}): run it again once nats-server answers`,
          5,
          { cause: err.cause },
        );
      }
      await sleep(READ_RESUME.pauseMs);
    }
  }
}

/**
 * How long a read of the log waits for JetStream to come back (a restarting nats-server): how often, and how far apart,
 * a read whose consumer was lost starts again from where it was (about 30 s in all). Readers that also ask JetStream
 * other things meanwhile (the log digest's origin checks) wait as long.
 */
export const READ_RESUME = { attempts: 60, pauseMs: 500 } as const;

interface ReadState {
  /** The first sequence not yet handed to onBatch: where a resumed read starts. */
  next: number;
  read: number;
  sized: boolean;
}

/** The consumer was lost mid-read (a broker restart) or stopped delivering with messages left: resume, do not end. */
class ReadInterrupted extends Error {}

async function readWith(
  consumer: Consumer,
  options: SliceOptions,
  state: ReadState,
  onBatch: (messages: JsMsg[]) => Promise<void | typeof STOP_READING>,
): Promise<void> {
  if (options.onSize && !state.sized) {
    state.sized = true;
    options.onSize((await consumer.info(true).catch(() => undefined))?.num_pending ?? 0);
  }
  const batchSize = options.batchSize ?? 500;
  // Whether messages remain after the last one delivered (JetStream's count): an empty fetch then is an interruption.
  let remaining = false;
  for (;;) {
    const batch: JsMsg[] = [];
    let done = false;
    let got = 0;
    try {
      const messages = await consumer.fetch({ max_messages: batchSize, expires: 2000 });
      for await (const msg of messages) {
        got++;
        if (msg.seq > options.upTo) {
          done = true;
          break;
        }
        batch.push(msg);
        remaining = msg.info.pending > 0;
        // Stop the fetch at once: it would otherwise wait out its expiry for messages that will not come.
        if (msg.seq === options.upTo || msg.info.pending === 0) {
          done = true;
          break;
        }
      }
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound) throw new ReadInterrupted(errorMessage(err), { cause: err });
      throw err;
    }
    if (got === 0 && remaining) throw new ReadInterrupted('a pull came back empty with messages left');
    const last = batch.at(-1);
    state.read += batch.length;
    if (batch.length > 0 && (await onBatch(batch)) === STOP_READING) return;
    if (last) state.next = last.seq + 1;
    if (done || got === 0) return;
  }
}
