// A small HTTP listener for processes without the API (spanda run chunker embedder projector connectors): /metrics, /healthz, /readyz and guarded JSON routes.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SpandaMetrics } from './metrics.ts';

export interface MetricsServerOptions {
  readonly host: string;
  readonly port: number;
  readonly metrics: SpandaMetrics;
  /** Readiness of the process's parts (NATS connected, projector advancing); ready when omitted. */
  readonly ready?: () => Promise<{ ok: boolean; detail?: Record<string, unknown> }> | { ok: boolean; detail?: Record<string, unknown> };
  /**
   * Guards /metrics (e.g. api/auth.ts authorizeHeader with the admin scope): throws to refuse, and an error carrying
   * `status` and `headers` (an AuthError) sets them. Omitted: /metrics is open, as with SPANDA_METRICS_PUBLIC.
   */
  readonly authorize?: (authorization: string | undefined) => void;
  /** More JSON routes (e.g. /v1/connectors of a connectors process), behind `authorizeJson` (default: `authorize`). */
  readonly json?: Readonly<Record<string, () => unknown>>;
  /** The guard of the JSON routes when it differs from /metrics' (SPANDA_METRICS_PUBLIC opens /metrics only). */
  readonly authorizeJson?: (authorization: string | undefined) => void;
}

export interface MetricsServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Serves the process's metrics so Prometheus scrapes every replica, and the probes Docker and Kubernetes use. */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const send = (status: number, body: string, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, JSON.stringify({ status: 'method not allowed' }));
    if (path === '/healthz') return send(200, JSON.stringify({ status: 'ok' }));
    const isJson = path !== undefined && path !== '/metrics' && Object.hasOwn(options.json ?? {}, path);
    if (path === '/metrics' || isJson) {
      try {
        (isJson ? (options.authorizeJson ?? options.authorize) : options.authorize)?.(req.headers.authorization);
      } catch (err) {
        const refusal = err as { status?: unknown; headers?: unknown; message?: unknown };
        const status = typeof refusal.status === 'number' ? refusal.status : 401;
        const headers = typeof refusal.headers === 'object' && refusal.headers !== null ? (refusal.headers as Record<string, string>) : {};
        res.writeHead(status, { ...headers, 'content-type': 'application/problem+json' });
        res.end(JSON.stringify({ status, title: status === 403 ? 'Forbidden' : 'Unauthorized', detail: String(refusal.message ?? err) }));
        return;
      }
    }
    const route = isJson ? options.json?.[path] : undefined;
    if (route) return send(200, JSON.stringify(route()));
    if (path === '/metrics') {
      options.metrics.registry.metrics().then(
        (text) => send(200, text, options.metrics.registry.contentType),
        (err: unknown) => send(500, JSON.stringify({ status: 'error', detail: String(err) })),
      );
      return;
    }
    if (path === '/readyz') {
      Promise.resolve(options.ready?.() ?? { ok: true }).then(
        (r) => send(r.ok ? 200 : 503, JSON.stringify({ status: r.ok ? 'ready' : 'not-ready', ...(r.detail ? { checks: r.detail } : {}) })),
        (err: unknown) => send(503, JSON.stringify({ status: 'not-ready', detail: String(err) })),
      );
      return;
    }
    send(404, JSON.stringify({ status: 'not found', routes: ['/metrics', '/healthz', '/readyz', ...Object.keys(options.json ?? {})] }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
