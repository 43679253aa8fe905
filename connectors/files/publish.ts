// Publishing documents read from files or stdin: validation per record, per-document ordering, progress and a summary.
import type { z } from 'zod';
import { ValidationError, errorMessage } from '../../lib/errors.ts';
import { documentInputSchema, publishDocument, type ValidDocumentInput } from '../../streams/document-log.ts';
import type { NatsHandle } from '../../streams/nats.ts';
import { isProblem, readDocuments, type ReadProblem } from './read.ts';

export interface PublishSummary {
  readonly published: number;
  readonly unchanged: number;
  readonly invalid: readonly ReadProblem[];
  /** Last DOCUMENTS sequence written (0 when nothing new was written). */
  readonly lastSeq: number;
}

export interface PublishFromOptions {
  readonly tenant: string;
  /** Source for records and files that do not name one. */
  readonly source: string;
  readonly skipUnchanged: boolean;
  readonly skip?: ReadonlySet<string>;
  readonly concurrency?: number;
  readonly onProgress?: (done: number, invalid: number) => void;
}

function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join('.') || '(record)'}: ${issue.message}`);
}

function withDefaultSource(raw: unknown, source: string): unknown {
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw) && !('source' in raw)) return { ...raw, source };
  return raw;
}

/**
 * Publishes every document found at `target`. Invalid records (and documents too large to store) are collected with
 * file and line and skipped; the rest are published with bounded concurrency, but versions of the same document strictly in input order.
 */
export async function publishFrom(handle: NatsHandle, target: string, options: PublishFromOptions): Promise<PublishSummary> {
  const limit = options.concurrency ?? 64;
  const invalid: ReadProblem[] = [];
  const inFlight = new Set<Promise<void>>();
  const lastOfDocument = new Map<string, Promise<void>>();
  let published = 0;
  let unchanged = 0;
  let lastSeq = 0;
  let failure: unknown;

  const publishOne = async (doc: ValidDocumentInput, origin: string) => {
    try {
      const result = await publishDocument(handle, options.tenant, doc, { producer: '/cli', skipUnchanged: options.skipUnchanged });
      if (result.duplicate) unchanged += 1;
      else {
        published += 1;
        lastSeq = Math.max(lastSeq, result.seq);
      }
    } catch (err) {
      // The document itself cannot be stored (over the server's max_payload): reported with the invalid ones, the rest go on.
      if (err instanceof ValidationError) invalid.push({ origin, error: errorMessage(err) });
      else failure ??= new Error(`${origin}: ${errorMessage(err)}`);
    }
    options.onProgress?.(published + unchanged, invalid.length);
  };

  for await (const item of readDocuments(target, { source: options.source, ...(options.skip ? { skip: options.skip } : {}) })) {
    if (failure) break;
    if (isProblem(item)) {
      invalid.push(item);
      options.onProgress?.(published + unchanged, invalid.length);
      continue;
    }
    const parsed = documentInputSchema.safeParse(withDefaultSource(item.raw, options.source));
    if (!parsed.success) {
      invalid.push({ origin: item.origin, error: formatIssues(parsed.error).join('; ') });
      options.onProgress?.(published + unchanged, invalid.length);
      continue;
    }
    const doc = parsed.data;
    const key = `${doc.source}\u0000${doc.id}`;
    const previous = lastOfDocument.get(key) ?? Promise.resolve();
    const task: Promise<void> = previous.then(() => publishOne(doc, item.origin));
    lastOfDocument.set(key, task);
    inFlight.add(task);
    void task.finally(() => {
      inFlight.delete(task);
      if (lastOfDocument.get(key) === task) lastOfDocument.delete(key);
    });
    if (inFlight.size >= limit) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (failure) throw failure;
  return { published, unchanged, invalid, lastSeq };
}
