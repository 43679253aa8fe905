// The typed publisher other TypeScript services import to write documents straight to the DOCUMENTS stream (no HTTP hop).
import { ValidationError } from '../lib/errors.ts';
import {
  ExpectedSequenceError,
  currentVersion,
  documentInputSchema,
  publishDeletion,
  publishDocument,
  type CurrentVersion,
  type DocumentInput,
  type PublishedDocument,
} from '../streams/document-log.ts';
import type { NatsHandle } from '../streams/nats.ts';
import { assertName } from '../streams/subjects.ts';

export { ExpectedSequenceError, type CurrentVersion, type DocumentInput, type PublishedDocument };

export interface DocumentPublisherOptions {
  /** Tenant of every document this publisher writes (default "default"). */
  readonly tenant?: string;
  /** CloudEvents `ce-source` of the events, e.g. "/services/billing" (default "/sdk"). */
  readonly producer?: string;
}

export interface WriteOptions {
  /**
   * Optimistic concurrency: write only if the document's latest version is this DOCUMENTS sequence (0 = it must not
   * exist yet; take it from `current()` or an earlier result's `seq`). On a mismatch nothing is stored and the call
   * rejects with ExpectedSequenceError. Retrying a write that did succeed answers `duplicate: true`, not a conflict.
   */
  readonly expectedLastSeq?: number;
  /** W3C traceparent to carry into the event headers. */
  readonly traceparent?: string;
}

export interface UpsertOptions extends WriteOptions {
  /** Look up the latest version first and store nothing when the content is the same (one extra request). */
  readonly skipUnchanged?: boolean;
}

export interface DocumentPublisher {
  readonly tenant: string;
  /**
   * Validates and publishes one version; resolves once JetStream stored it (or recognised it: `duplicate`). The same
   * content re-sent is deduplicated by its Nats-Msg-Id (address + content hash), so retries are always safe.
   * Rejects with ValidationError (bad document), UnavailableError (NATS down; retry) or ExpectedSequenceError.
   */
  upsert(document: DocumentInput, options?: UpsertOptions): Promise<PublishedDocument>;
  /** Publishes document.deleted for source/id (idempotent too). */
  delete(source: string, id: string, options?: WriteOptions): Promise<PublishedDocument>;
  /** The latest version of a document in the log, for read-modify-write with `expectedLastSeq`. */
  current(source: string, id: string): Promise<CurrentVersion | undefined>;
}

/**
 * A publisher over a connection the caller owns (connectNats from streams/nats.ts; drain it on shutdown).
 *
 *   const publisher = createDocumentPublisher(nats, { tenant: 'acme', producer: '/services/crm' });
 *   const { seq } = await publisher.upsert({ id: 'ticket-1', source: 'crm', text: '…' });
 *   await publisher.upsert({ id: 'ticket-1', source: 'crm', text: '… edited' }, { expectedLastSeq: seq });
 */
export function createDocumentPublisher(nats: NatsHandle, options: DocumentPublisherOptions = {}): DocumentPublisher {
  const tenant = assertName('tenant', options.tenant ?? 'default');
  const producer = options.producer ?? '/sdk';
  return {
    tenant,
    async upsert(document, opts = {}) {
      const parsed = documentInputSchema.safeParse(document);
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(document)'}: ${i.message}`);
        throw new ValidationError(`invalid document: ${issues.join('; ')}`, issues);
      }
      return publishDocument(nats, tenant, parsed.data, {
        producer,
        ...(opts.skipUnchanged !== undefined ? { skipUnchanged: opts.skipUnchanged } : {}),
        ...(opts.expectedLastSeq !== undefined ? { expectedLastSeq: opts.expectedLastSeq } : {}),
        ...(opts.traceparent !== undefined ? { traceparent: opts.traceparent } : {}),
      });
    },
    delete(source, id, opts = {}) {
      if (id === '') return Promise.reject(new ValidationError('the document id is empty'));
      return publishDeletion(
        nats,
        { tenant, source: assertName('source', source), id },
        {
          producer,
          ...(opts.expectedLastSeq !== undefined ? { expectedLastSeq: opts.expectedLastSeq } : {}),
          ...(opts.traceparent !== undefined ? { traceparent: opts.traceparent } : {}),
        },
      );
    },
    current(source, id) {
      return currentVersion(nats, { tenant, source: assertName('source', source), id });
    },
  };
}
