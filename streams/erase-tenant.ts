// Erasing a whole tenant from the log (offboarding): every document deleted, every version's content purged, its queries and DLQ entries gone.
import type { JsMsg } from '@nats-io/jetstream';
import { decodeEvent, HEADER } from './codec.ts';
import { scanDlq } from './dlq.ts';
import { publishDeletion } from './document-log.ts';
import { docSeqOf, embedderOf, ensureErasuresStream, eraseMessage, POLL_MS, recordErasure, stageWatch } from './erase.ts';
import type { NatsHandle } from './nats.ts';
import { STREAMS } from './provision.ts';
import { mapLimit } from './publisher.ts';
import { readSlice } from './read.ts';
import { assertName, encodeIdToken, parseDocumentSubject, type DocumentAddress } from './subjects.ts';

/** What a tenant's erasure removed, and what it could not be sure of. */
export interface TenantErasureReport {
  readonly tenant: string;
  /** Documents (DOCUMENTS subjects) of the tenant when the erasure began: each now ends with its deletion. */
  readonly documents: number;
  /** Deletions published, for the documents whose latest version was not one already. */
  readonly deletionsPublished: number;
  /** Messages erased per stream. */
  readonly purged: { readonly documents: number; readonly chunks: number; readonly embeddings: number; readonly queries: number };
  /** Queries of the tenant erased, every event of each (question, answer with its passages, feedback). */
  readonly queries: number;
  /** DLQ entries holding a copy of one of the tenant's events. */
  readonly dlqEntries: number;
  /** Documents whose erasure is recorded on ERASURES (the indexing catalog forgets their erased versions). */
  readonly erasures: number;
  /**
   * Derived subjects (CHUNKS, EMBEDDINGS per model) on which the pipeline had not written the removal when the wait
   * ended: erased whole, so a processor still behind could write an older version there again.
   */
  readonly unprocessed: readonly string[];
  /** EMBEDDINGS subjects of models no process embeds with: erased whole without waiting (see ErasureReport.notRunning). */
  readonly notRunning: readonly string[];
  /**
   * DOCUMENTS subjects whose id could not be read back (a hashed id token and no readable version, e.g. junk written
   * straight onto the stream): erased whole, with no deletion, as the projections never held them.
   */
  readonly unaddressable: readonly string[];
}

/** The scans and the erasing that take time at scale, for progress. */
export type TenantEraseStage = 'documents' | 'deletions' | 'chunks' | 'embeddings' | 'queries' | 'dlq' | 'erasing' | 'erasures';

export interface TenantEraseOptions {
  /** How long to wait on each derived stream for the pipeline to write the removals (default 60 s). */
  readonly waitMs?: number;
  /** Called as each step starts. */
  readonly onStep?: (step: string) => void;
  /** Called as a stage goes: items done, and how many there are. */
  readonly onProgress?: (stage: TenantEraseStage, done: number, total: number) => void;
}

/** Requests in flight at once while publishing deletions and erasing messages. */
const CONCURRENCY = 32;

interface DocumentSubject {
  /** Every message on the subject when it was read, in order. */
  readonly seqs: number[];
  lastType: string;
  /** The ce-subject header of the last message (the document id, for a Spanda-written event). */
  lastId: string | undefined;
  /** The document the subject is about; undefined when its id cannot be read back (unaddressable). */
  address?: DocumentAddress | undefined;
  /** The deletion each document now ends with; undefined when none could be published (unaddressable). */
  deletionSeq?: number;
}

interface DerivedSubject {
  /** Messages to erase: those of versions before the document's deletion. */
  readonly seqs: number[];
  /** The first message kept (the removal, or a version published since); undefined while it has not come. */
  keepFrom: number | undefined;
  /** Versions below this are erased: the document's deletion, or past the log's head at the start. */
  readonly threshold: number;
  /** Whether to wait for the pipeline's removal (a document with a deletion) or not (no such document). */
  readonly awaited: boolean;
  /** Its writer is an embedder no process runs: nothing is waited for (see stageWatch). */
  notRunning?: boolean;
}

