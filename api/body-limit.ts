// The whole-body size limit, judged from Content-Length on Node's HTTP server so that no web Request is built per call.
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { IncomingMessage } from 'node:http';

/**
 * Refuses a request whose body is over `maxBytes` with `onError`'s response.
 *
 * Hono's bodyLimit asks the request for its body stream to see whether there is one. On @hono/node-server that turns
 * its lightweight request into a full web Request (an undici Request over a web stream of the socket, with its own
 * AbortSignal), and the route then reads the body through that stream. The Request's signal is held through weak
 * references, which young-generation collections keep alive, so each request's Request was promoted and waited for a
 * full collection. Measured on hybrid queries at 20k chunks: the API thread's busy time per query 1.27-2.07 ms
 * without the Request against 1.75-2.52 with it, allocation 256 against 292 KB, still alive after 1,000 queries 1.1
 * against 2.5 KB a query.
 *
 * On Node's server the raw request's headers are enough: Node's parser frames an HTTP/1.1 body by Content-Length
 * (refusing a malformed or conflicting one before any route runs) or by chunked Transfer-Encoding, and a request
 * with neither has no body. A declared length is compared with the limit; a chunked body, and any request not from
 * Node's server (Hono's app.request in tests, other runtimes), goes through Hono's bodyLimit, which counts as it reads.
 */
export function limitBodies(maxBytes: number, onError: (c: Context) => Response): MiddlewareHandler {
  const counted = bodyLimit({ maxSize: maxBytes, onError });
  return async (c, next) => {
    const incoming = incomingOf(c);
    if (incoming === undefined || incoming.headers['transfer-encoding'] !== undefined) return counted(c, next);
    const declared = incoming.headers['content-length'];
    if (declared === undefined) return next();
    if (!/^\d+$/.test(declared)) return counted(c, next);
    if (Number(declared) > maxBytes) return onError(c);
    return next();
  };
}

/** The Node request behind a call served by @hono/node-server (its `env.incoming`); undefined elsewhere and for HTTP/2. */
function incomingOf(c: Context): IncomingMessage | undefined {
  const env: unknown = c.env;
  if (typeof env !== 'object' || env === null || !('incoming' in env)) return undefined;
  const incoming = (env as { incoming: unknown }).incoming;
  if (typeof incoming !== 'object' || incoming === null || !('httpVersionMajor' in incoming)) return undefined;
  const request = incoming as IncomingMessage;
  return request.httpVersionMajor === 1 ? request : undefined;
}
