// Serves a Hono app over HTTP on a host and port; resolves once listening and, on close, finishes in-flight requests first.
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../lib/errors.ts';

export interface ApiServer {
  readonly url: string;
  readonly port: number;
  /** Stops accepting connections, lets requests in flight finish (up to the grace period), then resolves. */
  close(): Promise<void>;
}

export interface ApiServerOptions {
  readonly host: string;
  readonly port: number;
  /** How long close() waits for requests in flight before cutting their connections (default 10 s). */
  readonly graceMs?: number;
  /** A connection with nothing sent either way for this long is closed (default IDLE_TIMEOUT_MS). */
  readonly idleTimeoutMs?: number;
}

/**
 * Node cuts any request whose body takes over 5 minutes to arrive (requestTimeout), which ends an NDJSON upload of a
 * large collection mid-way. Requests have no total limit here; a connection is closed when nothing moved on it for
 * this long instead (headers still have to arrive within Node's 60 s).
 */
export const IDLE_TIMEOUT_MS = 300_000;

export function startApiServer(app: Hono, options: ApiServerOptions): Promise<ApiServer> {
  const graceMs = options.graceMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: options.host, port: options.port, serverOptions: { requestTimeout: 0 } }, (info: AddressInfo) => {
      const host = info.address.includes(':') ? `[${info.address}]` : info.address;
      let closing: Promise<void> | undefined;
      resolve({
        url: `http://${host}:${info.port}`,
        port: info.port,
        close: () => (closing ??= closeGracefully(server as Server, graceMs)),
      });
    });
    // An idle socket is destroyed: its request (if any) is aborted like a client that went away.
    (server as Server).setTimeout(options.idleTimeoutMs ?? IDLE_TIMEOUT_MS, (socket) => socket.destroy());
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' ? new ConfigError(`port ${options.port} on ${options.host} is in use; choose another with --port or PORT`) : err);
    });
  });
}

function closeGracefully(server: Server, graceMs: number): Promise<void> {
  return new Promise<void>((done) => {
    // Idle keep-alive sockets would hold close() open; a socket whose request is in flight becomes idle when its
    // response is sent and is closed on the next sweep.
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    const cut = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearInterval(sweep);
      clearTimeout(cut);
      done();
    });
    server.closeIdleConnections();
  });
}
