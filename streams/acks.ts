// Acked JetStream publishes and confirmed acks over one reply subscription per connection: pipelined, one sweep timer for timeouts.
import { JetStreamApiError, type ApiError, type JsMsg, type PubAck } from '@nats-io/jetstream';
import { createInbox, type Msg, type MsgHdrs, type Subscription } from '@nats-io/transport-node';
import { RETRY_WHILE_DISCONNECTED_S, type NatsHandle } from './nats.ts';
import { UnavailableError } from '../lib/errors.ts';

/**
 * Why not js.publish: each of its calls is a request with its own deferred, timer and reply token, and settling it
 * builds an Error with a stack trace (the client's "cancelled" rejection of a request already answered). A processor
 * publishes thousands of events a second; here a publish is one PUB with a reply subject, and the answer is matched
 * by its token.
 */
interface Pending {
  readonly resolve: (answer: never) => void;
  /** Reads the answer; throws when it is an error. */
  readonly parse: (msg: Msg) => unknown;
  readonly reject: (err: Error) => void;
  readonly deadline: number;
  readonly subject: string;
  readonly timeoutMs: number;
  /** Said when the connection drops while the ack is awaited. */
  readonly lostMessage: string;
}

/** The publish's wait ended without an answer from JetStream. */
export class PublishTimeoutError extends Error {
  constructor(subject: string, timeoutMs: number) {
    super(`no acknowledgement from JetStream for ${subject} within ${timeoutMs} ms`);
    this.name = 'PublishTimeoutError';
  }
}

const SWEEP_MS = 250;

class AckInbox {
  private readonly prefix = createInbox();
  private next = 0;
  private readonly pending = new Map<string, Pending>();
  private subscription: Subscription | undefined;
  private sweeper: ReturnType<typeof setInterval> | undefined;
  private watched: AbortSignal | undefined;

  constructor(private readonly handle: NatsHandle) {}

  publish(subject: string, data: Uint8Array, headers: MsgHdrs, timeoutMs: number, lostMessage: string): Promise<PubAck> {
    return this.request(subject, data, headers, timeoutMs, lostMessage, parseAck);
  }

  /** Publishes `data` with a reply subject on this inbox and resolves with `parse` of the answer. */
  request<T>(subject: string, data: Uint8Array, headers: MsgHdrs | undefined, timeoutMs: number, lostMessage: string, parse: (msg: Msg) => T): Promise<T> {
    const signal = this.handle.lostSignal();
    if (signal.aborted) return Promise.reject(new UnavailableError(lostMessage, RETRY_WHILE_DISCONNECTED_S));
    this.watch(signal);
    this.subscription ??= this.handle.nc.subscribe(`${this.prefix}.*`, { callback: (err, msg) => (err ? this.failAll(err) : this.answer(msg)) });
    this.sweeper ??= this.startSweeper();
    const token = (this.next++).toString(36);
    return new Promise<T>((resolve, reject) => {
      // Throws synchronously on a bad subject or an oversized payload (InvalidArgumentError): nothing is pending then.
      this.handle.nc.publish(subject, data, { ...(headers ? { headers } : {}), reply: `${this.prefix}.${token}` });
      this.pending.set(token, { resolve: resolve as (answer: never) => void, parse, reject, deadline: Date.now() + timeoutMs, subject, timeoutMs, lostMessage });
    });
  }

