// Erasing a document from the log: its deletion kept, the content of every earlier version purged from every stream.
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { decodeEvent, eventMetadata } from './codec.ts';
import { scanDlq } from './dlq.ts';
import { publishDeletion } from './document-log.ts';
import type { DocumentErased } from './events/index.ts';
import { stillness } from './consumer-stillness.ts';
import type { NatsHandle } from './nats.ts';
import { provision, STREAMS } from './provision.ts';
import { publishEvent } from './publisher.ts';
import { readSlice, STOP_READING } from './read.ts';
import { encodeIdToken, subjects, type DocumentAddress } from './subjects.ts';

/** What an erasure removed, and what it could not be sure of. */
export interface ErasureReport {
  readonly tenant: string;
  readonly source: string;
  readonly id: string;
  /** DOCUMENTS sequence of the deletion the log keeps (the fact that the id was deleted; no content). */
  readonly deletionSeq: number;
  /** The log held no version of the id before (a mistyped id?): the deletion records only that. */
  readonly neverPublished?: true;
  /** Messages purged per stream. */
  readonly purged: { readonly documents: number; readonly chunks: number; readonly embeddings: number };
  /**
   * Derived subjects (CHUNKS, EMBEDDINGS per model) on which the pipeline had not recorded the removal when the wait
   * ended: purged whole, so a processor still working on an older version could write its output after the purge.
   */
  readonly unprocessed: readonly string[];
  /**
   * EMBEDDINGS subjects of a model no process embeds with (its consumer gone, or still with nobody pulling): erased
   * whole without waiting. Nothing of the erased versions can come back there: their chunks are gone from CHUNKS.
   */
  readonly notRunning: readonly string[];
  /** Queries whose answer cited the document: every event of each (question, answer with its passages, feedback). */
  readonly queries: number;
  /** DLQ entries holding a copy of one of the document's events. */
  readonly dlqEntries: number;
  /**
   * ERASURES sequence of the document.erased event that tells the indexing catalog to forget the erased versions
   * (the one an earlier erasure of the same deletion wrote, when there is one).
   */
  readonly erasureSeq: number;
}

export interface EraseOptions {
  /** How long to wait for the pipeline to record the removal on each derived subject (default 60 s). */
  readonly waitMs?: number;
  /** Called as each step starts, for progress. */
  readonly onStep?: (step: string) => void;
  /** Called as the two long scans go (the tenant's answers, the DLQ): messages looked at, and how many there are. */
  readonly onProgress?: (scan: 'answers' | 'dlq', done: number, total: number) => void;
}

/** How often a wait for the pipeline's removals looks again. */
export const POLL_MS = 200;

/**
 * Erases a document. The log is immutable for everything else; this is the one place that takes content out of it:
 * 1. document.deleted is published (or found, when the latest version already is one): projections drop the document
 *    as for any delete, and the deletion stays in DOCUMENTS, so a replay still ends with the document deleted;
 * 2. every earlier message on the document's DOCUMENTS subject is purged;
 * 3. on its CHUNKS subject and each model's EMBEDDINGS subject, once the pipeline has written the removal that answers
 *    the deletion, every earlier message is purged (or all of them, after `waitMs`, reported as unprocessed);
 * 4. the queries whose answers cited it are purged whole (their answers carry its passages);
 * 5. DLQ entries copied from any of its subjects are deleted;
 * 6. document.erased is written onto ERASURES, so the indexing catalog forgets the erased versions as well.
 * Messages after the deletion (a version published meanwhile) are kept: that is a new document.
 */
