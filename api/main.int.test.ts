// Graceful shutdown of the HTTP server: on SIGTERM a slow request in flight still completes, new connections are refused.
import { EventEmitter } from 'node:events';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { resource, runUntilSignal } from '../lib/lifecycle.ts';
import { silentLogger } from '../lib/log.ts';
import { startApiServer, type ApiServer } from './main.ts';

function slowApp(ms: number): Hono {
  const app = new Hono();
  app.get('/slow', async (c) => {
    await new Promise((r) => setTimeout(r, ms));
    return c.text('done');
  });
  app.get('/fast', (c) => c.text('fast'));
  return app;
}

async function serveUntilSignal(app: Hono, graceMs: number) {
  const signals = new EventEmitter();
  let server: ApiServer | undefined;
  let ready: () => void = () => undefined;
  const up = new Promise<void>((r) => (ready = r));
  const running = runUntilSignal(
    resource('API server', silentLogger, () => startApiServer(app, { host: '127.0.0.1', port: 0, graceMs }), (s) => s.close()),
    silentLogger,
    (s) => {
      server = s;
      ready();
    },
    signals,
  );
  await up;
  return { url: (server as ApiServer).url, signals, running };
}

describe('shutdown', () => {
  it('finishes a slow request in flight on SIGTERM, over a keep-alive connection, then refuses new ones', async () => {
    const { url, signals, running } = await serveUntilSignal(slowApp(800), 10_000);
    // A keep-alive connection that already served a request must not hold shutdown open either.
    expect(await (await fetch(`${url}/fast`)).text()).toBe('fast');
    const inFlight = fetch(`${url}/slow`);
    await new Promise((r) => setTimeout(r, 150));
    const started = Date.now();
    signals.emit('SIGTERM', 'SIGTERM');
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('done');
    await running;
    expect(Date.now() - started).toBeLessThan(5_000);
    await expect(fetch(`${url}/fast`)).rejects.toThrow();
  });

  it('cuts a request that outlives the grace period instead of hanging', async () => {
    const { url, signals, running } = await serveUntilSignal(slowApp(30_000), 300);
    const inFlight = fetch(`${url}/slow`).then(
      (r) => r.status,
      () => 'cut',
    );
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    signals.emit('SIGTERM', 'SIGTERM');
    await running;
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(await inFlight).toBe('cut');
  });
});
