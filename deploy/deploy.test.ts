// Deployment files stay in step with the code: every metric the alerts and dashboard use is one Spanda exports, named by Prometheus conventions.
import { readFile } from 'node:fs/promises';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../lib/metrics.ts';

const files = ['deploy/prometheus/spanda.rules.yml', 'deploy/grafana/dashboards/spanda.json'];

interface Dashboard {
  uid: string;
  panels: Array<{ type: string; title: string; targets?: Array<{ expr: string }> }>;
}

const exported = async () => new Set((await createMetrics(new Registry()).registry.getMetricsAsJSON()).map((m) => m.name));
const metricNamesIn = (text: string) => new Set([...text.matchAll(/\bspanda_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, '')));

describe('deploy/', () => {
  it('refers only to metrics that lib/metrics.ts registers', async () => {
    const names = await exported();
    for (const file of files) {
      const used = metricNamesIn(await readFile(file, 'utf8'));
      expect(used.size).toBeGreaterThan(0);
      for (const name of used) expect(names, `${file} uses ${name}`).toContain(name);
    }
  });

  it('shows every Spanda metric on the dashboard (the process metrics aside)', async () => {
    const used = metricNamesIn(await readFile('deploy/grafana/dashboards/spanda.json', 'utf8'));
    const missing = [...(await exported())].filter((n) => !n.startsWith('spanda_process_') && !used.has(n));
    expect(missing).toEqual([]);
  });

  it('names metrics by Prometheus conventions with bounded labels', async () => {
    const metrics = await createMetrics(new Registry()).registry.getMetricsAsJSON();
    for (const m of metrics.filter((x) => !x.name.startsWith('spanda_process_'))) {
      const type = String(m.type);
      expect(m.name, m.name).toMatch(/^spanda_[a-z_]+$/);
      if (type === 'counter') expect(m.name, `${m.name} is a counter`).toMatch(/_total$/);
      else expect(m.name, `${m.name} is not a counter`).not.toMatch(/_total$/);
      if (type === 'histogram') expect(m.name, `${m.name}: a histogram of seconds or of a count`).toMatch(/_(seconds|size)$/);
      expect(m.name, `${m.name}: base units`).not.toMatch(/_(ms|milliseconds|minutes|kb|mb)$/);
      const labels = (m as { labelNames?: readonly string[] }).labelNames ?? [];
      for (const label of labels) expect(['docId', 'doc', 'id', 'document', 'query', 'text', 'tenant', 'subject', 'chunkId', 'key'], `${m.name}{${label}}`).not.toContain(label);
    }
  });

  it('has a dashboard Grafana can load, with the sections operators look for', async () => {
    const dashboard = JSON.parse(await readFile('deploy/grafana/dashboards/spanda.json', 'utf8')) as Dashboard;
    expect(dashboard.uid).toBe('spanda-overview');
    const panels = dashboard.panels.filter((p) => p.type !== 'row');
    expect(panels.every((p) => (p.targets ?? []).length > 0 && p.targets?.every((t) => t.expr.trim() !== ''))).toBe(true);
    const rows = dashboard.panels.filter((p) => p.type === 'row').map((p) => p.title);
    expect(rows).toEqual(['Throughput', 'Lag', 'Freshness', 'Errors and DLQ', 'Embedder and processors', 'Queries and HTTP', 'Projections and generations', 'Connectors', 'Disk']);
  });

  it('alerts on lag, freshness, the DLQ, a stalled projector, error rates, a connector down and a filling disk', async () => {
    const rules = await readFile('deploy/prometheus/spanda.rules.yml', 'utf8');
    const alerts = [...rules.matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
    for (const name of ['SpandaDiskAlmostFull', 'SpandaDiskFillingUp', 'SpandaConnectorDown', 'SpandaConsumerLagGrowing', 'SpandaFreshnessBudgetBurnFast', 'SpandaDlqNotEmpty', 'SpandaProjectorStalled', 'SpandaProcessorErrorRate', 'SpandaApiErrors']) {
      expect(alerts).toContain(name);
    }
    // The burn-rate alerts read the freshness bucket at the SLO threshold: it must be one of the histogram's buckets.
    const { FRESHNESS_BUCKETS, FRESHNESS_SLO_SECONDS } = await import('../lib/metrics.ts');
    expect(FRESHNESS_BUCKETS).toContain(FRESHNESS_SLO_SECONDS);
    expect(rules).toContain(`le="${FRESHNESS_SLO_SECONDS}"`);
  });
});
