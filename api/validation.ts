// Request parsing at the edge: JSON bodies (415/400 with the parser's reason) and schema validation with readable issues.
import type { Context, MiddlewareHandler } from 'hono';
import type { z } from 'zod';
import { ValidationError } from '../lib/errors.ts';
import { childTrace, formatTraceparent, parseTraceparent, type Logger } from '../lib/log.ts';
import { assertName } from '../streams/subjects.ts';
import { unauthorized } from './auth.ts';
import { problem, sendProblem } from './problems.ts';

export class UnsupportedMediaTypeError extends ValidationError {}

/**
 * Content types whose body is read as JSON when it parses: none, and the defaults of `curl -d`
 * (application/x-www-form-urlencoded) and of fetch with a string body (text/plain), so the commands people type first
 * work. A JSON type is always parsed; any other type is refused with 415.
 */
const LENIENT_TYPES = /^(application\/x-www-form-urlencoded|text\/plain)\b/i;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads a JSON body; a wrong content type or malformed JSON throws a ValidationError that names the problem. */
export async function readJson(c: Context): Promise<unknown> {
  const contentType = c.req.header('content-type') ?? '';
  const declaredJson = /^application\/(.+\+)?json\b/i.test(contentType);
  const notJson = () =>
    new UnsupportedMediaTypeError(
      `send the body as JSON with content-type: application/json (got ${JSON.stringify(contentType || 'none')})` +
        (c.req.path === '/v1/documents' ? '; for one document per line, send content-type: application/x-ndjson' : ''),
    );
  if (!declaredJson && contentType !== '' && !LENIENT_TYPES.test(contentType)) throw notJson();
  const bytes = await c.req.arrayBuffer();
  let text: string;
  try {
    // Fatal: bytes that are not UTF-8 would otherwise become U+FFFD in the stored text (and ids), changed unseen.
    text = strictUtf8.decode(bytes);
  } catch (err) {
    if (err instanceof TypeError) throw new ValidationError('the request body is not valid UTF-8; send JSON encoded as UTF-8', ['body: not UTF-8']);
    throw err;
  }
  if (text.trim() === '') throw new ValidationError('the request body is empty; send a JSON object');
  try {
    return parseJsonText(text);
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    if (!declaredJson) throw notJson();
    throw new ValidationError(`the request body is not valid JSON: ${(err as Error).message}`, ['body: malformed JSON']);
  }
}

/**
 * JSON.parse refusing the key "__proto__" (also written with escapes): JSON keeps it as data, but validation copies
 * objects key by key, where assigning it sets the copy's prototype instead; the key vanished, so a metadata filter on
 * it matched everything and metadata holding it lost it unseen. Other errors are JSON.parse's SyntaxError.
 */
export function parseJsonText(text: string): unknown {
  // The reviver runs only when the text names the key at all (escaped as \u005f… it still holds "proto").
  if (!text.includes('proto')) return JSON.parse(text) as unknown;
  return JSON.parse(text, (key, value: unknown) => {
    if (key === '__proto__') throw new ValidationError('the key "__proto__" is not accepted (objects cannot hold it as data); rename it', ['body: key __proto__']);
    return value;
  }) as unknown;
}

/** Each issue as `path: message`; an issue of the value as a whole is named `root` ("(body)", "(query)"). */
export function formatIssues(error: z.ZodError, root = '(body)'): string[] {
  return error.issues.map((issue) => `${issue.path.join('.') || root}: ${issue.message}`);
}

export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string, root = '(body)'): z.output<S> {
  let result: z.ZodSafeParseResult<z.output<S>>;
  try {
    result = schema.safeParse(value);
  } catch (err) {
    // zod walks nested values recursively; a field without its own depth bound can still exhaust the stack. That is
    // the body's fault (400), not the server's (500).
    if (err instanceof RangeError) throw new ValidationError(`invalid ${what}: it nests too deeply to validate`, ['(body): nested too deeply']);
    throw err;
  }
  if (!result.success) {
    const issues = formatIssues(result.error, root);
    throw new ValidationError(`invalid ${what}: ${issues.slice(0, 5).join('; ')}${issues.length > 5 ? `; and ${issues.length - 5} more` : ''}`, issues);
  }
  return result.data;
}

/**
 * The tenant of a request. With API keys configured it is the key's tenant and x-tenant is ignored; a route that
 * reads a tenant without a key (one the route table marks public) is refused rather than given a default. In open
 * mode it is the x-tenant header (validated), or "default".
 */
export function tenantOf(c: Context): string {
  const principal = c.get('principal');
  if (principal) return principal.tenant;
  if (c.get('authMode') === 'keys') throw unauthorized('this route needs an API key: send "Authorization: Bearer <key>"', false);
  const header = c.req.header('x-tenant');
  // Two x-tenant headers reach here joined by ", ".
  if (header?.includes(',')) throw new ValidationError(`send one x-tenant header, with one tenant name (got ${JSON.stringify(header.slice(0, 200))})`, ['x-tenant: several values']);
  return assertName('tenant', header === undefined || header === '' ? 'default' : header);
}

declare module 'hono' {
  interface ContextVariableMap {
    /** This request's span in the caller's trace (W3C traceparent), set by requestContext. */
    traceparent: string;
    /** The request's logger, carrying its trace_id. */
    log: Logger;
  }
}

/**
 * The traceparent to put on events this request publishes: the caller's trace (a new one when it sent none or a
 * malformed one) with this request's span as the parent.
 */
export function traceparentOf(c: Context): string {
  const set = c.get('traceparent');
  if (set !== undefined) return set;
  return formatTraceparent(childTrace(parseTraceparent(c.req.header('traceparent'))));
}

/**
 * Per request: a trace context (continued from `traceparent`, or new) returned in the `traceparent` response header,
 * a logger carrying its trace_id, and one access log line (debug; warn for 5xx) with the status and time taken.
 */
export function requestContext(logger: Logger): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    const trace = childTrace(parseTraceparent(c.req.header('traceparent')));
    const traceparent = formatTraceparent(trace);
    const log = logger.with({ trace_id: trace.traceId });
    c.set('traceparent', traceparent);
    c.set('log', log);
    // Routes read c.req.header('traceparent') for the events they publish: they get this request's span as the parent.
    try {
      c.req.raw.headers.set('traceparent', traceparent);
    } catch {
      // Immutable request headers: traceparentOf(c) still gives the right value.
    }
    try {
      await next();
    } finally {
      c.res.headers.set('traceparent', traceparent);
      const status = c.res.status;
      const fields = {
        method: c.req.method,
        path: c.req.path.slice(0, 200),
        status,
        ms: Math.round((performance.now() - started) * 10) / 10,
        ...(c.get('principal') ? { tenant: c.get('principal').tenant, key: c.get('principal').keyId } : {}),
      };
      if (status >= 500) log.warn('request', fields);
      else log.debug('request', fields);
    }
  };
}

export function payloadTooLarge(maxBytes: number): Response {
  return sendProblem(
    problem(413, 'payload-too-large', 'Request body too large', `the body is over the ${maxBytes}-byte limit; split the batch into smaller requests or raise SPANDA_MAX_BODY_BYTES`),
  );
}
