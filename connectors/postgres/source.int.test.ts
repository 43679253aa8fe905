// The embedded Postgres source against a real Postgres and nats-server: snapshot, each kind of change as Debezium envelopes, --once, restart without re-sending.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/log.ts';
import { runCli } from '../../test/helpers/cli.ts';
import { startTestNats, type TestNats } from '../../test/helpers/nats.ts';
import { postgresUnavailableReason, startTestPostgres, type TestPostgres } from '../../test/helpers/postgres.ts';
import type { ChangeEvent } from '../cdc/envelope.ts';
import { storedChanges } from '../../test/helpers/cdc-envelopes.ts';
import { openConnectorBucket } from '../connector.ts';
import { createSlotWithSnapshot } from './setup.ts';
import { postgresSource, savedPosition } from './source.ts';

const skipReason = postgresUnavailableReason();
if (skipReason) console.warn(`skipping the embedded Postgres source tests: ${skipReason}`);

let postgres: TestPostgres;
let nats: TestNats;
let db: pg.Client;

const envelopes = (): Promise<ChangeEvent[]> => storedChanges(nats.handle);

async function runOnce(): Promise<void> {
  const kv = await openConnectorBucket(nats.handle);
  const source = await postgresSource({ url: postgres.url, tables: ['public.posts'], topicPrefix: 'cdc', once: true }).start({ nats: nats.handle, kv, logger: silentLogger });
  const outcome = await source.done;
  expect(outcome).toEqual({ ok: true });
}

