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
export const metadataSchema = z.record(z.string(), z.json());
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