/**
 * Erases every document of `tenant`, as `eraseDocument` does one (streams/erase.ts), reading each stream's slice of
 * the tenant once instead of once per document:
 * 1. every document whose latest version is not a deletion gets one; the deletions stay, so the projections and any
 *    replay end with each document deleted (tombstones, no content);
 * 2. every earlier DOCUMENTS message of the tenant is erased;
 * 3. on CHUNKS, then EMBEDDINGS, once the pipeline has written each document's removal, every earlier message is
 *    erased (all of a subject's after the wait, reported as unprocessed);
 * 4. every event of every query of the tenant is erased;
 * 5. DLQ entries copied from any of the tenant's subjects are deleted;
 * 6. each document's erasure is written onto ERASURES, so the indexing catalog forgets the erased versions as well.
 * Versions published after the erasure began are kept: they are new documents.
 */
export async function eraseTenant(handle: NatsHandle, tenantName: string, options: TenantEraseOptions = {}): Promise<TenantErasureReport> {
  const tenant = assertName('tenant', tenantName); // a wildcard here would reach every tenant
  const step = options.onStep ?? (() => undefined);
  await ensureErasuresStream(handle);
  const progress = options.onProgress ?? (() => undefined);
  const waitMs = options.waitMs ?? 60_000;

  step("reading the tenant's documents");
  const startHead = await lastSeqOf(handle, STREAMS.DOCUMENTS);
  const documents = new Map<string, DocumentSubject>();
  await scan(handle, STREAMS.DOCUMENTS, `docs.${tenant}.>`, 1, startHead, true, (m) => {
    let d = documents.get(m.subject);
    if (!d) documents.set(m.subject, (d = { seqs: [], lastType: '', lastId: undefined }));
    d.seqs.push(m.seq);
    d.lastType = m.headers?.get(HEADER.type) ?? '';
    d.lastId = m.headers?.get(HEADER.subject);
  }, (done, total) => progress('documents', done, total));

  step(`deleting its ${documents.size} ${documents.size === 1 ? 'document' : 'documents'}`);
  const unaddressable: string[] = [];
  let deletionsPublished = 0;
  let deleted = 0;
  await mapLimit([...documents], CONCURRENCY, async ([subject, d]) => {
    const last = d.seqs[d.seqs.length - 1] as number;
    d.address = await addressOf(handle, subject, d.lastId, last);
    if (d.address === undefined) {
      // Nothing can name the document a deletion would be for (the projections never held it).
      unaddressable.push(subject);
    } else if (d.lastType === 'document.deleted') {
      d.deletionSeq = last;
    } else {
      const published = await publishDeletion(handle, d.address, { producer: '/cli/erase' });
      d.deletionSeq = published.seq;
      if (!published.duplicate) deletionsPublished++;
    }
    progress('deletions', ++deleted, documents.size);
  });

  const erasing = { done: 0, total: 0 };
  const eraseAll = async (stream: string, seqs: readonly number[]): Promise<number> => {
    erasing.total += seqs.length;
    let erased = 0;
    await mapLimit(seqs, CONCURRENCY, async (seq) => {
      if (await eraseMessage(handle, stream, seq)) erased++;
      progress('erasing', ++erasing.done, erasing.total);
    });
    return erased;
  };

  step('erasing its earlier versions from DOCUMENTS');
  const doomedDocuments = [...documents.values()].flatMap((d) => (d.deletionSeq === undefined ? d.seqs : d.seqs.filter((seq) => seq < (d.deletionSeq as number))));
  const purgedDocuments = await eraseAll(STREAMS.DOCUMENTS, doomedDocuments);

  const unprocessed: string[] = [];
  const notRunning: string[] = [];
  const purgeDerived = async (stream: string, filter: string, stage: 'chunks' | 'embeddings'): Promise<number> => {
    const derived = await awaitRemovals(handle, stream, filter, documents, startHead, waitMs, (done, total) => progress(stage, done, total));
    for (const [subject, d] of derived) {
      if (d.keepFrom !== undefined || !d.awaited) continue;
      if (d.notRunning) notRunning.push(subject);
      else unprocessed.push(subject);
    }
    return eraseAll(stream, [...derived.values()].flatMap((d) => d.seqs));
  };
  step('waiting for the pipeline to remove them, then erasing CHUNKS');
  const chunks = await purgeDerived(STREAMS.CHUNKS, `chunks.${tenant}.>`, 'chunks');
  // Read once CHUNKS has every removal: an embedder may have written its first vectors of a document meanwhile.
  step('waiting for the embedders to remove them, then erasing EMBEDDINGS');
  const embeddings = await purgeDerived(STREAMS.EMBEDDINGS, `embeddings.*.${tenant}.>`, 'embeddings');

  step('erasing its queries');
  const queryIds = new Set<string>();
  const querySeqs: number[] = [];
  await scan(handle, STREAMS.QUERIES, `queries.${tenant}.>`, 1, await lastSeqOf(handle, STREAMS.QUERIES), true, (m) => {
    querySeqs.push(m.seq);
    const id = m.subject.split('.')[2];
    if (id !== undefined) queryIds.add(id);
  }, (done, total) => progress('queries', done, total));
  const queries = await eraseAll(STREAMS.QUERIES, querySeqs);

  step('deleting its DLQ entries');
  const dlqSeqs: number[] = [];
  await scanDlq(handle, { headersOnly: true, onProgress: (done, total) => progress('dlq', done, total) }, (entries) => {
    for (const entry of entries) if (subjectOfTenant(entry.subject, tenant)) dlqSeqs.push(entry.dlqSeq);
  });
  const dlqEntries = await eraseAll(STREAMS.DLQ, dlqSeqs);

  step('recording the erasures for the indexing catalog');
  const erased = [...documents.values()].flatMap((d) => (d.address && d.deletionSeq !== undefined ? [{ address: d.address, deletionSeq: d.deletionSeq }] : []));
  let erasures = 0;
  await mapLimit(erased, CONCURRENCY, async ({ address, deletionSeq }) => {
    await recordErasure(handle, address, deletionSeq);
    progress('erasures', ++erasures, erased.length);
  });

  return {
    tenant,
    documents: documents.size,
    deletionsPublished,
    purged: { documents: purgedDocuments, chunks, embeddings, queries },
    queries: queryIds.size,
    dlqEntries,
    erasures,
    unprocessed: unprocessed.sort(),
    notRunning: notRunning.sort(),
    unaddressable: unaddressable.sort(),
  };
}

