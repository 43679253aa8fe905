// A real Prometheus (Debian's package) scrapes a running Spanda node (with an RSS connector) every second; every dashboard panel's query must return data.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../streams/server.ts';
import { startTestSystem, type TestSystem } from '../test/helpers/system.ts';
import { findBinary } from '../test/helpers/binaries.ts';

const prometheusBin = findBinary('prometheus', 'PROMETHEUS_BIN');
if (!prometheusBin) console.warn('[deploy] prometheus not found (apt-get install prometheus, or set PROMETHEUS_BIN): dashboard query test skipped');

interface Panel {
  type: string;
  title: string;
  targets?: Array<{ expr: string; refId: string }>;
}
interface QueryResponse {
  status: string;
  error?: string;
  data?: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

/** Grafana's variables as a 1 s scrape makes them. */
const grafanaExpr = (expr: string) => expr.replaceAll('$__rate_interval', '1m').replaceAll('$__interval', '5s').replaceAll('$__range', '5m');

describe.skipIf(!prometheusBin)('the Grafana dashboard against a real Prometheus', () => {
  let node: TestSystem;
  let prometheus: ChildProcess | undefined;
  let promUrl = '';
  let dir = '';
  let log = '';
  let feedServer: Server | undefined;

  async function promQuery(expr: string): Promise<QueryResponse> {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    return (await res.json()) as QueryResponse;
  }

  const post = (p: string, body: unknown) =>
    fetch(`${node.system.apiUrl}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'spanda-prom-'));
    // A feed for the connectors' panels, polled every 2 s.
    const feed = await readFile('connectors/rss/fixtures/medium.xml');
    feedServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/rss+xml' }).end(feed));
    await new Promise<void>((resolve) => feedServer?.listen(0, '127.0.0.1', resolve));
    const feedUrl = `http://127.0.0.1:${(feedServer.address() as AddressInfo).port}/feed`;
    await writeFile(path.join(dir, 'connectors.json'), JSON.stringify([{ kind: 'rss', feeds: [feedUrl], every: '2s' }]));
    node = await startTestSystem({ SPANDA_CONNECTORS_FILE: path.join(dir, 'connectors.json') });
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    const target = new URL(node.system.apiUrl).host;
    await copyFile('deploy/prometheus/spanda.rules.yml', path.join(dir, 'spanda.rules.yml'));
    await writeFile(
      path.join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        'rule_files: [spanda.rules.yml]',
        'scrape_configs:',
        '  - job_name: spanda-api',
        `    static_configs: [{ targets: ["${target}"] }]`,
        '',
      ].join('\n'),
    );
    prometheus = spawn(
      prometheusBin as string,
      [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-8000)));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ready = await fetch(`${promUrl}/-/ready`).then((r) => r.ok, () => false);
      if (ready) break;
      if (Date.now() > deadline || prometheus.exitCode !== null) throw new Error(`prometheus did not start:\n${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 90_000);

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((r) => prometheus?.once('exit', r));
      prometheus.kill('SIGTERM');
      await exited;
    }
    await node?.destroy();
    feedServer?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('has data for every panel query once documents and queries flowed', async () => {
    // Rates need samples before and after the traffic: wait for the first scrapes of the node.
    await expect.poll(async () => (await promQuery('count_over_time(up{job="spanda-api"}[1m])')).data?.result[0]?.value[1], { timeout: 20_000, interval: 250 }).toMatch(/^[2-9]|\d\d/);
    // Traffic for several scrapes: documents through every stage, queries in every mode (one waiting for its write).
    let lastSeq = 0;
    for (let round = 0; round < 6; round++) {
      const res = await post('/v1/documents', {
        documents: [0, 1, 2].map((i) => ({ id: `doc-${round}-${i}`, title: `Doc ${round}.${i}`, text: `Round ${round}: okapi giraffe forest ${i}. `.repeat(20) })),
      });
      expect(res.status).toBe(202);
      const accepted = ((await res.json()) as { accepted: Array<{ seq: number }> }).accepted;
      lastSeq = Math.max(lastSeq, ...accepted.map((a) => a.seq));
      for (const mode of ['hybrid', 'keyword', 'vector']) {
        const q = await post('/v1/query', { query: 'okapi forest', mode, after_seq: lastSeq });
        expect(q.status, await q.clone().text()).toBe(200);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    // Let Prometheus scrape what the last round produced.
    await expect.poll(async () => (await promQuery('sum(spanda_queries_total)')).data?.result[0]?.value[1], { timeout: 15_000, interval: 500 }).toBe('18');

    const dashboard = JSON.parse(await readFile('deploy/grafana/dashboards/spanda.json', 'utf8')) as { panels: Panel[] };
    const empty: string[] = [];
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      for (const target of panel.targets ?? []) {
        const res = await promQuery(grafanaExpr(target.expr));
        expect(res.status, `${panel.title} ${target.refId}: ${res.error ?? ''}`).toBe('success');
        const values = (res.data?.result ?? []).map((r) => Number(r.value[1]));
        if (!values.some((v) => Number.isFinite(v))) empty.push(`${panel.title} [${target.refId}] ${target.expr} → ${JSON.stringify(res.data?.result ?? [])}`);
      }
    }
    expect(empty, 'panel queries without data').toEqual([]);

    // The rules load in the real server and nothing fires on a healthy node.
    const rules = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: Array<{ name: string; health: string; state: string }> }> } };
    const all = rules.data.groups.flatMap((g) => g.rules);
    expect(all.length).toBeGreaterThan(5);
    expect(all.filter((r) => r.health !== 'ok' && r.health !== 'unknown')).toEqual([]);
    expect(all.filter((r) => r.state === 'firing').map((r) => r.name)).toEqual([]);
  }, 120_000);
});
