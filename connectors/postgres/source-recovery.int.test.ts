// The embedded Postgres source against a real Postgres and nats-server: rows over max_payload refused to dlq.cdc (snapshot and stream), and a slot dropped while it runs recreated.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../../lib/log.ts';
import { startTestNats, type TestNats } from '../../test/helpers/nats.ts';
import { postgresUnavailableReason, startTestPostgres, type TestPostgres } from '../../test/helpers/postgres.ts';
import { readDlq } from '../../streams/dlq.ts';
import { decodeChange, type ChangeEvent } from '../cdc/envelope.ts';
import { storedChanges } from '../../test/helpers/cdc-envelopes.ts';
import { UNAVAILABLE_VALUE } from '../cdc/map-change.ts';
import { openConnectorBucket } from '../connector.ts';
import { parseLsn } from './lsn.ts';
import { dropSlot } from './setup.ts';
import { postgresSource } from './source.ts';

const skipReason = postgresUnavailableReason();
if (skipReason) console.warn(`skipping the embedded Postgres source recovery tests: ${skipReason}`);

const MAX_PAYLOAD = 64 * 1024;

let postgres: TestPostgres;
let nats: TestNats;
let db: pg.Client;

const envelopes = (subject: string): Promise<ChangeEvent[]> => storedChanges(nats.handle, { subject });

const titles = async (subject: string) => (await envelopes(subject)).map((e) => `${e.op}:${String(e.after?.title)}`);

function capturingLogger() {
  const lines: Array<{ level: string; message: string; [k: string]: unknown }> = [];
  const logger = createLogger('test', 'info', (line) => lines.push(JSON.parse(line) as (typeof lines)[number]), { format: 'json' });
  return { logger, lines };
}

const slotLsn = async (slot: string) => {
  const lsn = (await db.query<{ lsn: string | null }>('SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1', [slot])).rows[0]?.lsn;
  return lsn ? parseLsn(lsn) : 0n;
};

