// A node's connectors role on a real Postgres: down at start (`retrying` and why, then ingested once it is up), and several tables on one slot (removed with --remove --name).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonApi } from '../test/helpers/http.ts';
import { postgresUnavailableReason, startTestPostgres, type TestPostgres } from '../test/helpers/postgres.ts';
import { startTestSystem, type TestSystem } from '../test/helpers/system.ts';
import { startTestNats, tempDir } from '../test/helpers/nats.ts';
import { freePort } from '../streams/server.ts';
import { runCli } from '../test/helpers/cli.ts';

const skipReason = postgresUnavailableReason();
if (skipReason) console.warn(`skipping the supervised connector tests: ${skipReason}`);

let postgres: TestPostgres;
let node: TestSystem | undefined;
const api = jsonApi(() => node?.system.apiUrl ?? '');

async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.skipIf(skipReason !== undefined)('connectors under supervision', () => {
  beforeAll(async () => {
    postgres = await startTestPostgres();
    const db = new pg.Client(postgres.url);
    await db.connect();
    await db.query('CREATE TABLE notes (id int PRIMARY KEY, body text)');
    await db.query("INSERT INTO notes VALUES (1, 'the heron waits at the weir'), (2, 'otters slide down the bank')");
    await db.end();
    await postgres.halt();
  });
  afterAll(async () => {
    await node?.destroy();
    await postgres?.stop();
  });

  it('keeps retrying a Postgres that is down at start, reports why, and ingests the table once it is up', async () => {
    const dir = await tempDir('spanda-connectors-');
    const file = path.join(dir, 'connectors.json');
    await writeFile(file, JSON.stringify([{ kind: 'postgres', url: postgres.url, table: 'public.notes', mapping: { idColumns: ['id'], textColumns: ['body'] } }]));
    node = await startTestSystem({ SPANDA_CONNECTORS_FILE: file });

    const waiting = await until(
      () => api('GET', '/v1/connectors'),
      (r) => r.json?.connectors?.some((c: { state: string }) => c.state === 'retrying'),
    );
    const source = waiting.json.connectors.find((c: { name: string }) => c.name.startsWith('postgres:'));
    expect(source).toMatchObject({ state: 'retrying', lastError: expect.stringMatching(/cannot connect to Postgres at .*ECONNREFUSED/) });
    expect(source.details.restarts).toBeGreaterThanOrEqual(1);
    const metrics = await (await fetch(`${node.system.apiUrl}/metrics`)).text();
    expect(metrics).toMatch(/spanda_connector_up\{connector="postgres:spanda_public_notes"\} 0/);
    expect(metrics).toMatch(/spanda_connector_restarts_total\{connector="postgres:spanda_public_notes"\} [1-9]/);

    await postgres.resume();
    const found = await until(
      () => api('POST', '/v1/query', { query: 'heron weir', mode: 'keyword', k: 1 }),
      (r) => r.json?.results?.[0]?.docId === '1',
    );
    expect(found.json.results[0]).toMatchObject({ docId: '1', source: 'notes' });
    const running = (await api('GET', '/v1/connectors')).json.connectors;
    expect(running.map((c: { name: string; state: string }) => [c.name, c.state]).sort()).toEqual([
      ['cdc:cdc.public.notes', 'running'],
      ['postgres:spanda_public_notes', 'running'],
    ]);
    expect(await (await fetch(`${node.system.apiUrl}/metrics`)).text()).toMatch(/spanda_connector_up\{connector="postgres:spanda_public_notes"\} 1/);
  }, 90_000);

  it('says so when this process runs no connectors', async () => {
    await node?.destroy();
    node = await startTestSystem();
    const r = await api('GET', '/v1/connectors');
    expect(r.status).toBe(200);
    expect(r.json.connectors).toEqual([]);
    expect(r.json.detail).toMatch(/SPANDA_CONNECTORS_FILE/);
  });

  it('reads several tables on one slot, and --remove --name lets go of the slot once the node stops', async () => {
    await node?.destroy();
    const db = new pg.Client(postgres.url);
    await db.connect();
    await db.query('CREATE TABLE birds (id int PRIMARY KEY, body text)');
    await db.query('CREATE TABLE fish (id int PRIMARY KEY, body text)');
    await db.query("INSERT INTO birds VALUES (1, 'a kingfisher dives')");
    await db.query("INSERT INTO fish VALUES (1, 'a pike lurks in the reeds')");
    const nats = await startTestNats();
    try {
      const dir = await tempDir('spanda-connectors-');
      const file = path.join(dir, 'connectors.json');
      const mapping = { idColumns: ['id'], textColumns: ['body'] };
      await writeFile(file, JSON.stringify([{ kind: 'postgres', url: { env: 'SPANDA_TEST_WILDLIFE_URL' }, name: 'wildlife', tables: { 'public.birds': mapping, 'public.fish': mapping } }]));
      process.env.SPANDA_TEST_WILDLIFE_URL = postgres.url;
      node = await startTestSystem({ SPANDA_CONNECTORS_FILE: file, NATS_URL: nats.server.url });
      for (const [query, source] of [['kingfisher', 'birds'], ['pike reeds', 'fish']] as const) {
        const found = await until(
          () => api('POST', '/v1/query', { query, mode: 'keyword', k: 1 }),
          (r) => r.json?.results?.[0]?.source === source,
        );
        expect(found.json.results[0]).toMatchObject({ docId: '1', source });
      }
      const names = (await api('GET', '/v1/connectors')).json.connectors.map((c: { name: string; state: string }) => `${c.name} ${c.state}`);
      expect(names).toEqual(['cdc:cdc.public.birds running', 'cdc:cdc.public.fish running', 'postgres:spanda_wildlife running']);
      const slots = async () => (await db.query<{ slot_name: string }>("SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE 'spanda_%'")).rows.map((r) => r.slot_name).sort();
      expect(await slots()).toEqual(['spanda_public_notes', 'spanda_wildlife']);

      const remove = (natsUrl = nats.server.url) => runCli(['ingest', 'postgres', '--url', postgres.url, '--name', 'wildlife', '--remove', '--json', '--nats-url', natsUrl]);
      const refused = await remove();
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/replication slot spanda_wildlife is in use .*: stop the Spanda process streaming the tables of slot spanda_wildlife first/);
      await node.stop();
      node = undefined;
      // NATS away: Postgres lets go of the slot and publication; what is kept in NATS is named, exit 1.
      const partly = await remove(`nats://127.0.0.1:${await freePort()}`);
      expect(partly.code).toBe(1);
      expect(JSON.parse(partly.stdout)).toMatchObject({ tables: ['public.birds', 'public.fish'], slot: { name: 'spanda_wildlife' }, publication: 'dropped', position: 'kept', consumer: 'kept' });
      expect(JSON.parse(partly.stdout).warnings[0]).toMatch(/NATS was not reached: the saved position .* and the change consumers of public\.birds, public\.fish are left; run this again with NATS up/);
      expect(await slots()).toEqual(['spanda_public_notes']);
      // Again with NATS: the publication is gone, and the saved position still names the tables whose consumers go.
      const removed = await remove();
      expect(removed.code, removed.stderr).toBe(0);
      expect(JSON.parse(removed.stdout)).toMatchObject({ tables: ['public.birds', 'public.fish'], publication: 'absent', position: 'deleted', consumer: 'deleted', warnings: [] });
      await expect(nats.handle.jsm.consumers.info('DebeziumStream', 'spanda-cdc-cdc-public-fish')).rejects.toThrow(/consumer not found/);
    } finally {
      delete process.env.SPANDA_TEST_WILDLIFE_URL;
      await db.end();
      await node?.destroy();
      node = undefined;
      await nats.stop();
    }
  }, 120_000);
});
