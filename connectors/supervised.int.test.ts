// A node's connectors role with Postgres down at start: GET /v1/connectors and the metrics say `retrying` and why, and the table is ingested once Postgres is up.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonApi } from '../test/helpers/http.ts';
import { postgresUnavailableReason, startTestPostgres, type TestPostgres } from '../test/helpers/postgres.ts';
import { startTestSystem, type TestSystem } from '../test/helpers/system.ts';
import { tempDir } from '../test/helpers/nats.ts';

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
});
