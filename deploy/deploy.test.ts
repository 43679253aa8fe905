// Deployment files stay in step with the code: every metric the alerts and dashboard use is one Spanda exports.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { registry } from '../lib/metrics.ts';

const files = ['deploy/prometheus/spanda.rules.yml', 'deploy/grafana/dashboards/spanda.json'];

describe('deploy/', () => {
  it('refers only to metrics that lib/metrics.ts registers', async () => {
    const exported = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
    for (const file of files) {
      const text = await readFile(file, 'utf8');
      const used = new Set([...text.matchAll(/\bspanda_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, '')));
      expect(used.size).toBeGreaterThan(0);
      for (const name of used) expect(exported, `${file} uses ${name}`).toContain(name);
    }
  });

  it('has a dashboard Grafana can load', async () => {
    const dashboard = JSON.parse(await readFile('deploy/grafana/dashboards/spanda.json', 'utf8')) as { uid: string; panels: Array<{ targets: Array<{ expr: string }> }> };
    expect(dashboard.uid).toBe('spanda-overview');
    expect(dashboard.panels.every((p) => p.targets.length > 0)).toBe(true);
  });
});
