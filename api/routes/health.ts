// Liveness (/healthz: the process answers), readiness (/readyz: NATS connected, store open, projection state) and /metrics.
import { Hono } from 'hono';
import { errorMessage } from '../../lib/errors.ts';
import { defaultMetrics } from '../../lib/metrics.ts';
import { redactUrl } from '../../lib/log.ts';
import { principalOf } from '../auth.ts';
import type { ApiDeps } from '../deps.ts';

/** JetStream silent this long (two probes or more) makes the node not ready: publishing fails meanwhile. */
export const JETSTREAM_SILENT_NOT_READY_MS = 20_000;

/** Connected, and JetStream answering: what publishing needs. */
export function natsCheck(deps: Pick<ApiDeps, 'nats' | 'jetstream'>): { ok: boolean; detail?: string } {
  const url = redactUrl(deps.nats.url);
  if (!deps.nats.connected()) return { ok: false, detail: `not connected to ${url}; publishing answers 503 until it reconnects` };
  const silentMs = deps.jetstream?.silentForMs() ?? 0;
  if (silentMs >= JETSTREAM_SILENT_NOT_READY_MS) {
    return { ok: false, detail: `JetStream at ${url} has not answered for ${Math.round(silentMs / 1000)} s; publishing fails until it does (a local nats-server is restarted after 60 s, or as soon as its disk, full meanwhile, has room)` };
  }
  return { ok: true };
}

export function healthRoutes(deps: ApiDeps): Hono {
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  app.get('/readyz', async (c) => {
    const checks: Record<string, { ok: boolean; detail?: string }> = {};
    checks.nats = natsCheck(deps);
    const served = (() => {
      try {
        return deps.serving.current();
      } catch {
        return undefined;
      }
    })();
    try {
      const stats = await deps.serving.use((g) => g.store.stats());
      // Counts describe the tenants' data, and /readyz answers anyone (probes carry no credentials): shown only when enabled.
      // An admin key sees them too.
      const counted = deps.readyzDetail || principalOf(c)?.scopes.has('admin');
      const loading = stats.keywordIndexLoading;
      const details = [
        ...(counted ? [`${stats.documents} documents, ${stats.chunks} chunks, ${stats.vectors} vectors`] : []),
        ...(loading
          ? [`keyword index loading${counted ? ` (${loading.chunks} of ${stats.chunks} chunks)` : ''}: the first keyword query finishes it before it is answered`]
          : []),
      ];
      checks.store = details.length > 0 ? { ok: true, detail: details.join('; ') } : { ok: true };
    } catch (err) {
      checks.store = { ok: false, detail: errorMessage(err) };
    }
    // A projector that cannot apply (store down, failing batches) serves stale answers while the process looks alive.
    const projector = served?.projector;
    if (projector) {
      const health = projector.health();
      checks.projection = { ok: health.ok, detail: health.detail };
    }
    const projection = projector
      ? { generation: served?.id, model: served?.embedder.info.id, caughtUp: projector.caughtUp(), sources: projector.positions() }
      : undefined;
    const ready = Object.values(checks).every((check) => check.ok);
    return c.json({ status: ready ? 'ready' : 'not-ready', checks, ...(projection ? { projection } : {}) }, ready ? 200 : 503);
  });

  const metrics = deps.metrics ?? defaultMetrics();
  app.get('/metrics', async (c) => {
    // Which generation serves is read at scrape time: one series per node, labelled with the generation it serves now.
    metrics.generationInfo.reset();
    try {
      const g = deps.serving.current();
      metrics.generationInfo.labels(g.record?.spec.role ?? 'inference', g.id, g.embedder.info.id, g.record?.spec.store.kind ?? 'unknown').set(1);
    } catch {
      // Nothing served yet: no series, and /readyz says why.
    }
    return c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType });
  });
  return app;
}
