// Writing document changes to the DOCUMENTS stream: the shared input schema, content hashing and idempotent re-publish.
import { JetStreamApiCodes, JetStreamApiError, type StoredMsg } from '@nats-io/jetstream';
import { SpandaError, UnavailableError, ValidationError, errorMessage } from '../lib/errors.ts';
import { z } from 'zod';
import { CONTENT_TYPES, metadataSchema, newDocIdSchema, newDocumentUrlSchema, nameSchema, type DocumentDeleted, type DocumentUpserted } from './events/index.ts';
import { canonicalJson, sha256Hex } from './ids.ts';
import type { NatsHandle } from './nats.ts';
import { STREAMS } from './provision.ts';
import { HEADER, eventMetadata } from './codec.ts';
import { publishEvent, type Published } from './publisher.ts';
import { encodeIdToken, subjects, type DocumentAddress } from './subjects.ts';

/** What a user sends to publish a document (HTTP body, JSONL line, SDK call). */
export const documentInputSchema = z
  .object({
    id: z.union([newDocIdSchema, z.number().int().transform(String)], {
      error: (issue) =>
        issue.input === undefined
          ? "is required: the document's id in your system (a string of 1–4096 characters, or an integer)"
          : `must be a string of 1–4096 characters or an integer, not ${issue.input === null ? 'null' : Array.isArray(issue.input) ? 'an array' : typeof issue.input === 'number' ? 'a fraction' : `a value of type ${typeof issue.input}`}`,
    }),
    source: nameSchema.default('api'),
    title: z.string().max(2000).optional(),
    text: z.string(),
    url: newDocumentUrlSchema.optional(),
    contentType: z.enum(CONTENT_TYPES).optional(),
    metadata: metadataSchema.default({}),
  })
  .strict();
export type DocumentInput = z.input<typeof documentInputSchema>;
export type ValidDocumentInput = z.output<typeof documentInputSchema>;

export function contentHash(doc: ValidDocumentInput): string {
  const indexed = { title: doc.title, url: doc.url, contentType: doc.contentType, text: doc.text, metadata: doc.metadata };
  return `sha256:${sha256Hex(canonicalJson(indexed))}`;
}

export interface PublishedDocument extends Published {
  readonly id: string;
  readonly source: string;
}

async function lastMessageOf(handle: NatsHandle, subject: string): Promise<StoredMsg | undefined> {
  try {
    return (await handle.jsm.streams.getMessage(STREAMS.DOCUMENTS, { last_by_subj: subject })) ?? undefined;
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound) return undefined;
    throw new UnavailableError(`cannot read the current version of ${subject}: ${errorMessage(err)}`, 5, { cause: err });
  }
}

/** The content hash of the document's latest version in the log, or undefined when it is absent or deleted. */
async function currentContentHash(handle: NatsHandle, subject: string): Promise<{ seq: number; hash: string } | undefined> {
  const last = await lastMessageOf(handle, subject);
  if (!last || last.header?.get(HEADER.type) !== 'document.upserted') return undefined;
  try {
    const data = last.json<{ contentHash?: unknown }>();
    return typeof data.contentHash === 'string' ? { seq: last.seq, hash: data.contentHash } : undefined;
  } catch {
    return undefined;
  }
}

// Nats-Msg-Id = address + content: an identical re-publish inside the duplicate window stores nothing. But the same
// content may legitimately come back after a different version (delete, then re-add): then the duplicate ack points at
// a message that is no longer the document's latest, and we publish again with the latest sequence in the id.
async function publishIdempotent(
  handle: NatsHandle,
  subject: string,
  event: DocumentUpserted | DocumentDeleted,
  msgId: string,
  expected: { expectedLastSubjectSequence?: number } = {},
): Promise<Published> {
  const first = await publishEvent(handle, subject, event, { msgId, ...expected });
  if (!first.duplicate) return first;
  const latest = (await lastMessageOf(handle, subject))?.seq;
  if (latest === undefined || latest === first.seq) return first;
  return publishEvent(handle, subject, event, { msgId: `${msgId}@${latest}`, ...expected });
}

export interface PublishDocumentOptions {
  readonly producer?: string;
  readonly traceparent?: string;
  /**
   * Look up the document's latest version first and publish nothing when the content is the same, however long ago
   * it was published (the duplicate window only covers minutes). Costs one extra request per document.
   */
  readonly skipUnchanged?: boolean;
  /**
   * Optimistic concurrency: publish only if the document's latest version in the log is this DOCUMENTS sequence
   * (0 = the document has never been published). Otherwise ExpectedSequenceError, and nothing is stored.
   */
  readonly expectedLastSeq?: number;
}

/** A publish named the version it expected to replace, and the log holds another one. Nothing was stored. */
export class ExpectedSequenceError extends SpandaError {
  readonly subject: string;
  readonly expected: number;
  /** The latest sequence found after the refusal (0 when the document has none), when it could be read. */
  readonly actual: number | undefined;
  constructor(subject: string, expected: number, actual: number | undefined, options?: { cause?: unknown }) {
    super(
      'conflict',
      `${subject} is not at the expected version: expected last sequence ${expected}, the log holds ${actual === undefined ? 'another' : actual}; re-read the document and retry`,
      options,
    );
    this.subject = subject;
    this.expected = expected;
    this.actual = actual;
  }
}

