// Serves a Hono app over HTTP on a host and port; resolves once listening and, on close, finishes in-flight requests first.
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import { STATUS_CODES, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { ConfigError } from '../lib/errors.ts';
import { PROBLEM_CONTENT_TYPE, problem } from './problems.ts';

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
    // What Node's HTTP parser refuses before the app sees it (headers over 16 KB, bytes that are not HTTP) still gets a
    // problem+json saying what to fix, instead of an empty 431 or 400.
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      if (!socket.writable || err.code === 'ECONNRESET') {
        socket.destroy();
        return;
      }
      socket.end(parserRefusal(err));
    });
    // An idle socket is destroyed: its request (if any) is aborted like a client that went away.
    (server as Server).setTimeout(options.idleTimeoutMs ?? IDLE_TIMEOUT_MS, (socket) => socket.destroy());
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' ? new ConfigError(`port ${options.port} on ${options.host} is in use; choose another with --port or PORT`) : err);
    });
  });
}

/** The raw HTTP response for a request Node's parser refused (err.code names why). */
export function parserRefusal(err: NodeJS.ErrnoException): string {
  const [status, code, detail] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'headers-too-large', 'the request line and headers are over 16 KB; send a shorter URL, Authorization header or fewer headers']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request-timeout', 'the request headers did not arrive within 60 s']
        : [400, 'bad-request', `the request is not valid HTTP/1.1 (${err.code ?? 'unparseable'}): check its request line and that header values hold no control characters`];
  const body = JSON.stringify(problem(status, code, STATUS_CODES[status] ?? 'Bad request', detail));
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: ${PROBLEM_CONTENT_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
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
