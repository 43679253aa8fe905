// An answer's lineage: the answered event, each cited chunk, and the DOCUMENTS event (by sequence) its text came from.
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { errorMessage } from '../lib/errors.ts';
import { decodeEvent } from '../streams/codec.ts';
import { isScriptUrl } from '../streams/events/index.ts';
import type { NatsHandle } from '../streams/nats.ts';
import { STREAMS } from '../streams/provision.ts';
import { subjects } from '../streams/subjects.ts';
import { readAnswer, readLatestFeedback } from './record.ts';

export interface DocumentVersion {
  readonly stream: string;
  readonly seq: number;
  readonly subject: string;
  readonly type: string;
  readonly eventId: string;
  readonly time: string;
  readonly source: string;
  readonly title?: string;
  readonly url?: string;
  readonly contentHash?: string;
  readonly textChars?: number;
}

export interface LineageEntry {
  /** The citation marker [n] of this result. */
  readonly n: number;
  readonly cited: boolean;
  readonly chunkId: string;
  readonly docId: string;
  readonly source: string;
  readonly score: number;
  /** The DOCUMENTS event of the version the chunk came from; null when retention has removed it from the log. */
  readonly document: DocumentVersion | null;
  /** current: still the document's latest version; superseded: a newer version exists; deleted; unknown (not in the log). */
  readonly status: 'current' | 'superseded' | 'deleted' | 'unknown';
  readonly latestSeq?: number;
}

async function messageAt(nats: NatsHandle, stream: string, query: { seq: number } | { last_by_subj: string }) {
  try {
    return (await nats.jsm.streams.getMessage(stream, query)) ?? undefined;
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound) return undefined;
    throw err;
  }
}

async function documentVersion(nats: NatsHandle, tenant: string, seq: number): Promise<DocumentVersion | null> {
  const msg = await messageAt(nats, STREAMS.DOCUMENTS, { seq });
  if (!msg) return null;
  let event;
  try {
    event = decodeEvent({ subject: msg.subject, data: msg.data, headers: msg.header }, { stream: STREAMS.DOCUMENTS, seq: msg.seq });
  } catch (err) {
    return { stream: STREAMS.DOCUMENTS, seq, subject: msg.subject, type: `unreadable: ${errorMessage(err)}`, eventId: '', time: '', source: '' };
  }
  // A sequence from another tenant's slice of the log is never shown, whatever the answer event says.
  if ((event.data as { tenant?: string }).tenant !== tenant) return null;
  const base = { stream: STREAMS.DOCUMENTS, seq, subject: msg.subject, type: event.type, eventId: event.metadata.id, time: event.metadata.time, source: event.metadata.source };
  if (event.type !== 'document.upserted') return base;
  const d = event.data;
  return {
    ...base,
    ...(d.title !== undefined ? { title: d.title } : {}),
    ...(d.url !== undefined && !isScriptUrl(d.url) ? { url: d.url } : {}),
    contentHash: d.contentHash,
    textChars: d.text.length,
  };
}

/** The answer of `queryId` with its lineage; NotFoundError when this tenant has no such answer. */
export async function answerLineage(nats: NatsHandle, tenant: string, queryId: string) {
  const answered = await readAnswer(nats, tenant, queryId);
  const feedback = await readLatestFeedback(nats, tenant, queryId);
  const d = answered.data;
  const cited = new Set(d.citations ?? []);
  const lineage: LineageEntry[] = await Promise.all(
    d.results.map(async (r, i): Promise<LineageEntry> => {
      const document = await documentVersion(nats, tenant, r.seq);
      const latest = await messageAt(nats, STREAMS.DOCUMENTS, { last_by_subj: subjects.document({ tenant, source: r.source, id: r.docId }) });
      const latestType = latest?.header?.get('ce-type');
      const status: LineageEntry['status'] = !latest ? 'unknown' : latestType === 'document.deleted' ? 'deleted' : latest.seq === r.seq ? 'current' : 'superseded';
      return {
        n: i + 1,
        cited: cited.has(i + 1),
        chunkId: r.chunkId,
        docId: r.docId,
        source: r.source,
        score: r.score,
        document,
        status,
        ...(latest ? { latestSeq: latest.seq } : {}),
      };
    }),
  );
  return {
    queryId,
    tenant,
    query: d.query,
    answer: d.answer,
    generator: d.generator,
    ...(d.generatorModel !== undefined ? { generatorModel: d.generatorModel } : {}),
    ...(d.template !== undefined ? { template: d.template } : {}),
    ...(d.embeddingModel !== undefined ? { embeddingModel: d.embeddingModel } : {}),
    ...(d.generation !== undefined ? { generation: d.generation } : {}),
    ...(d.citations !== undefined ? { citations: d.citations } : {}),
    ...(d.timings !== undefined ? { timings: d.timings } : {}),
    tookMs: d.tookMs,
    answeredAt: answered.metadata.time,
    event: { stream: answered.position.stream, seq: answered.position.seq, subject: answered.position.subject, id: answered.metadata.id },
    feedback: feedback ? { rating: feedback.data.rating, ...(feedback.data.comment !== undefined ? { comment: feedback.data.comment } : {}), seq: feedback.position.seq } : null,
    lineage,
  };
}