/** The document's latest version in the log: its DOCUMENTS sequence, whether it is a deletion, and its content hash. */
export interface CurrentVersion {
  readonly seq: number;
  readonly deleted: boolean;
  readonly contentHash?: string;
}

/** Reads the latest version of one document straight from the log (one request), or undefined when it was never published. */
export async function currentVersion(handle: NatsHandle, address: DocumentAddress): Promise<CurrentVersion | undefined> {
  const last = await lastMessageOf(handle, subjects.document(address));
  if (!last) return undefined;
  const deleted = last.header?.get(HEADER.type) === 'document.deleted';
  let hash: unknown;
  try {
    hash = deleted ? undefined : last.json<{ contentHash?: unknown }>().contentHash;
  } catch {
    hash = undefined;
  }
  return { seq: last.seq, deleted, ...(typeof hash === 'string' ? { contentHash: hash } : {}) };
}

function isWrongLastSequence(err: unknown): boolean {
  const cause = err instanceof UnavailableError ? err.cause : err;
  return (
    cause instanceof JetStreamApiError &&
    (cause.code === JetStreamApiCodes.StreamWrongLastSequence || cause.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

async function publishExpecting(
  handle: NatsHandle,
  subject: string,
  event: DocumentUpserted | DocumentDeleted,
  msgId: string,
  expectedLastSeq: number | undefined,
): Promise<Published> {
  if (expectedLastSeq === undefined) return publishIdempotent(handle, subject, event, msgId);
  if (!Number.isSafeInteger(expectedLastSeq) || expectedLastSeq < 0) {
    throw new ValidationError(`expectedLastSeq must be a DOCUMENTS sequence (an integer ≥ 0), got ${expectedLastSeq}`);
  }
  try {
    return await publishIdempotent(handle, subject, event, msgId, { expectedLastSubjectSequence: expectedLastSeq });
  } catch (err) {
    if (!isWrongLastSequence(err)) throw err;
    const actual = await lastMessageOf(handle, subject).then((m) => m?.seq ?? 0, () => undefined);
    throw new ExpectedSequenceError(subject, expectedLastSeq, actual, { cause: err });
  }
}

export async function publishDocument(
  handle: NatsHandle,
  tenant: string,
  doc: ValidDocumentInput,
  options: PublishDocumentOptions = {},
): Promise<PublishedDocument> {
  const hash = contentHash(doc);
  const address: DocumentAddress = { tenant, source: doc.source, id: doc.id };
  if (options.skipUnchanged) {
    const current = await currentContentHash(handle, subjects.document(address));
    // With an expectation, "unchanged" only counts at the expected version; otherwise JetStream refuses below.
    if (current?.hash === hash && (options.expectedLastSeq === undefined || options.expectedLastSeq === current.seq)) {
      return { stream: STREAMS.DOCUMENTS, seq: current.seq, duplicate: true, id: doc.id, source: doc.source };
    }
  }
  const event: DocumentUpserted = {
    type: 'document.upserted',
    data: {
      tenant,
      source: doc.source,
      id: doc.id,
      text: doc.text,
      metadata: doc.metadata,
      contentHash: hash,
      ...(doc.title !== undefined ? { title: doc.title } : {}),
      ...(doc.url !== undefined ? { url: doc.url } : {}),
      ...(doc.contentType !== undefined ? { contentType: doc.contentType } : {}),
    },
    metadata: eventMetadata('document.upserted', { source: options.producer ?? '/api', subject: doc.id, traceparent: options.traceparent }),
  };
  const msgId = `${tenant}/${doc.source}/${encodeIdToken(doc.id)}/${hash}`;
  const published = await publishExpecting(handle, subjects.document(address), event, msgId, options.expectedLastSeq);
  return { ...published, id: doc.id, source: doc.source };
}

/** A deletion's outcome; `neverPublished` when the log held no version of the document (the deletion is recorded anyway). */
export interface PublishedDeletion extends PublishedDocument {
  readonly neverPublished?: true;
}

/**
 * Publishes document.deleted. A document whose latest version is already a deletion gets no second one (`duplicate`,
 * at that deletion's sequence), however long ago it was deleted: JetStream's duplicate window only covers two minutes.
 * Deleting an id the log never held still records the deletion (a fact about the id; an upsert still in flight from
 * another producer lands after it) and says so, so a mistyped id is noticed.
 */
export async function publishDeletion(
  handle: NatsHandle,
  address: DocumentAddress,
  options: { producer?: string; traceparent?: string; expectedLastSeq?: number } = {},
): Promise<PublishedDeletion> {
  const current = options.expectedLastSeq === undefined ? await currentVersion(handle, address) : undefined;
  if (current?.deleted) return { stream: STREAMS.DOCUMENTS, seq: current.seq, duplicate: true, id: address.id, source: address.source };
  const neverPublished = options.expectedLastSeq === undefined ? current === undefined : options.expectedLastSeq === 0;
  const event: DocumentDeleted = {
    type: 'document.deleted',
    data: { tenant: address.tenant, source: address.source, id: address.id },
    metadata: eventMetadata('document.deleted', { source: options.producer ?? '/api', subject: address.id, traceparent: options.traceparent }),
  };
  const msgId = `${address.tenant}/${address.source}/${encodeIdToken(address.id)}/deleted`;
  const published = await publishExpecting(handle, subjects.document(address), event, msgId, options.expectedLastSeq);
  return { ...published, id: address.id, source: address.source, ...(neverPublished && !published.duplicate ? { neverPublished: true as const } : {}) };
}
