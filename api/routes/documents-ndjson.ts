// POST /v1/documents with application/x-ndjson: streams documents in and one result line per input line out.
import type { Context } from 'hono';
import { ValidationError, errorMessage } from '../../lib/errors.ts';
import { documentInputSchema, publishDocument, type ValidDocumentInput } from '../../streams/document-log.ts';
import type { ApiDeps } from '../deps.ts';
import { ndjsonLines, type NdjsonLine } from '../ndjson.ts';
import { problem, problemFromError, type Problem } from '../problems.ts';
import { parseJsonText, parseWith } from '../validation.ts';
import { assertJetStreamAnswers, publishWatched, suspectJetStream } from '../jetstream-gate.ts';

export const NDJSON_CONTENT_TYPE = 'application/x-ndjson';

/** How often a streamed upload checks that its API key is still valid. */
export const REAUTHORIZE_EVERY_MS = 1000;

/**
 * An NDJSON upload (`POST /v1/documents` with content-type application/x-ndjson): app.ts exempts it from the whole-body
 * limit, which would buffer the stream, and the route limits each line instead.
 */
export function isNdjsonUpload(request: Request): boolean {
  return request.method === 'POST' && /^application\/(x-)?ndjson\b/i.test(request.headers.get('content-type') ?? '');
}

/** Documents published at once from one NDJSON stream; reading pauses while this many are in flight. */
const NDJSON_IN_FLIGHT = 64;

type LineResult =
  | { line: number; id: string; source: string; seq: number; duplicate?: true }
  | { line: number; id?: string; source?: string; error: Problem };

function lineProblem(line: Extract<NdjsonLine, { error: string }>, maxLineBytes: number): Problem {
  return line.error === 'too-large'
    ? problem(413, 'payload-too-large', 'Line too large', `line ${line.line} is ${line.bytes} bytes, over the ${maxLineBytes}-byte limit per line; it was skipped`)
    : problem(400, 'validation', 'Invalid line', `line ${line.line} is not valid UTF-8; it was skipped`);
}