/** Whether a subject (of DOCUMENTS, CHUNKS, EMBEDDINGS or QUERIES) belongs to `tenant`. */
function subjectOfTenant(subject: string, tenant: string): boolean {
  if (subject.startsWith(`queries.${tenant}.`)) return true;
  return parseDocumentSubject(subject)?.tenant === tenant;
}

async function lastSeqOf(handle: NatsHandle, stream: string): Promise<number> {
  return (await handle.jsm.streams.info(stream)).state.last_seq;
}

/** Reads `filter` on `stream` from `fromSeq` up to `upTo`, one message at a time into `onMessage`. */
async function scan(
  handle: NatsHandle,
  stream: string,
  filter: string,
  fromSeq: number,
  upTo: number,
  headersOnly: boolean,
  onMessage: (m: JsMsg) => void,
  onProgress: (done: number, total: number) => void,
): Promise<void> {
  let total = 0;
  let done = 0;
  const slice = { stream, filterSubject: filter, fromSeq, upTo, batchSize: headersOnly ? 1000 : 500, onSize: (n: number) => (total = n), ...(headersOnly ? { headersOnly } : {}) };
  await readSlice(handle, slice, async (messages) => {
    for (const m of messages) onMessage(m);
    done += messages.length;
    onProgress(done, Math.max(total, done));
  });
}

