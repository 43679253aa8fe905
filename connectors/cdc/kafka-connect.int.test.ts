// spanda debezium register against a local fake of the documented Kafka Connect REST API (validate, PUT config, status).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ValidationError } from '../../lib/errors.ts';
import { connectConnector, serverProperties, type DebeziumDeployment } from './debezium-config.ts';
import { registerConnector } from './kafka-connect.ts';

/** The parts of Kafka Connect's REST API `register` uses, with its documented response shapes. */
function fakeConnect(): { server: Server; calls: string[]; connectors: Map<string, Record<string, string>> } {
  const connectors = new Map<string, Record<string, string>>();
  const started = new Map<string, number>();
  const calls: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      calls.push(`${req.method} ${req.url}`);
      const send = (status: number, json: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(json));
      };
      const url = decodeURIComponent(req.url ?? '');
      let m = /^\/connector-plugins\/([^/]+)\/config\/validate$/.exec(url);
      if (m && req.method === 'PUT') {
        const config = JSON.parse(body) as Record<string, string>;
        const required = ['connector.class', 'database.hostname', 'topic.prefix', 'table.include.list'];
        const configs = Object.keys({ ...config, ...Object.fromEntries(required.map((k) => [k, ''])) }).map((name) => ({
          definition: { name },
          value: { name, value: config[name] ?? null, recommended_values: [], errors: !config[name] && required.includes(name) ? [`Missing required configuration "${name}" which has no default value.`] : [], visible: true },
        }));
        if (config['connector.class'] !== m[1]) return send(400, { error_code: 400, message: 'Connector class mismatch' });
        return send(200, { name: m[1], error_count: configs.reduce((n, c) => n + c.value.errors.length, 0), groups: ['Common'], configs });
      }
      m = /^\/connectors\/([^/]+)\/config$/.exec(url);
      if (m && req.method === 'PUT') {
        const name = m[1] as string;
        const existed = connectors.has(name);
        connectors.set(name, JSON.parse(body) as Record<string, string>);
        started.set(name, Date.now());
        return send(existed ? 200 : 201, { name, config: connectors.get(name), tasks: [], type: 'source' });
      }
      m = /^\/connectors\/([^/]+)\/status$/.exec(url);
      if (m && req.method === 'GET') {
        const name = m[1] as string;
        if (!connectors.has(name)) return send(404, { error_code: 404, message: `No status found for connector ${name}` });
        const running = Date.now() - (started.get(name) ?? 0) > 300;
        const failing = connectors.get(name)?.['database.hostname'] === 'unreachable';
        const state = failing ? 'FAILED' : running ? 'RUNNING' : 'UNASSIGNED';
        return send(200, {
          name,
          connector: { state, worker_id: 'connect:8083', ...(failing ? { trace: 'org.postgresql.util.PSQLException: Connection refused\n\tat …' } : {}) },
          tasks: running || failing ? [{ id: 0, state, worker_id: 'connect:8083' }] : [],
          type: 'source',
        });
      }
      send(404, { error_code: 404, message: 'HTTP 404 Not Found' });
    });
  });
  return { server, calls, connectors };
}

const deployment: DebeziumDeployment = {
  tables: ['public.articles'],
  databaseUrl: 'postgres://spanda:s%40cret@db.internal:5433/blog',
  topicPrefix: 'dbserver1',
  natsUrl: 'nats://nats:4222',
  name: 'spanda-blog',
};

let fake: ReturnType<typeof fakeConnect>;
let base: string;

beforeAll(async () => {
  fake = fakeConnect();
  await new Promise<void>((r) => fake.server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => fake.server.close(() => r())));

describe('debezium config', () => {
  it('writes the NATS JetStream sink and the Postgres source for the tables', () => {
    const props = serverProperties(deployment);
    expect(props).toContain('debezium.sink.type=nats-jetstream\n');
    expect(props).toContain('debezium.sink.nats-jetstream.url=nats://nats:4222\n');
    expect(props).toContain('debezium.sink.nats-jetstream.subjects=dbserver1.>\n');
    expect(props).toContain('debezium.sink.nats-jetstream.create-stream=true\n');
    expect(props).toContain('debezium.source.database.password=s@cret\n');
    expect(props).toContain('debezium.source.database.port=5433\n');
    expect(props).toContain('debezium.source.table.include.list=public.articles\n');
    expect(props).toContain('debezium.source.plugin.name=pgoutput\n');
    expect(connectConnector(deployment).config).toMatchObject({ 'connector.class': 'io.debezium.connector.postgresql.PostgresConnector', 'database.dbname': 'blog', 'topic.prefix': 'dbserver1' });
  });

  it('refuses bad input with the flag to fix', () => {
    expect(() => serverProperties({ ...deployment, tables: ['articles'] })).toThrow(/--table "articles": use schema.table/);
    expect(() => serverProperties({ ...deployment, databaseUrl: 'mysql://x' })).toThrow(ConfigError);
    expect(() => serverProperties({ ...deployment, topicPrefix: 'a.b' })).toThrow(/--topic-prefix/);
  });
});

describe('debezium register (Kafka Connect REST API)', () => {
  it('validates, creates, waits for RUNNING, and updates on a second run', async () => {
    const first = await registerConnector(base, connectConnector(deployment), { timeoutMs: 5000 });
    expect(first.created).toBe(true);
    expect(first.status.connector.state).toBe('RUNNING');
    expect(fake.calls.slice(0, 2)).toEqual(['PUT /connector-plugins/io.debezium.connector.postgresql.PostgresConnector/config/validate', 'PUT /connectors/spanda-blog/config']);
    expect(fake.connectors.get('spanda-blog')?.['table.include.list']).toBe('public.articles');

    const second = await registerConnector(base, connectConnector({ ...deployment, tables: ['public.articles', 'public.notes'] }), { timeoutMs: 5000 });
    expect(second.created).toBe(false);
    expect(fake.connectors.get('spanda-blog')?.['table.include.list']).toBe('public.articles,public.notes');
  });

  it('reports validation errors per key and stores nothing', async () => {
    const connector = connectConnector({ ...deployment, name: 'broken' });
    const { 'database.hostname': _, ...config } = connector.config;
    await expect(registerConnector(base, { name: 'broken', config: { ...config, 'database.hostname': '' } })).rejects.toThrow(
      /database\.hostname: Missing required configuration/,
    );
    expect(fake.connectors.has('broken')).toBe(false);
  });

  it('fails with the task trace when the connector fails', async () => {
    const err = await registerConnector(base, connectConnector({ ...deployment, name: 'down', databaseUrl: 'postgres://u:p@unreachable:5432/db' }), { timeoutMs: 5000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as Error).message).toMatch(/connector down failed: org.postgresql.util.PSQLException: Connection refused/);
  });
});
