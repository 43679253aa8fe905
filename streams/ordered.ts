// Ordered consumers that are deleted on the server once read: the client leaves each one there for 5 minutes otherwise.
import type { Consumer, OrderedConsumerOptions } from '@nats-io/jetstream';
import type { NatsHandle } from './nats.ts';

/**
 * How long nats-server keeps a one-off reader's consumer once nobody pulls from it, should its delete be lost (a dropped
 * connection). The client's own default is 5 minutes, and every consumer costs the server memory meanwhile: a soak whose
 * projector read DOCUMENTS headers in ranges (origin checks, several a second) left ~1,200 consumers behind within
 * 80 s, and nats-server 2.9 grew by ~130 MB a minute until they expired.
 */
export const ONE_OFF_INACTIVE_MS = 30_000;

/**
 * Deletes an ordered consumer on the server, without waiting and without failing: a consumer whose delete is lost
 * expires on its own (ONE_OFF_INACTIVE_MS for readOnce's, 5 minutes for the client's default).
 */
export function releaseConsumer(consumer: Consumer): void {
  try {
    consumer.delete().catch(() => undefined);
  } catch {
    // a consumer the client never created on the server has nothing to delete
  }
}

/**
 * Runs `read` with an ordered consumer of `stream` made for it, and deletes that consumer when `read` ends (returns,
 * throws or is abandoned by a dropped connection: the server then expires it after `inactive_threshold` ms without
 * pulls, ONE_OFF_INACTIVE_MS unless given). A reader that pauses longer than that between pulls loses its consumer, so
 * one whose pauses are up to its caller gives a longer threshold.
 */
export async function readOnce<T>(handle: NatsHandle, stream: string, options: Partial<OrderedConsumerOptions>, read: (consumer: Consumer) => Promise<T>): Promise<T> {
  const consumer = await handle.js.consumers.get(stream, { inactive_threshold: ONE_OFF_INACTIVE_MS, ...options });
  try {
    return await read(consumer);
  } finally {
    releaseConsumer(consumer);
  }
}
