// The HTTP server: on SIGTERM a slow request in flight still completes, new connections are refused; a streamed upload
// lasts as long as it keeps sending, a connection gone silent is closed.
import { EventEmitter } from 'node:events';
import http from 'node:http';
import net from 'node:net';
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

/** An upload route that answers each line as it arrives (as POST /v1/documents does with NDJSON). */
function echoLinesApp(): Hono {
  const app = new Hono();
  app.post('/lines', (c) => {
    const body = c.req.raw.body;
    if (!body) return c.text('no body', 400);
    const counted = body.pipeThrough(new TextDecoderStream()).pipeThrough(
      new TransformStream<string, string>({
        transform: (chunk, out) => {
          for (const line of chunk.split('\n')) if (line !== '') out.enqueue(`ok ${line}\n`);
        },
      }),
    );
    return new Response(counted.pipeThrough(new TextEncoderStream()), { headers: { 'content-type': 'text/plain' } });
  });
  return app;
}

/** Sends `lines` one every `everyMs` over one chunked request, then (unless `hang`) ends it; resolves with what came back. */
function upload(url: string, lines: number, everyMs: number, hang = false): Promise<{ text: string; outcome: 'ended' | 'closed' }> {
  return new Promise((resolve) => {
    let text = '';
    const req = http.request(`${url}/lines`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ text, outcome: 'ended' }));
      res.on('error', () => resolve({ text, outcome: 'closed' }));
    });
    req.on('error', () => resolve({ text, outcome: 'closed' }));
    void (async () => {
      for (let i = 0; i < lines; i++) {
        req.write(`line-${i}\n`);
        await new Promise((r) => setTimeout(r, everyMs));
      }
      if (!hang) req.end();
    })();
  });
}

describe('long requests', () => {
  it('keeps a streamed upload open as long as it keeps sending, and closes a connection that goes silent', async () => {
    const server = await startApiServer(echoLinesApp(), { host: '127.0.0.1', port: 0, idleTimeoutMs: 1_000 });
    try {
      // Three times the idle limit in all, never silent for long: every line is answered.
      const steady = await upload(server.url, 12, 250);
      expect(steady.outcome).toBe('ended');
      expect(steady.text.trim().split('\n')).toHaveLength(12);
      // One line, then nothing: the connection is closed instead of held open for good.
      const started = Date.now();
      const silent = await upload(server.url, 1, 0, true);
      expect(silent).toEqual({ text: 'ok line-0\n', outcome: 'closed' });
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await server.close();
    }
  });
});

/** Sends raw bytes and reads the whole response (the server closes the connection after a refusal). */
function rawRequest(url: string, bytes: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(bytes));
    let text = '';
    socket.on('data', (d) => (text += d.toString()));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

describe('requests the HTTP parser refuses', () => {
  it('answers headers over 16 KB and bytes that are not HTTP with problem+json saying what to fix', async () => {
    const server = await startApiServer(new Hono().get('/', (c) => c.text('ok')), { host: '127.0.0.1', port: 0 });
    try {
      const huge = await rawRequest(server.url, `GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'k'.repeat(20_000)}\r\n\r\n`);
      expect(huge).toMatch(/^HTTP\/1\.1 431 /);
      expect(huge).toMatch(/content-type: application\/problem\+json/);
      expect(JSON.parse(huge.slice(huge.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 431, detail: expect.stringMatching(/over 16 KB; send a shorter URL, Authorization header/) });
      const control = await rawRequest(server.url, 'GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \u0001\u0002abc\r\n\r\n');
      expect(control).toMatch(/^HTTP\/1\.1 400 /);
      expect(JSON.parse(control.slice(control.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 400, detail: expect.stringMatching(/not valid HTTP\/1\.1 \(HPE_/) });
    } finally {
      await server.close();
    }
  });
});