describe.skipIf(skipReason !== undefined)('embedded Postgres source: oversized rows and a dropped slot', () => {
  beforeAll(async () => {
    postgres = await startTestPostgres();
    nats = await startTestNats({ maxPayloadBytes: MAX_PAYLOAD });
    db = new pg.Client(postgres.url);
    db.on('error', () => undefined);
    await db.connect();
    await db.query('CREATE TABLE articles (id serial PRIMARY KEY, title text, body text)');
    await db.query("CREATE TABLE notes (id int PRIMARY KEY, title text)");
  });
  afterAll(async () => {
    await db?.end().catch(() => undefined);
    await nats?.stop();
    await postgres?.stop();
  });

  it('refuses a row over max_payload to dlq.cdc naming table, key and size, in the snapshot and the stream, and moves on', async () => {
    // ~180 KB of JSON each, against a 64 KB max_payload.
    await db.query("INSERT INTO articles (title, body) VALUES ('Small0', 'short'), ('Huge0', 'x' || repeat('lorem ipsum dolor ', 10000))");
    const kv = await openConnectorBucket(nats.handle);
    const { logger, lines } = capturingLogger();
    const source = await postgresSource({ url: postgres.url, tables: ['public.articles'], topicPrefix: 'cdc' }).start({ nats: nats.handle, kv, logger });
    try {
      await source.snapshotted;
      await expect.poll(() => titles('cdc.public.articles'), { timeout: 20_000 }).toContain('r:Small0');

      await db.query("INSERT INTO articles (title, body) VALUES ('Huge1', 'x' || repeat('lorem ipsum dolor ', 10000))");
      const afterHuge = parseLsn((await db.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0]?.lsn ?? '0/0');
      await db.query("INSERT INTO articles (title, body) VALUES ('Small1', 'short')");
      await expect.poll(() => titles('cdc.public.articles'), { timeout: 20_000 }).toContain('c:Small1');
      expect(await titles('cdc.public.articles')).toEqual(['r:Small0', 'c:Small1']);

      // The slot moves past the refused change: WAL is not pinned.
      await expect.poll(() => slotLsn('spanda_cdc'), { timeout: 20_000 }).toBeGreaterThanOrEqual(afterHuge);
      expect(source.status().state).toBe('running');
      expect(source.status().details).toMatchObject({ refused: 2 });

      const dlq = await readDlq(nats.handle, { filter: { processor: 'cdc' } });
      expect(dlq.map((e) => e.reason)).toEqual([
        expect.stringMatching(/^change \(op r\) of public\.articles row id=2 is \d{6} bytes, over the NATS server's max_payload of 65536 bytes \(body \d+ bytes\)/),
        expect.stringMatching(/^change \(op c\) of public\.articles row id=3 is \d{6} bytes, over the NATS server's max_payload of 65536 bytes/),
      ]);
      expect(dlq[0]?.subject).toBe('cdc.public.articles');
      const kept = decodeChange(dlq[1]?.data ?? new Uint8Array());
      expect(kept.kind === 'change' && kept.event.after).toEqual({ id: 3, title: 'Huge1', body: UNAVAILABLE_VALUE });
      expect(lines.filter((l) => l.level === 'warn' && /too large for NATS/.test(l.message)).map((l) => l.key)).toEqual(['row id=2', 'row id=3']);
    } finally {
      await source.stop();
    }
  }, 60_000);

  it("refuses a change over the stream's max_msg_size (below max_payload) the same way, naming that limit", async () => {
    await nats.handle.jsm.streams.add({ name: 'Capped', subjects: ['capped.>'], max_msg_size: 8 * 1024 });
    await db.query('CREATE TABLE memos (id int PRIMARY KEY, title text)');
    const kv = await openConnectorBucket(nats.handle);
    const source = await postgresSource({ url: postgres.url, tables: ['public.memos'], topicPrefix: 'capped' }).start({ nats: nats.handle, kv, logger: silentLogger });
    try {
      await source.snapshotted;
      await db.query("INSERT INTO memos VALUES (1, repeat('m', 20000)), (2, 'small')");
      await expect.poll(async () => (await nats.handle.jsm.streams.info('Capped')).state.messages, { timeout: 20_000 }).toBe(1);
      const dlq = await readDlq(nats.handle, { filter: { processor: 'cdc', reason: 'public.memos' } });
      expect(dlq.map((e) => e.reason)).toEqual([expect.stringMatching(/^change \(op c\) of public\.memos row id=1 is \d+ bytes, over stream Capped's max_msg_size of 8192 bytes/)]);
      expect(source.status().state).toBe('running');
    } finally {
      await source.stop();
    }
  }, 60_000);

  it('recreates a replication slot dropped while the source runs (new snapshot, a warning) instead of retrying it forever', async () => {
    await db.query("INSERT INTO notes VALUES (1, 'before')");
    const kv = await openConnectorBucket(nats.handle);
    const { logger, lines } = capturingLogger();
    const source = await postgresSource({ url: postgres.url, tables: ['public.notes'], topicPrefix: 'cdc2' }).start({ nats: nats.handle, kv, logger });
    try {
      await source.snapshotted;
      await expect.poll(() => titles('cdc2.public.notes'), { timeout: 20_000 }).toContain('r:before');
      // As an operator would: cut the walsender off and drop the slot.
      await dropSlot(db, 'spanda_cdc2');
      await db.query("INSERT INTO notes VALUES (2, 'while dropped')");
      await expect.poll(() => titles('cdc2.public.notes'), { timeout: 30_000 }).toContain('r:while dropped');
      await expect.poll(async () => (await db.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = 'spanda_cdc2'")).rowCount, { timeout: 10_000 }).toBe(1);
      await db.query("INSERT INTO notes VALUES (3, 'after')");
      await expect.poll(() => titles('cdc2.public.notes'), { timeout: 20_000 }).toContain('c:after');
      expect(source.status().state).toBe('running');
      expect(lines.some((l) => l.level === 'warn' && /replication slot was dropped while the source ran; creating it again with a new snapshot/.test(l.message))).toBe(true);
    } finally {
      await source.stop();
    }
  }, 60_000);
});
