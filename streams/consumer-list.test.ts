// listConsumers skips the consumers nats-server lists as null (deleted while the list was read).
import type { ConsumerInfo } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { listConsumers } from './consumer-list.ts';
import type { NatsHandle } from './nats.ts';

/** A handle whose lister yields what nats-server 2.9 answered in a soak: consumer infos with nulls among them. */
function listing(entries: ReadonlyArray<ConsumerInfo | null>): NatsHandle {
  const list = () => ({
    async *[Symbol.asyncIterator]() {
      yield* entries;
    },
  });
  return { jsm: { consumers: { list } } } as unknown as NatsHandle;
}

describe('listConsumers', () => {
  it('gives every listed consumer and skips the nulls of those deleted meanwhile', async () => {
    const info = (name: string) => ({ name, config: { durable_name: name } }) as unknown as ConsumerInfo;
    const found = await listConsumers(listing([info('chunker'), null, info('embedder'), null]), 'DOCUMENTS');
    expect(found.map((c) => c.name)).toEqual(['chunker', 'embedder']);
  });
});