/**
 * The document a DOCUMENTS subject is about: the id from its subject token, or (a long id is hashed there) from the
 * last message's ce-subject header or payload, checked against the token. Undefined when none of them gives it.
 */
async function addressOf(handle: NatsHandle, subject: string, lastId: string | undefined, lastSeq: number): Promise<DocumentAddress | undefined> {
  const parsed = parseDocumentSubject(subject);
  if (parsed === undefined) return undefined;
  const address = (id: string | undefined): DocumentAddress | undefined => {
    if (id === undefined) return undefined;
    try {
      return encodeIdToken(id) === parsed.idToken ? { tenant: parsed.tenant, source: parsed.source, id } : undefined;
    } catch {
      return undefined;
    }
  };
  const known = address(parsed.id) ?? address(lastId);
  if (known) return known;
  try {
    const m = await handle.jsm.streams.getMessage(STREAMS.DOCUMENTS, { seq: lastSeq });
    if (!m) return undefined;
    const event = decodeEvent({ subject: m.subject, data: m.data, headers: m.header }, { stream: STREAMS.DOCUMENTS, seq: m.seq });
    return event.type === 'document.upserted' || event.type === 'document.deleted' ? address(event.data.id) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads the tenant's slice of a derived stream until every document with a deletion has the pipeline's answer to it on
 * each of its subjects there (a message of a version at or after the deletion), or `waitMs` has passed; only what
 * arrived since the last look is read again. A subject of no known document (junk, or one unaddressable) is erased
 * up to the versions published after the erasure began, without waiting.
 */
async function awaitRemovals(
  handle: NatsHandle,
  stream: string,
  filter: string,
  documents: ReadonlyMap<string, DocumentSubject>,
  startHead: number,
  waitMs: number,
  onProgress: (done: number, total: number) => void,
): Promise<Map<string, DerivedSubject>> {
  const derived = new Map<string, DerivedSubject>();
  const watches = new Map<string, ReturnType<typeof stageWatch>>();
  const deadline = Date.now() + waitMs;
  let cursor = 0;
  for (;;) {
    const head = await lastSeqOf(handle, stream);
    if (head > cursor) {
      await scan(handle, stream, filter, cursor + 1, head, false, (m) => {
        let d = derived.get(m.subject);
        if (!d) {
          const parsed = parseDocumentSubject(m.subject);
          const deletion = parsed && documents.get(`docs.${parsed.tenant}.${parsed.source}.${parsed.idToken}`)?.deletionSeq;
          d = { seqs: [], keepFrom: undefined, threshold: deletion ?? startHead + 1, awaited: deletion !== undefined };
          derived.set(m.subject, d);
        }
        if (d.keepFrom !== undefined) return; // the removal has come: everything after it stays
        if (docSeqOf(m.data) >= d.threshold) d.keepFrom = m.seq;
        else d.seqs.push(m.seq);
      }, onProgress);
      cursor = head;
    }
    const waiting = [...derived].filter(([, d]) => d.awaited && d.keepFrom === undefined && !d.notRunning);
    // An embedder no process runs any more (a model dropped after a migration) will never answer: stop waiting for it.
    if (stream === STREAMS.EMBEDDINGS) {
      for (const consumer of new Set(waiting.map(([subject]) => embedderOf(subject)))) {
        let watch = watches.get(consumer);
        if (!watch) watches.set(consumer, (watch = stageWatch(handle, consumer)));
        if (!(await watch.stopped())) continue;
        for (const [subject, d] of waiting) if (embedderOf(subject) === consumer) d.notRunning = true;
      }
    }
    if (!waiting.some(([, d]) => !d.notRunning) || Date.now() >= deadline) return derived;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