export async function eraseDocument(handle: NatsHandle, address: DocumentAddress, options: EraseOptions = {}): Promise<ErasureReport> {
  const step = options.onStep ?? (() => undefined);
  await ensureErasuresStream(handle);
  step('publishing the deletion');
  const deletion = await publishDeletion(handle, address, { producer: '/cli/erase' });
  const deletionSeq = deletion.seq;
  const documentSubject = subjects.document(address);
  // Every subject that held the document, read before anything is purged (the DLQ step matches against them).
  const chunkSubject = subjects.chunks(address);
  const embeddingFilter = `embeddings.*.${address.tenant}.${address.source}.${encodeIdToken(address.id)}`;
  const embeddingSubjects = new Set(await subjectsIn(handle, STREAMS.EMBEDDINGS, embeddingFilter));

  step('purging its earlier versions from DOCUMENTS');
  const documents = await purge(handle, STREAMS.DOCUMENTS, documentSubject, deletionSeq);

  const unprocessed: string[] = [];
  const notRunning: string[] = [];
  const purgeDerived = async (stream: string, subject: string): Promise<number> => {
    const marker = await removalMarker(handle, stream, subject, deletionSeq, options.waitMs ?? 60_000);
    if (marker === undefined) unprocessed.push(subject);
    if (marker === 'no process') notRunning.push(subject);
    return purge(handle, stream, subject, typeof marker === 'number' ? marker : undefined);
  };
  step('waiting for the pipeline to remove it, then purging CHUNKS and EMBEDDINGS');
  const chunks = (await subjectsIn(handle, STREAMS.CHUNKS, chunkSubject)).length > 0 ? await purgeDerived(STREAMS.CHUNKS, chunkSubject) : 0;
  // Looked up again once CHUNKS has the removal: a model's embedder may have written its first vectors meanwhile.
  for (const subject of await subjectsIn(handle, STREAMS.EMBEDDINGS, embeddingFilter)) embeddingSubjects.add(subject);
  let embeddings = 0;
  for (const subject of embeddingSubjects) embeddings += await purgeDerived(STREAMS.EMBEDDINGS, subject);

  step('purging the queries whose answers cited it');
  const queries = await purgeCitingQueries(handle, address, (done, total) => options.onProgress?.('answers', done, total));

  step('deleting its DLQ entries');
  const held = new Set([documentSubject, chunkSubject, ...embeddingSubjects]);
  let dlqEntries = 0;
  await scanDlq(handle, { headersOnly: true, onProgress: (done, total) => options.onProgress?.('dlq', done, total) }, async (entries) => {
    for (const entry of entries) if (held.has(entry.subject) && (await eraseMessage(handle, STREAMS.DLQ, entry.dlqSeq))) dlqEntries++;
  });

  step('recording the erasure for the indexing catalog');
  const erasureSeq = await recordErasure(handle, address, deletionSeq);

  return {
    tenant: address.tenant,
    source: address.source,
    id: address.id,
    deletionSeq,
    erasureSeq,
    ...(deletion.neverPublished ? { neverPublished: true as const } : {}),
    purged: { documents, chunks, embeddings },
    unprocessed,
    notRunning,
    queries,
    dlqEntries,
  };
}

/**
 * Creates the ERASURES stream where a node of an earlier version provisioned the others (before anything is erased,
 * so a failure here costs nothing).
 */
export async function ensureErasuresStream(handle: NatsHandle): Promise<void> {
  try {
    await handle.jsm.streams.info(STREAMS.ERASURES);
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
    await provision(handle);
  }
}

/**
 * Writes document.erased for the versions of `address` below `deletionSeq` onto ERASURES, unless the last erasure of
 * the document already covers them: the indexing catalog forgets those versions (their ids, titles and times), and so
 * does any replay of it. Returns the erasure's ERASURES sequence.
 */
export async function recordErasure(handle: NatsHandle, address: DocumentAddress, deletionSeq: number): Promise<number> {
  const subject = subjects.erasure(address);
  const last = await lastOn(handle, STREAMS.ERASURES, subject);
  if (last && last.docSeq >= deletionSeq) return last.seq;
  const event: DocumentErased = {
    type: 'document.erased',
    data: { tenant: address.tenant, source: address.source, id: address.id, docSeq: deletionSeq },
    metadata: eventMetadata('document.erased', { source: '/cli/erase', subject: address.id }),
  };
  const msgId = `${address.tenant}/${address.source}/${encodeIdToken(address.id)}/erased/${deletionSeq}`;
  return (await publishEvent(handle, subject, event, { msgId })).seq;
}

/** The subjects of `stream` matching `filter` that hold messages. */
async function subjectsIn(handle: NatsHandle, stream: string, filter: string): Promise<string[]> {
  try {
    const info = await handle.jsm.streams.info(stream, { subjects_filter: filter });
    return Object.keys(info.state.subjects ?? {}).sort();
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return [];
    throw err;
  }
}

/**
 * Erases the messages on `subject` below `keepFrom` (every one when undefined); how many went. One by one with
 * JetStream's erase (nats-server overwrites each message's bytes in its store files), where a purge only drops them
 * from the index and leaves the bytes in the block until it is compacted. A document has a few messages a version.
 */
async function purge(handle: NatsHandle, stream: string, subject: string, keepFrom: number | undefined): Promise<number> {
  const upTo = (await handle.jsm.streams.info(stream)).state.last_seq;
  const doomed: number[] = [];
  await readSlice(handle, { stream, filterSubject: subject, upTo, headersOnly: true }, async (messages) => {
    for (const m of messages) {
      if (keepFrom !== undefined && m.seq >= keepFrom) return STOP_READING;
      doomed.push(m.seq);
    }
  });
  let erased = 0;
  for (const seq of doomed) if (await eraseMessage(handle, stream, seq)) erased++;
  return erased;
}

export async function eraseMessage(handle: NatsHandle, stream: string, seq: number): Promise<boolean> {
  try {
    return await handle.jsm.streams.deleteMessage(stream, seq, true);
  } catch (err) {
    // Gone meanwhile (a limit, another erase): nothing left to erase.
    if (err instanceof JetStreamApiError && (err.code === JetStreamApiCodes.NoMessageFound || /no message found/i.test(err.message))) return false;
    throw err;
  }
}

/**
 * Where on `subject` the pipeline's answer to the deletion at `deletionSeq` begins: the first message of a version at
 * or after it (the removal, or a version published since), waiting up to `waitMs` for the last message to be one;
 * undefined when none came.
 */
