// Connector state in KV against a real nats-server: namespaced, hashed long keys, schema-checked reads, compare-and-set.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startTestNats, type TestNats } from '../test/helpers/nats.ts';
import { StateConflictError, connectorState, keyToken, openConnectorBucket } from './connector.ts';

let nats: TestNats;
beforeAll(async () => {
  nats = await startTestNats({ provisioned: false });
});
afterAll(async () => {
  await nats?.stop();
});

const cursor = z.object({ etag: z.string() });

describe('connectorState', () => {
  it('keeps short safe parts readable and hashes the rest to a bounded, KV-safe token', () => {
    expect(keyToken('rss')).toBe('rss');
    const url = keyToken('https://medium.com/feed/@someone?x=1');
    expect(url).toMatch(/^h-[A-Za-z0-9_-]{43}$/);
    expect(keyToken('https://medium.com/feed/@someone?x=1')).toBe(url);
    expect(keyToken('x'.repeat(65))).toMatch(/^h-/);
    expect(keyToken('h-looks-hashed')).not.toBe('h-looks-hashed');
  });

  it('stores JSON per connector, lists keys under a prefix, and refuses a lost compare-and-set', async () => {
    const kv = await openConnectorBucket(nats.handle);
    const state = connectorState(kv, 'rss');
    const feed = 'https://example.org/feed.xml';
    expect(await state.get(['feed', feed], cursor)).toBeUndefined();
    const rev = await state.put(['feed', feed], { etag: '"1"' }, { expectedRevision: 0 });
    expect(await state.get(['feed', feed], cursor)).toEqual({ value: { etag: '"1"' }, revision: rev });
    await expect(state.put(['feed', feed], { etag: '"x"' }, { expectedRevision: 0 })).rejects.toBeInstanceOf(StateConflictError);
    const rev2 = await state.put(['feed', feed], { etag: '"2"' }, { expectedRevision: rev });
    await expect(state.put(['feed', feed], { etag: '"3"' }, { expectedRevision: rev })).rejects.toBeInstanceOf(StateConflictError);
    expect((await state.get(['feed', feed], cursor))?.revision).toBe(rev2);

    await state.put(['item', feed, 'a'], { etag: 'a' });
    await state.put(['item', feed, 'b'], { etag: 'b' });
    await connectorState(kv, 'other').put(['item', feed, 'c'], { etag: 'c' });
    const keys = await state.keys(['item', feed]);
    expect(keys).toHaveLength(2);
    expect(keys.every((k) => k.startsWith('rss.item.h-'))).toBe(true);
    await state.deleteKey(keys[0] as string);
    expect(await state.keys(['item', feed])).toHaveLength(1);
    expect(await state.keys(['nothing'])).toEqual([]);

    await state.put(['bad'], { etag: 7 });
    await expect(state.get(['bad'], cursor)).rejects.toThrow(/rss\.bad has an unexpected shape/);
  });
});
