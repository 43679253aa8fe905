// Serves a Hono app over HTTP on a host and port; resolves once listening and closes gracefully.
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../lib/errors.ts';

export interface ApiServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export function startApiServer(app: Hono, options: { host: string; port: number }): Promise<ApiServer> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: options.host, port: options.port }, (info: AddressInfo) => {
      const host = info.address.includes(':') ? `[${info.address}]` : info.address;
      resolve({
        url: `http://${host}:${info.port}`,
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            // Idle keep-alive sockets would hold close() open.
            if ('closeIdleConnections' in server) (server as { closeIdleConnections(): void }).closeIdleConnections();
          }),
      });
    });
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' ? new ConfigError(`port ${options.port} on ${options.host} is in use; choose another with --port or PORT`) : err);
    });
  });
}