async function removalMarker(handle: NatsHandle, stream: string, subject: string, deletionSeq: number, waitMs: number): Promise<number | 'no process' | undefined> {
  const deadline = Date.now() + waitMs;
  const writer = stream === STREAMS.EMBEDDINGS ? stageWatch(handle, embedderOf(subject)) : undefined;
  for (;;) {
    const last = await lastOn(handle, stream, subject);
    if (last && last.docSeq >= deletionSeq) return firstAtOrAfter(handle, stream, subject, deletionSeq, last.seq);
    if (writer && (await writer.stopped())) return 'no process';
    if (Date.now() >= deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** The durable consumer (on CHUNKS) of the embedder that writes an EMBEDDINGS subject (embeddings.<model>.…). */
export function embedderOf(subject: string): string {
  return `embedder-${subject.split('.')[1] ?? ''}`;
}

/** How long a stage's consumer may hold still with nobody pulling before erase takes it that no process runs it. */
export const STAGE_IDLE_MS = 10_000;

/**
 * Whether any process runs an embedder: its durable consumer is gone (never made, or deleted), or it has held still
 * for STAGE_IDLE_MS with no pull waiting and nothing in flight (a model no node embeds with any more, after a
 * migration). Such a stage can write nothing of the erased versions later: their inputs are gone from CHUNKS, so
 * waiting for its removal would only wait out --wait.
 */
export function stageWatch(handle: NatsHandle, consumer: string): { stopped(): Promise<boolean> } {
  const still = stillness();
  return {
    async stopped() {
      const info = await handle.jsm.consumers.info(STREAMS.CHUNKS, consumer).catch((err: unknown) => {
        if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound) return null;
        throw err;
      });
      if (info === null) return true;
      // Something in flight may still be written out: never stopped while a message is delivered and not acknowledged.
      return still(info) >= STAGE_IDLE_MS && info.num_ack_pending === 0;
    },
  };
}

/** The version a derived event belongs to (its docSeq), or −1 when it cannot be read. */
export function docSeqOf(data: Uint8Array): number {
  try {
    const body = JSON.parse(new TextDecoder().decode(data)) as { docSeq?: unknown; data?: { docSeq?: unknown } };
    const value = body.docSeq ?? body.data?.docSeq;
    return typeof value === 'number' ? value : -1;
  } catch {
    return -1;
  }
}

async function lastOn(handle: NatsHandle, stream: string, subject: string): Promise<{ seq: number; docSeq: number } | undefined> {
  try {
    const msg = await handle.jsm.streams.getMessage(stream, { last_by_subj: subject });
    return msg ? { seq: msg.seq, docSeq: docSeqOf(msg.data) } : undefined;
  } catch (err) {
    if (err instanceof JetStreamApiError && (err.code === JetStreamApiCodes.NoMessageFound || /no message found/i.test(err.message))) return undefined;
    throw err;
  }
}

/** The first message on `subject` (up to `upTo`) of a version at or after `docSeq`: a version's parts stay together. */
async function firstAtOrAfter(handle: NatsHandle, stream: string, subject: string, docSeq: number, upTo: number): Promise<number> {
  let first = upTo;
  await readSlice(handle, { stream, filterSubject: subject, upTo }, async (messages) => {
    const found = messages.find((m) => docSeqOf(m.data) >= docSeq);
    if (!found) return;
    first = found.seq;
    return STOP_READING;
  });
  return first;
}

/** Purges every event of each query of the tenant whose answer cited the document; how many queries. */
async function purgeCitingQueries(handle: NatsHandle, address: DocumentAddress, onProgress: (done: number, total: number) => void): Promise<number> {
  let last: number;
  try {
    last = (await handle.jsm.streams.info(STREAMS.QUERIES)).state.last_seq;
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return 0;
    throw err;
  }
  const citing = new Set<string>();
  let total = 0;
  let done = 0;
  const slice = { stream: STREAMS.QUERIES, filterSubject: `queries.${address.tenant}.*.answered`, upTo: last, onSize: (n: number) => (total = n) };
  await readSlice(handle, slice, async (messages) => {
    for (const m of messages) {
      try {
        const event = decodeEvent({ subject: m.subject, data: m.data, headers: m.headers }, { stream: STREAMS.QUERIES, seq: m.seq });
        if (event.type !== 'query.answered') continue;
        // The query's subject token names what to erase: a published subject holds no wildcard, whatever the payload says.
        const token = m.subject.split('.')[2];
        if (token && event.data.results.some((r) => r.source === address.source && r.docId === address.id)) citing.add(token);
      } catch {
        // Junk on an answer subject cites nothing readable.
      }
    }
    done += messages.length;
    onProgress(done, Math.max(total, done));
  });
  for (const queryId of citing) await purge(handle, STREAMS.QUERIES, `queries.${address.tenant}.${queryId}.*`, undefined);
  return citing.size;
}