function parseLine(text: string): ValidDocumentInput {
  let raw: unknown;
  try {
    raw = parseJsonText(text);
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    throw new ValidationError(`not valid JSON: ${(err as Error).message}`, ['(line): malformed JSON']);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ValidationError('each line must be one document object');
  return parseWith(documentInputSchema, raw, 'document');
}

/** The key's document quota as an upload uses it (api/document-quota.ts). */
export interface NdjsonQuota {
  /** Waits until the quota allows one more document (false: the client left meanwhile). */
  readonly awaitQuota: () => Promise<boolean>;
  /** Gives back the document of a line JetStream did not store. */
  readonly refundQuota: () => void;
}

const UNLIMITED: NdjsonQuota = { awaitQuota: () => Promise.resolve(true), refundQuota: () => undefined };

/**
 * Streams NDJSON in and results out: one result line per non-blank input line, in input order, so a bad line never
 * stops the rest. Up to NDJSON_IN_FLIGHT documents are published at once, but versions of one document in input order.
 * The output is pulled: a client that stops reading stops the upload being read.
 */
export function publishNdjson(
  c: Context,
  deps: Pick<ApiDeps, 'nats' | 'maxBodyBytes' | 'logger' | 'jetstream'>,
  tenant: string,
  /** Whether the caller may still publish: an upload has no time limit, a key revoked meanwhile ends it. */
  stillAuthorized: () => boolean = () => true,
  quota: NdjsonQuota = UNLIMITED,
): Response {
  const { awaitQuota, refundQuota } = quota;
  const traceparent = c.req.header('traceparent');
  const body = c.req.raw.body;
  const maxLineBytes = deps.maxBodyBytes;
  const encoder = new TextEncoder();
  const lastOfDocument = new Map<string, Promise<unknown>>();
  const pending: Array<Promise<LineResult>> = [];
  const lines = body ? ndjsonLines(body, maxLineBytes) : (async function* (): AsyncGenerator<NdjsonLine> {})();
  let inputDone = false;

  /** A line's document, or the result that refuses it. */
  const prepare = (line: NdjsonLine): { line: number; doc: ValidDocumentInput } | LineResult => {
    if ('error' in line) return { line: line.line, error: lineProblem(line, maxLineBytes) };
    try {
      return { line: line.line, doc: parseLine(line.text) };
    } catch (err) {
      return { line: line.line, error: problemFromError(err).problem };
    }
  };

  const start = (prepared: { line: number; doc: ValidDocumentInput } | LineResult): Promise<LineResult> => {
    if (!('doc' in prepared)) return Promise.resolve(prepared);
    const { doc, line } = prepared;
    const key = `${doc.source}\u0000${doc.id}`;
    const previous = lastOfDocument.get(key) ?? Promise.resolve();
    const task = previous.then(async (): Promise<LineResult> => {
      try {
        await assertJetStreamAnswers(deps);
        const published = await publishWatched(deps, () => publishDocument(deps.nats, tenant, doc, { producer: '/api', ...(traceparent ? { traceparent } : {}) }));
        return { line, id: published.id, source: published.source, seq: published.seq, ...(published.duplicate ? { duplicate: true as const } : {}) };
      } catch (err) {
        refundQuota();
        suspectJetStream(deps, err);
        const p = problemFromError(err).problem;
        if (p.status >= 500) deps.logger.warn('NDJSON line not published', { line, id: doc.id, error: errorMessage(err) });
        return { line, id: doc.id, source: doc.source, error: p };
      }
    });
    lastOfDocument.set(key, task);
    void task.finally(() => {
      if (lastOfDocument.get(key) === task) lastOfDocument.delete(key);
    });
    return task;
  };

  const emit = (controller: ReadableStreamDefaultController<Uint8Array>, value: unknown) =>
    controller.enqueue(encoder.encode(`${JSON.stringify(value)}\n`));
  // One read of the upload at a time; it may stay outstanding across pulls while results are sent.
  let reading: Promise<IteratorResult<NdjsonLine>> | undefined;
  const readLine = () => (reading ??= lines.next());
  let checkedAt = Date.now();
  /** Reads no more of the upload: what is in flight still gets its result line. */
  const stopReading = (): void => {
    inputDone = true;
    void lines.return(undefined).catch(() => undefined);
  };
  const takeLine = async () => {
    const next = await readLine();
    reading = undefined;
    if (next.done) {
      inputDone = true;
      return;
    }
    /** Ends the upload at this line when the key no longer grants publishing (checked at most once a second). */
    const revoked = (): boolean => {
      if (Date.now() - checkedAt < REAUTHORIZE_EVERY_MS) return false;
      checkedAt = Date.now();
      if (stillAuthorized()) return false;
      stopReading();
      const detail = `the API key was revoked (or lost the publish scope) while this upload ran; line ${next.value.line} and the lines after it were not published`;
      pending.push(Promise.resolve({ line: next.value.line, error: problem(401, 'unauthorized', 'API key revoked', detail) }));
      deps.logger.warn('NDJSON upload stopped: its API key was revoked', { line: next.value.line });
      return true;
    };
    if (revoked()) return;
    const prepared = prepare(next.value);
    if ('doc' in prepared) {
      // A document waits for the key's quota before it is published, and reading the upload waits with it; a key
      // revoked during a long wait publishes nothing more.
      if (!(await awaitQuota())) return stopReading();
      if (revoked()) return;
    }
    pending.push(start(prepared));
  };

  const output = new ReadableStream<Uint8Array>({
    // Each pull sends the next result in input order as soon as it is ready, reading more of the upload meanwhile
    // (up to NDJSON_IN_FLIGHT lines ahead), so results stream while the upload is still arriving.
    async pull(controller) {
      try {
        for (;;) {
          const head = pending[0];
          if (!head) {
            if (inputDone) return controller.close();
            await takeLine();
            continue;
          }
          if (inputDone || pending.length >= NDJSON_IN_FLIGHT) return emit(controller, await pending.shift());
          const first = await Promise.race([head.then(() => 'result' as const), readLine().then(() => 'line' as const)]);
          if (first === 'result') return emit(controller, await pending.shift());
          await takeLine();
        }
      } catch (err) {
        // The upload broke off (client gone or a transport error): report it after what was already published.
        for (const result of await Promise.all(pending.splice(0))) emit(controller, result);
        emit(controller, {
          error: problem(400, 'validation', 'Upload interrupted', `reading the request body failed: ${errorMessage(err)}; lines after the last result were not read`),
        });
        controller.close();
      }
    },
    cancel() {
      // The client stopped reading: stop reading its upload (a read in flight finishes first).
      void lines.return(undefined).catch(() => undefined);
    },
  });
  return new Response(output, { status: 200, headers: { 'content-type': NDJSON_CONTENT_TYPE, 'cache-control': 'no-store' } });
}