describe.skipIf(skipReason !== undefined)('embedded Postgres source', () => {
  beforeAll(async () => {
    postgres = await startTestPostgres();
    nats = await startTestNats();
    db = new pg.Client(postgres.url);
    db.on('error', () => undefined); // closed by the restart test
    await db.connect();
    await db.query('CREATE TABLE posts (id int PRIMARY KEY, title text, body text, n bigint)');
    await db.query("INSERT INTO posts VALUES (1, 'one', 'first', 10), (2, 'two', 'second', 20)");
  });
  afterAll(async () => {
    await db?.end().catch(() => undefined);
    await nats?.stop();
    await postgres?.stop();
  });

  it('snapshots in an exported snapshot, then streams each change with --once', async () => {
    await runOnce();
    const snap = await envelopes();
    expect(snap.map((e) => [e.op, e.after?.id, e.source.snapshot])).toEqual([
      ['r', 1, 'true'],
      ['r', 2, 'true'],
    ]);
    expect(snap[0]?.after).toEqual({ id: 1, title: 'one', body: 'first', n: '10' });
    expect(snap[0]?.source).toMatchObject({ connector: 'postgresql', name: 'cdc', db: 'postgres', schema: 'public', table: 'posts' });

    await db.query("INSERT INTO posts VALUES (3, 'three', 'third', 30)");
    await db.query("UPDATE posts SET body = 'first, edited' WHERE id = 1");
    await db.query('UPDATE posts SET id = 20 WHERE id = 2'); // key change
    await db.query('DELETE FROM posts WHERE id = 3');
    await db.query('ALTER TABLE posts REPLICA IDENTITY FULL');
    await db.query("UPDATE posts SET title = 'ONE' WHERE id = 1");
    await db.query('TRUNCATE posts');
    await runOnce();
    const changes = (await envelopes()).slice(2);
    expect(changes.map((e) => [e.op, (e.after ?? e.before)?.id ?? null])).toEqual([
      ['c', 3],
      ['u', 1],
      ['d', 2],
      ['c', 20],
      ['d', 3],
      ['u', 1],
      ['t', null],
    ]);
    expect(changes[1]?.before).toBeNull(); // REPLICA IDENTITY DEFAULT: no before image
    expect(changes[2]?.before).toEqual({ id: 2, title: null, body: null, n: null }); // key columns only
    expect(changes[5]?.before).toMatchObject({ title: 'one', body: 'first, edited' }); // FULL: the whole old row
    expect(changes.every((e) => typeof e.source.lsn === 'number' && e.source.txId !== null)).toBe(true);
  });

  it('resumes from the stored position: a second run re-sends nothing', async () => {
    const count = (await nats.handle.jsm.streams.info('DebeziumStream')).state.messages;
    await runOnce();
    expect((await nats.handle.jsm.streams.info('DebeziumStream')).state.messages).toBe(count);
    const kv = await openConnectorBucket(nats.handle);
    const position = await savedPosition({ kv }, 'spanda_cdc');
    const slot = (await db.query<{ lsn: string }>("SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = 'spanda_cdc'")).rows[0];
    expect(position).toMatchObject({ phase: 'streaming', slot: 'spanda_cdc', tables: ['public.posts'], lsn: slot?.lsn });
  });

  it('fills TOASTed values an update left unchanged (REPLICA IDENTITY DEFAULT) from the row', async () => {
    await db.query('ALTER TABLE posts REPLICA IDENTITY DEFAULT');
    const big = Array.from({ length: 3000 }, (_, i) => (i * 2654435761 % 4294967296).toString(36)).join(' '); // ~20 KB, stored out of line
    await db.query('INSERT INTO posts VALUES (7, $1, $2, 70)', ['seven', big]);
    await db.query("UPDATE posts SET title = 'SEVEN' WHERE id = 7");
    await runOnce();
    const last = (await envelopes()).at(-1);
    expect(last?.op).toBe('u');
    expect(last?.after).toMatchObject({ id: 7, title: 'SEVEN', n: '70' });
    expect(last?.after?.body).toBe(big);
  });

  it('keeps streaming after Postgres restarts (retrying while it is down), filling TOASTed values on a new connection', async () => {
    const kv = await openConnectorBucket(nats.handle);
    const source = await postgresSource({ url: postgres.url, tables: ['public.posts'], topicPrefix: 'cdc' }).start({ nats: nats.handle, kv, logger: silentLogger });
    try {
      await source.snapshotted;
      // Down: the source says it is retrying, and why; up again: running.
      await postgres.halt();
      await expect.poll(() => source.status().state, { timeout: 10_000 }).toBe('retrying');
      expect(source.status().lastError).toBeDefined();
      await postgres.resume();
      await expect.poll(() => source.status().state, { timeout: 20_000 }).toBe('running');
      await db.end().catch(() => undefined);
      db = new pg.Client(postgres.url);
      db.on('error', () => undefined); // closed when the server stops at the end
      await db.connect();
      const big = Array.from({ length: 3000 }, (_, i) => ((i * 40503) % 65536).toString(36)).join(' ');
      await db.query('INSERT INTO posts VALUES (8, $1, $2, 80)', ['eight', big]);
      await db.query("UPDATE posts SET title = 'EIGHT' WHERE id = 8");
      const deadline = Date.now() + 30_000;
      let last: ChangeEvent | undefined;
      while (Date.now() < deadline) {
        last = (await envelopes()).at(-1);
        if (last?.after?.title === 'EIGHT') break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(last?.op).toBe('u');
      expect(last?.after).toMatchObject({ id: 8, title: 'EIGHT', n: '80' });
      expect(last?.after?.body).toBe(big);
      expect(source.status().state).toBe('running');
    } finally {
      await source.stop();
    }
  }, 60_000);

  it('refuses a table without a replica identity before publishing it, so its UPDATEs keep working', async () => {
    await db.query('CREATE TABLE loose (id int, body text)');
    await db.query("INSERT INTO loose VALUES (1, 'a')");
    const kv = await openConnectorBucket(nats.handle);
    const start = postgresSource({ url: postgres.url, tables: ['public.loose'], topicPrefix: 'cdc3' }).start({ nats: nats.handle, kv, logger: silentLogger });
    await expect(start).rejects.toThrow(/table public\.loose cannot be replicated safely: it has no primary key, .* Add a primary key, or run ALTER TABLE "public"\."loose" REPLICA IDENTITY FULL/);
    await db.query("UPDATE loose SET body = 'b' WHERE id = 1");
    expect((await db.query("SELECT count(*)::int AS n FROM pg_publication_tables WHERE tablename = 'loose'")).rows[0]).toEqual({ n: 0 });
    await db.query('ALTER TABLE loose REPLICA IDENTITY FULL');
    const source = await postgresSource({ url: postgres.url, tables: ['public.loose'], topicPrefix: 'cdc3', once: true }).start({ nats: nats.handle, kv, logger: silentLogger });
    expect(await source.done).toEqual({ ok: true });
    await db.query("UPDATE loose SET body = 'c' WHERE id = 1");
  });

  it('--remove drops the slot, the publication, the saved position and the consumer; refused while a source streams', async () => {
    const cli = (...args: string[]) => runCli(['ingest', 'postgres', '--url', postgres.url, '--table', 'public.posts', ...args, '--nats-url', nats.server.url]);
    const ingested = await cli('--id-column', 'id', '--text-columns', 'title', '--once');
    expect(ingested.code, ingested.stderr).toBe(0);
    const slotName = 'spanda_public_posts';
    const slots = async () => (await db.query<{ slot_name: string }>('SELECT slot_name FROM pg_replication_slots')).rows.map((r) => r.slot_name);
    expect(await slots()).toContain(slotName);
    const kv = await openConnectorBucket(nats.handle);
    expect(await savedPosition({ kv }, slotName)).toBeDefined();

    const running = await postgresSource({ url: postgres.url, tables: ['public.posts'], topicPrefix: 'cdc', slot: slotName }).start({ nats: nats.handle, kv, logger: silentLogger });
    await running.snapshotted;
    const refused = await cli('--remove');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/replication slot spanda_public_posts is in use .*: stop the Spanda process streaming public\.posts first/);
    await running.stop();

    const removed = await cli('--remove', '--json');
    expect(removed.code, removed.stderr).toBe(0);
    expect(JSON.parse(removed.stdout)).toMatchObject({ table: 'public.posts', slot: { name: slotName }, publication: 'dropped', position: 'deleted', consumer: 'deleted', warnings: [] });
    expect(await slots()).not.toContain(slotName);
    expect((await db.query("SELECT 1 FROM pg_publication WHERE pubname = 'spanda_public_posts'")).rowCount).toBe(0);
    expect(await savedPosition({ kv }, slotName)).toBeUndefined();
    await expect(nats.handle.jsm.consumers.info('DebeziumStream', 'spanda-cdc-cdc-public-posts')).rejects.toThrow(/consumer not found/);
    // Twice is harmless: nothing left to remove.
    const again = await cli('--remove');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/no replication slot; not in a publication; no saved position; no change consumer/);
  }, 60_000);

  it('takes a new snapshot when Postgres invalidated the slot (max_slot_wal_keep_size), instead of retrying it forever', async () => {
    const kv = await openConnectorBucket(nats.handle);
    const once = () => postgresSource({ url: postgres.url, tables: ['public.posts'], topicPrefix: 'cdc4', once: true }).start({ nats: nats.handle, kv, logger: silentLogger });
    expect(await (await once()).done).toEqual({ ok: true });
    try {
      await db.query("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'");
      await db.query('SELECT pg_reload_conf()');
      await db.query("INSERT INTO posts VALUES (40, 'forty', 'written while the slot was lost', 400)");
      for (let i = 0; i < 4; i++) await db.query("INSERT INTO posts VALUES ($1, 'filler', 'x', 0); SELECT pg_switch_wal()".replace('$1', String(100 + i)));
      await db.query('CHECKPOINT');
      expect((await db.query("SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'spanda_cdc4'")).rows[0]).toEqual({ wal_status: 'lost' });
    } finally {
      await db.query('ALTER SYSTEM RESET max_slot_wal_keep_size');
      await db.query('SELECT pg_reload_conf()');
    }
    const source = await once();
    expect(await source.done).toEqual({ ok: true });
    expect(source.status().details).toMatchObject({ phase: 'streaming', snapshotRows: expect.any(Number) });
    const reads = (await envelopes()).filter((e) => e.source.name === 'cdc4' && e.op === 'r');
    expect(reads.map((e) => e.after?.id)).toContain(40);
    expect((await db.query<{ wal_status: string }>("SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'spanda_cdc4'")).rows[0]?.wal_status).not.toBe('lost');
  }, 60_000);

  it('waits while another process holds the slot (its snapshot under way) instead of dropping it, and takes over once it is free', async () => {
    const kv = await openConnectorBucket(nats.handle);
    const once = () => postgresSource({ url: postgres.url, tables: ['public.posts'], topicPrefix: 'cdc5', once: true }).start({ nats: nats.handle, kv, logger: silentLogger });
    // The other process: a slot created on a replication connection that stays open, as during a snapshot.
    const held = await createSlotWithSnapshot(postgres.url, 'spanda_cdc5');
    try {
      const outcome = await (await once()).done;
      expect(outcome.ok).toBe(false);
      expect(outcome.error).toMatch(/replication slot spanda_cdc5 is in use by another process \(pid \d+\): this source waits and tries again/);
      // Not dropped under the other process.
      expect((await db.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = 'spanda_cdc5'")).rowCount).toBe(1);
    } finally {
      await held.replication.end();
    }
    expect(await (await once()).done).toEqual({ ok: true });
    expect((await envelopes()).filter((e) => e.source.name === 'cdc5' && e.op === 'r').length).toBeGreaterThan(0);
  }, 60_000);

  it('refuses a server without wal_level=logical, naming the fix', async () => {
    const replica = await startTestPostgres({ wal_level: 'replica' });
    try {
      const kv = await openConnectorBucket(nats.handle);
      await expect(postgresSource({ url: replica.url, tables: ['public.posts'], topicPrefix: 'cdc2' }).start({ nats: nats.handle, kv, logger: silentLogger })).rejects.toThrow(
        /wal_level=replica; logical replication needs wal_level=logical/,
      );
      // The command says the same and exits 1, without a "consumer failed" from its connection draining on the way out.
      const cli = await runCli(['ingest', 'postgres', '--url', replica.url, '--table', 'public.posts', '--id-column', 'id', '--text-columns', 'title', '--once', '--nats-url', nats.server.url]);
      expect(cli.code).toBe(1);
      expect(cli.stderr).toMatch(/spanda: Postgres runs with wal_level=replica; logical replication needs wal_level=logical/);
      expect(cli.stderr).not.toMatch(/consumer failed|error/i);
    } finally {
      await replica.stop();
    }
  });
});
