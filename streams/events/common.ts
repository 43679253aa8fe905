// Shared pieces of every event: the envelope (type, data, metadata), JSON values, names and the part of a split event.
import { z } from 'zod';
import { NAME_PATTERN } from '../subjects.ts';

export const nameSchema = z.string().regex(NAME_PATTERN, 'must be 1–63 characters of a–z, 0–9, "_" or "-", starting with a letter or digit');
export const docIdSchema = z.string().min(1).max(4096);
/**
 * Ids a new document may take: not "." or "..", which URLs resolve as dot-segments, so such a document could never be
 * read or deleted over HTTP. Events already in the log keep docIdSchema, so old events stay readable.
 */
export const newDocIdSchema = docIdSchema.refine(
  (id) => id !== '.' && id !== '..',
  'must not be "." or "..": URLs resolve these as dot-segments, so the document could never be read or deleted at /v1/documents/<source>/<id>; choose another id',
);
/** Whether a URL would run in a browser rather than load: javascript:, vbscript: or data: (any case). */
export function isScriptUrl(url: string): boolean {
  // Browsers drop spaces and control characters before a URL, and tabs and line breaks anywhere in it.
  return /^(javascript|vbscript|data):/.test(url.replace(/[\u0000-\u0020]+/g, '').toLowerCase());
}
/**
 * The url a new document may give: results hand it back for a UI to show as a link, so a URL that runs script there
 * is refused. Events already in the log keep a plain string, so old events stay readable.
 */
export const newDocumentUrlSchema = z
  .string()
  .max(8192)
  .refine((url) => !isScriptUrl(url), 'must not be a javascript:, vbscript: or data: URL: results hand the url to UIs as a link; give the page address instead');
/** Bounds on document metadata, checked before z.json() walks it (zod recurses, and SQLite's JSON reader stops at depth 1000). */
export const METADATA_LIMITS = { maxDepth: 32, maxKeys: 1000, maxBytes: 64 * 1024 } as const;
export const metadataSchema = z
  .preprocess((value, ctx) => {
    const problem = metadataBoundsProblem(value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem, input: value });
    return value;
  }, z.record(z.string(), z.json()).meta({
    // Every use defaults metadata to {}; zod leaves the .default() of a preprocess out of input JSON Schemas, so say it here.
    default: {},
    description: `Filterable metadata: at most ${METADATA_LIMITS.maxDepth} levels of nesting, ${METADATA_LIMITS.maxKeys} object keys in total and ${METADATA_LIMITS.maxBytes} bytes as JSON.`,
  }));

/**
 * Why `value` is over METADATA_LIMITS, or undefined. Iterative and bails at the first limit crossed, so a hostile
 * payload nested 100,000 levels deep costs no stack and little time; the exact size is measured only once the shape is
 * known to be shallow (JSON.stringify recurses too).
 */
function metadataBoundsProblem(value: unknown): string | undefined {
  const { maxDepth, maxKeys, maxBytes } = METADATA_LIMITS;
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 1 }];
  let keys = 0;
  while (stack.length > 0) {
    const top = stack.pop() as { value: unknown; depth: number };
    if (top.value === null || typeof top.value !== 'object') continue;
    if (top.depth > maxDepth) return `nests more than ${maxDepth} levels deep; the limit is ${maxDepth}`;
    const children = Array.isArray(top.value) ? (top.value as unknown[]) : Object.values(top.value);
    if (!Array.isArray(top.value)) {
      keys += children.length;
      if (keys > maxKeys) return `has more than ${maxKeys} keys in total; the limit is ${maxKeys}`;
    }
    for (const child of children) if (child !== null && typeof child === 'object') stack.push({ value: child, depth: top.depth + 1 });
  }
  let bytes: number;
  try {
    bytes = Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
  } catch {
    return undefined; // not JSON at all (a BigInt, a cycle): z.json() says why
  }
  return bytes > maxBytes ? `is ${bytes} bytes as JSON; the limit is ${maxBytes} bytes (${maxBytes / 1024} KiB)` : undefined;
}
export type Metadata = z.infer<typeof metadataSchema>;

/** Large outputs are split into parts so no message exceeds the server's max_payload; one part is {index:0,count:1}. */
export const partSchema = z.object({ index: z.number().int().min(0), count: z.number().int().min(1) });
export type Part = z.infer<typeof partSchema>;

/** Where an event came from in the log: the stream and sequence of the input that caused it. */
export interface Causation {
  readonly stream: string;
  readonly seq: number;
}

/** CloudEvents attributes plus Spanda's own headers, as read from or written to a message. */
export interface EventMetadata {
  /** ce-id: unique per event; derived from the input for processor outputs so redelivery repeats it. */
  readonly id: string;
  /** ce-source: the producer, e.g. /api, /processors/chunker. */
  readonly source: string;
  /** ce-time, RFC 3339. */
  readonly time: string;
  /** ce-subject: the upstream document id or query id the event is about. */
  readonly subject?: string;
  readonly schemaVersion: number;
  readonly traceparent?: string;
  readonly causation?: Causation;
}

/** Where a decoded event sits in the log (present on events read from JetStream). */
export interface LogPosition {
  readonly stream: string;
  readonly seq: number;
  readonly subject: string;
  /** How many times JetStream has delivered this message (1 on first delivery). */
  readonly deliveryCount?: number;
}

export interface Event<Type extends string, Data> {
  readonly type: Type;
  readonly data: Data;
  readonly metadata: EventMetadata;
}

export type StoredEvent<E extends Event<string, unknown>> = E & { readonly position: LogPosition };
