// A stream's consumers, without those deleted while the list was read (nats-server lists each of them as null).
import type { ConsumerInfo } from '@nats-io/jetstream';
import type { NatsHandle } from './nats.ts';

/**
 * Every consumer of `stream` as nats-server lists it. One-off readers create and delete consumers several times a
 * second (streams/ordered.ts); one deleted between the server's collecting the names and their info comes back as null.
 */
export async function listConsumers(handle: NatsHandle, stream: string): Promise<ConsumerInfo[]> {
  const found: ConsumerInfo[] = [];
  for await (const info of handle.jsm.consumers.list(stream)) if (info) found.push(info);
  return found;
}
