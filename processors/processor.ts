// The processor contract: a named, versioned, stateless step that turns a batch of input events into output events.
import type { EncodedMessage } from '../streams/codec.ts';
import type { EventType, SpandaEvent, StoredEvent } from '../streams/events/index.ts';
import type { StreamName } from '../streams/provision.ts';

/** One event to publish. `msgId` must derive from the input (see derivedMsgId) so redelivery publishes nothing new. */
export interface Output {
  readonly subject: string;
  readonly event: SpandaEvent;
  readonly msgId: string;
}

/**
 * An output already encoded (by a processor running in a worker thread, processors/threaded/): the headers and
 * payload encodeEvent gives for its event and msgId, which the runner publishes as they are.
 */
export interface EncodedOutput {
  readonly subject: string;
  readonly type: EventType;
  readonly msgId: string;
  readonly encoded: EncodedMessage;
}

/**
 * What became of one input: the outputs to publish (maybe none), or an error.
 * A PermanentEventError (or ValidationError) sends the input to the DLQ; any other error is retried with backoff.
 */
export type Outcome<O extends Output | EncodedOutput = Output> = readonly O[] | Error;

export interface ProcessorContext {
  /** Largest message the server accepts: split outputs into parts below it. */
  readonly maxPayloadBytes: number;
}

export interface Processor<O extends Output | EncodedOutput = Output> {
  /** Durable consumer name and DLQ subject token, e.g. "chunker", "embedder-use-lite-512". */
  readonly name: string;
  /** Bumped when the output for the same input changes; part of every output message id. */
  readonly version: number;
  readonly stream: StreamName;
  readonly filterSubjects: readonly string[];
  /** Inputs handled together (the embedder batches chunks across documents). */
  readonly batchSize: number;
  /**
   * Messages JetStream hands this processor's consumer before any is acked (its max_ack_pending; default batchSize·4).
   * Keep it to a few batches of work so a slow processor (a model) holds no more than it can do in minutes and a
   * second worker on the same consumer finds work to take.
   */
  readonly maxInFlight?: number;
  /**
   * Most batches handled at once (default 1). Past the first, another batch starts only while every running one has
   * taken longer than SLOW_BATCH_MS (runner.ts): a document of thousands of chunks then no longer holds every later
   * document back for the minutes a model takes over it, and a processor whose batches are quick stays sequential.
   */
  readonly concurrentBatches?: number;
  /**
   * Most message bytes in one batch (default: no limit); a larger message is a batch of its own. With
   * concurrentBatches, a huge input then runs alone and the small ones behind it go beside it, not in its batch.
   */
  readonly maxBatchBytes?: number;
  /** Returns one outcome per input, in input order. */
  handle(inputs: readonly StoredEvent<SpandaEvent>[], context: ProcessorContext): Promise<readonly Outcome<O>[]>;
  close?(): Promise<void>;
}

/** A processor whose outputs may be events or already encoded (what the runner runs). */
export type AnyProcessor = Processor<Output | EncodedOutput>;
