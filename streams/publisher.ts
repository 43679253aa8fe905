// Publishing events to JetStream: encode, set the message id, wait for the stream's ack, map failures to clear errors.
import { JetStreamApiError } from '@nats-io/jetstream';
import { InvalidArgumentError } from '@nats-io/transport-node';
import { StorageLimitError, UnavailableError, ValidationError, errorMessage } from '../lib/errors.ts';
import { encodeEvent, type EncodedMessage } from './codec.ts';
import type { EventType, SpandaEvent } from './events/index.ts';
import { publishAcked } from './acks.ts';
import { RETRY_WHILE_DISCONNECTED_S, type NatsHandle } from './nats.ts';

/**
 * JetStream's answers when a stream cannot take a message: 10077 "stream store failed" carries the limit hit
 * ("maximum messages exceeded", "maximum bytes exceeded", "maximum messages per subject exceeded"); 10023 is
 * "insufficient resources" (the server's or account's storage is used up).
 */
const STORE_FAILED = 10077;
const INSUFFICIENT_RESOURCES = 10023;
const EXPECTED_LAST_SUBJECT_SEQUENCE = 'Nats-Expected-Last-Subject-Sequence';

export interface Published {
  readonly stream: string;
  readonly seq: number;
  /** True when JetStream recognised the message id and stored nothing new. */
  readonly duplicate: boolean;
}

export interface PublishOptions {
  readonly msgId?: string;
  readonly timeoutMs?: number;
  /**
   * Optimistic concurrency: JetStream stores the event only if the last message on its subject has this sequence
   * (0 = none); otherwise it refuses with JetStreamApiError StreamWrongLastSequence.
   */
  readonly expectedLastSubjectSequence?: number;
}

/**
 * Publishes one event and resolves once JetStream has stored it. Throws UnavailableError when NATS cannot take it:
 * at once while the connection is down or when it drops mid-publish, not after the publish timeout.
 */
export async function publishEvent(handle: NatsHandle, subject: string, event: SpandaEvent, options: PublishOptions = {}): Promise<Published> {
  return publishEncoded(handle, subject, event.type, encodeEvent(event, options.msgId), options);
}

/**
 * publishEvent for an event already encoded (encodeEvent, e.g. in a worker thread): `encoded` carries the message id
 * among its headers; the headers are changed only by expectedLastSubjectSequence.
 */
export async function publishEncoded(
  handle: NatsHandle,
  subject: string,
  type: EventType,
  encoded: EncodedMessage,
  options: Omit<PublishOptions, 'msgId'> = {},
): Promise<Published> {
  const { headers, data } = encoded;
  if (data.byteLength > handle.maxPayload()) {
    throw new ValidationError(
      `${type} is ${data.byteLength} bytes, over the server's max_payload of ${handle.maxPayload()} bytes; send a smaller document or raise max_payload`,
      ['payload: too large'],
    );
  }
  if (!handle.connected()) {
    throw new UnavailableError(`NATS at ${handle.url} is not connected; the event was not stored, retry shortly`, RETRY_WHILE_DISCONNECTED_S);
  }
  if (options.expectedLastSubjectSequence !== undefined) headers.set(EXPECTED_LAST_SUBJECT_SEQUENCE, String(options.expectedLastSubjectSequence));
  try {
    // The message id is already among the headers (encodeEvent).
    const ack = await publishAcked(
      handle,
      subject,
      data,
      headers,
      options.timeoutMs ?? 10_000,
      `lost the connection to NATS at ${handle.url} while publishing to ${subject}; the event may not be stored, retry shortly (retries are deduplicated)`,
    );
    return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
  } catch (err) {
    if (err instanceof UnavailableError) throw err;
    if (err instanceof InvalidArgumentError) throw new ValidationError(`cannot publish to ${subject}: ${err.message}`, [], { cause: err });
    if (err instanceof JetStreamApiError && (err.code === STORE_FAILED || err.code === INSUFFICIENT_RESOURCES)) {
      throw new StorageLimitError(
        `the stream for ${subject} is at its limit: ${err.message} (JetStream ${err.code}); the event was not stored. Raise the stream's max_msgs/max_bytes (or the server's max_file_store) or free space, then re-send`,
        { cause: err },
      );
    }
    if (err instanceof JetStreamApiError) throw new UnavailableError(`JetStream refused the event (${err.code}): ${err.message}`, 5, { cause: err });
    throw new UnavailableError(`NATS did not confirm the event (${errorMessage(err)}); it may not be stored, retry shortly`, 5, { cause: err });
  }
}

/** Runs tasks with at most `limit` in flight, preserving result order (pipelined publishing). */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  });
  await Promise.all(workers);
  return results;
}
