// Request parsing at the edge: JSON bodies (415/400 with the parser's reason) and schema validation with readable issues.
import type { Context } from 'hono';
import type { z } from 'zod';
import { ValidationError } from '../lib/errors.ts';
import { assertName } from '../streams/subjects.ts';
import { problem, sendProblem } from './problems.ts';

export class UnsupportedMediaTypeError extends ValidationError {}

/** Reads a JSON body; a wrong content type or malformed JSON throws a ValidationError that names the problem. */
export async function readJson(c: Context): Promise<unknown> {
  const contentType = c.req.header('content-type') ?? '';
  if (!/^application\/(.+\+)?json\b/i.test(contentType)) {
    throw new UnsupportedMediaTypeError(`send the body as JSON with content-type: application/json (got ${JSON.stringify(contentType || 'none')})`);
  }
  const text = await c.req.text();
  if (text.trim() === '') throw new ValidationError('the request body is empty; send a JSON object');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ValidationError(`the request body is not valid JSON: ${(err as Error).message}`, ['body: malformed JSON']);
  }
}

export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`);
}

export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
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
