// Debezium change events (the JSON envelope, with or without the schema/payload wrapper, and tombstones): parsing and the type.
import { z } from 'zod';
import { ValidationError } from '../../lib/errors.ts';

/** A row image: column name → JSON value as Debezium's JsonConverter wrote it. */
export type Row = Readonly<Record<string, unknown>>;

/** c = create, u = update, d = delete, r = read (snapshot), t = truncate, m = message (logical decoding message). */
export const OPS = ['c', 'u', 'd', 'r', 't', 'm'] as const;
export type Op = (typeof OPS)[number];

const rowSchema = z.record(z.string(), z.unknown());

/** The `source` block: only the fields Spanda reads are checked; every connector adds its own (lsn, txId, file, pos…). */
export const sourceSchema = z
  .object({
    connector: z.string().optional(),
    name: z.string().optional(),
    db: z.string().optional(),
    schema: z.string().optional(),
    table: z.string().optional(),
    snapshot: z.union([z.string(), z.boolean()]).nullish(),
    ts_ms: z.number().optional(),
    lsn: z.number().nullish(),
    txId: z.number().nullish(),
    sequence: z.string().nullish(),
  })
  .loose();
export type ChangeSource = z.infer<typeof sourceSchema>;

/** The payload of a Debezium change event. */
export const changeEventSchema = z
  .object({
    op: z.enum(OPS),
    before: rowSchema.nullish(),
    after: rowSchema.nullish(),
    source: sourceSchema,
    ts_ms: z.number().nullish(),
    transaction: z.unknown().optional(),
  })
  .loose()
  .superRefine((event, ctx) => {
    if ((event.op === 'c' || event.op === 'r' || event.op === 'u') && !event.after) {
      ctx.addIssue({ code: 'custom', path: ['after'], message: `op "${event.op}" needs an "after" row image` });
    }
    if (event.op === 'd' && !event.before) {
      ctx.addIssue({ code: 'custom', path: ['before'], message: 'op "d" needs a "before" row image (at least the key columns)' });
    }
  });
export type ChangeEvent = z.infer<typeof changeEventSchema>;

/** What one message on a Debezium subject holds: a change, or a tombstone (null or empty value) that follows a delete. */
export type DecodedChange = { readonly kind: 'change'; readonly event: ChangeEvent } | { readonly kind: 'tombstone' };

function isWrapped(value: unknown): value is { schema?: unknown; payload: unknown } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && 'payload' in value && !('op' in value);
}

/**
 * Decodes a message value. JsonConverter with schemas.enable=true wraps the event as {schema, payload}; with false it is
 * the bare envelope. A null payload, the JSON `null` or an empty body is a tombstone. Throws ValidationError naming the
 * offending field.
 */
export function decodeChange(data: Uint8Array | string): DecodedChange {
  const text = typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  if (text.trim() === '') return { kind: 'tombstone' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ValidationError(`not a Debezium change event: the value is not JSON (${(err as Error).message})`, ['(root): not JSON']);
  }
  if (isWrapped(value)) value = value.payload;
  if (value === null) return { kind: 'tombstone' };
  const parsed = changeEventSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ValidationError(`not a Debezium change event: ${issues.join('; ')}`, issues);
  }
  return { kind: 'change', event: parsed.data };
}

/** Encodes a change the way Debezium's JsonConverter does with schemas.enable=false (what the embedded source writes). */
export function encodeChange(event: ChangeEvent): Uint8Array {
  return Buffer.from(JSON.stringify(event), 'utf8');
}
