// Date and timestamp values from the embedded Postgres source, real Postgres and nats-server: independent of the process's and the server's time zones, the same in snapshot and stream, pg's global parsers untouched.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/log.ts';
import { startTestNats, type TestNats } from '../../test/helpers/nats.ts';
import { postgresUnavailableReason, startTestPostgres, type TestPostgres } from '../../test/helpers/postgres.ts';
import type { ChangeEvent } from '../cdc/envelope.ts';
import { storedChanges } from '../../test/helpers/cdc-envelopes.ts';
import { openConnectorBucket } from '../connector.ts';
import { postgresSource } from './source.ts';

// The process runs east of UTC (vitest runs each file in a process of its own), the server in yet another zone, with a non-ISO DateStyle.
const originalTz = process.env.TZ;
process.env.TZ = 'Europe/Berlin';

const skipReason = postgresUnavailableReason();
if (skipReason) console.warn(`skipping the embedded Postgres source value tests: ${skipReason}`);

let postgres: TestPostgres;
let nats: TestNats;
let db: pg.Client;

const VALUES = `'2025-06-01', '2025-06-01 00:30:00', '2025-06-01 00:30:00.123456', '2025-06-01 00:30:00+00', '2025-06-01 00:30:00.123456+00',
  'infinity', '-infinity', 'infinity', '{2025-06-01,NULL}', '{"2025-06-01 00:30:00.5"}'`;

const EXPECTED = {
  d: '2025-06-01',
  ts: '2025-06-01T00:30:00',
  ts_us: '2025-06-01T00:30:00.123456',
  tstz: '2025-06-01T00:30:00.000Z',
  tstz_us: '2025-06-01T00:30:00.123456Z',
  tstz_inf: 'infinity',
  tstz_ninf: '-infinity',
  d_inf: 'infinity',
  d_arr: ['2025-06-01', null],
  ts_arr: ['2025-06-01T00:30:00.5'],
};

const envelopes = (): Promise<ChangeEvent[]> => storedChanges(nats.handle);

async function runOnce(): Promise<void> {
  const kv = await openConnectorBucket(nats.handle);
  const source = await postgresSource({ url: postgres.url, tables: ['public.dated'], topicPrefix: 'cdc', once: true }).start({ nats: nats.handle, kv, logger: silentLogger });
  expect(await source.done).toEqual({ ok: true });
}

describe.skipIf(skipReason !== undefined)('embedded Postgres source: date and time values', () => {
  beforeAll(async () => {
    postgres = await startTestPostgres({ timezone: 'Asia/Kolkata', datestyle: 'SQL,DMY' });
    nats = await startTestNats();
    db = new pg.Client(postgres.url);
    db.on('error', () => undefined);
    await db.connect();
    await db.query(`CREATE TABLE dated (id int PRIMARY KEY, d date, ts timestamp, ts_us timestamp, tstz timestamptz, tstz_us timestamptz,
      tstz_inf timestamptz, tstz_ninf timestamptz, d_inf date, d_arr date[], ts_arr timestamp[])`);
    await db.query(`INSERT INTO dated VALUES (1, ${VALUES})`);
  });
  afterAll(async () => {
    await db?.end().catch(() => undefined);
    await nats?.stop();
    await postgres?.stop();
    if (originalTz === undefined) delete process.env.TZ;
    else process.env.TZ = originalTz;
  });

  it('keeps dates, timestamps (no zone invented), infinity and microseconds, whatever the time zones, the same in snapshot and stream', async () => {
    expect(new Date(2025, 5, 1).getTimezoneOffset()).toBe(-120); // the process really runs in Berlin summer time
    expect((await db.query('SHOW DateStyle')).rows[0]).toEqual({ DateStyle: 'SQL, DMY' });
    await runOnce();
    await db.query(`INSERT INTO dated VALUES (2, ${VALUES})`);
    await runOnce();
    const events = await envelopes();
    expect(events.map((e) => [e.op, e.after?.id])).toEqual([
      ['r', 1],
      ['c', 2],
    ]);
    expect(events[0]?.after).toEqual({ id: 1, ...EXPECTED });
    expect(events[1]?.after).toEqual({ id: 2, ...EXPECTED });
  });

  it("leaves pg's global type parsers to other users in the process", async () => {
    await db.query('SET DateStyle = ISO');
    const r = await db.query<{ d: unknown; ts: unknown }>('SELECT d, ts FROM dated WHERE id = 1');
    expect(r.rows[0]?.d).toBeInstanceOf(Date);
    expect(r.rows[0]?.ts).toBeInstanceOf(Date);
  });
});
