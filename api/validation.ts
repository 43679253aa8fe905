// Request parsing at the edge: JSON bodies (415/400 with the parser's reason) and schema validation with readable issues.
import type { Context } from 'hono';
import type { z } from 'zod';
import { ValidationError } from '../lib/errors.ts';
import { assertName } from '../streams/subjects.ts';
import { problem, sendProblem } from './problems.ts';

export class UnsupportedMediaTypeError extends ValidationError {}

/**
 * Content types whose body is read as JSON when it parses: none, and the defaults of `curl -d`
 * (application/x-www-form-urlencoded) and of fetch with a string body (text/plain), so the commands people type first
 * work. A JSON type is always parsed; any other type is refused with 415.
 */
const LENIENT_TYPES = /^(application\/x-www-form-urlencoded|text\/plain)\b/i;

/** Reads a JSON body; a wrong content type or malformed JSON throws a ValidationError that names the problem. */
export async function readJson(c: Context): Promise<unknown> {
  const contentType = c.req.header('content-type') ?? '';
  const declaredJson = /^application\/(.+\+)?json\b/i.test(contentType);
  const notJson = () =>
    new UnsupportedMediaTypeError(`send the body as JSON with content-type: application/json (got ${JSON.stringify(contentType || 'none')})`);
  if (!declaredJson && contentType !== '' && !LENIENT_TYPES.test(contentType)) throw notJson();
  const text = await c.req.text();
  if (text.trim() === '') throw new ValidationError('the request body is empty; send a JSON object');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    if (!declaredJson) throw notJson();
    throw new ValidationError(`the request body is not valid JSON: ${(err as Error).message}`, ['body: malformed JSON']);
  }
}

export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`);
}

export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
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
    const issues = formatIssues(result.error);
    throw new ValidationError(`invalid ${what}: ${issues.slice(0, 5).join('; ')}${issues.length > 5 ? `; and ${issues.length - 5} more` : ''}`, issues);
  }
  return result.data;
}

/** The tenant of a request: the x-tenant header (validated), or "default" until API keys arrive. */
export function tenantOf(c: Context): string {
  const header = c.req.header('x-tenant');
  return assertName('tenant', header === undefined || header === '' ? 'default' : header);
}

export function payloadTooLarge(maxBytes: number): Response {
  return sendProblem(
    problem(413, 'payload-too-large', 'Request body too large', `the body is over the ${maxBytes}-byte limit; split the batch into smaller requests or raise SPANDA_MAX_BODY_BYTES`),
  );
}