  private answer(msg: Msg): void {
    const token = msg.subject.slice(this.prefix.length + 1);
    const pending = this.pending.get(token);
    if (!pending) return; // timed out or failed over already
    this.pending.delete(token);
    try {
      pending.resolve(pending.parse(msg) as never);
    } catch (err) {
      pending.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  // One listener per connection (not per publish): a dropped connection fails every ack awaited on it at once.
  private watch(signal: AbortSignal): void {
    if (this.watched === signal) return;
    this.watched = signal;
    signal.addEventListener(
      'abort',
      () => {
        for (const [token, p] of this.pending) {
          this.pending.delete(token);
          p.reject(new UnavailableError(p.lostMessage, RETRY_WHILE_DISCONNECTED_S));
        }
      },
      { once: true },
    );
  }

  private failAll(err: Error): void {
    for (const [token, p] of this.pending) {
      this.pending.delete(token);
      p.reject(err);
    }
  }

  private startSweeper(): ReturnType<typeof setInterval> {
    const timer = setInterval(() => {
      if (this.pending.size === 0) return;
      const now = Date.now();
      for (const [token, p] of this.pending) {
        if (p.deadline > now) continue;
        this.pending.delete(token);
        p.reject(new PublishTimeoutError(p.subject, p.timeoutMs));
      }
    }, SWEEP_MS);
    timer.unref();
    void this.handle.nc.closed().then(() => clearInterval(timer));
    return timer;
  }
}

/** JetStream's answer to a publish: the ack, or its error as the JetStreamApiError js.publish would throw. */
function parseAck(msg: Msg): PubAck {
  if (msg.data.length === 0) {
    // A 503 status without data: no stream listens on the subject.
    throw new Error(msg.headers?.code === 503 ? 'no responders: no stream takes this subject' : 'empty answer to a JetStream publish');
  }
  const answer = JSON.parse(new TextDecoder().decode(msg.data)) as Partial<PubAck> & { error?: ApiError };
  if (answer.error) throw new JetStreamApiError(answer.error);
  if (typeof answer.stream !== 'string' || answer.stream === '' || typeof answer.seq !== 'number') throw new Error('invalid JetStream publish ack');
  return { stream: answer.stream, seq: answer.seq, duplicate: answer.duplicate === true, domain: answer.domain ?? '' };
}

const inboxes = new WeakMap<NatsHandle, AckInbox>();

function inboxOf(handle: NatsHandle): AckInbox {
  let inbox = inboxes.get(handle);
  if (!inbox) {
    inbox = new AckInbox(handle);
    inboxes.set(handle, inbox);
  }
  return inbox;
}

/**
 * Publishes to a stream and resolves with JetStream's ack. Rejects with UnavailableError(`lostMessage`) when the
 * connection is down or drops before the ack, PublishTimeoutError after `timeoutMs`, JetStreamApiError when the stream
 * refuses the message, and InvalidArgumentError (synchronously thrown by the client) for a bad subject or size.
 */
export function publishAcked(handle: NatsHandle, subject: string, data: Uint8Array, headers: MsgHdrs, timeoutMs: number, lostMessage: string): Promise<PubAck> {
  return inboxOf(handle).publish(subject, data, headers, timeoutMs, lostMessage);
}

const ACK = new TextEncoder().encode('+ACK');

/**
 * Acks a JetStream message and resolves once the server has confirmed the ack (what msg.ackAck() does, over this
 * connection's one reply subscription: the client's ackAck builds an Error with a stack trace for each message). Rejects
 * like publishAcked: UnavailableError when the connection drops first, PublishTimeoutError after `timeoutMs`. A
 * message without a reply subject (not from a consumer that takes acks) resolves false, as ackAck does.
 */
export function confirmedAck(handle: NatsHandle, msg: JsMsg, timeoutMs: number): Promise<boolean> {
  // The client keeps the ack subject on the message but does not declare it on the JsMsg interface.
  const reply = (msg as unknown as { readonly reply?: unknown }).reply;
  if (typeof reply !== 'string' || reply === '') return msg.ackAck({ timeout: timeoutMs });
  return inboxOf(handle).request(reply, ACK, undefined, timeoutMs, `the connection to NATS dropped before the ack of a message on ${msg.subject} was confirmed`, ackConfirmed);
}

/** The server's answer to an ack with a reply subject: an empty message, or a 503 status when no consumer takes it. */
function ackConfirmed(answer: Msg): true {
  if (answer.headers?.code === 503) throw new Error('no responders: no consumer takes this ack (deleted, or not this server\'s)');
  return true;
}
