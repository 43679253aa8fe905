// The chunker processor: document.upserted → document.chunked (split into parts under max_payload), deleted → removed.
import { setImmediate } from 'node:timers/promises';
import { PermanentEventError } from '../../lib/errors.ts';
import { eventMetadata } from '../../streams/codec.ts';
import {
  chunkerConsumerName,
  chunkerFingerprint,
  type Chunk,
  type ChunkerInfo,
  type DocumentChunkedData,
  type DocumentDeleted,
  type DocumentUpserted,
  type SpandaEvent,
  type StoredEvent,
} from '../../streams/events/index.ts';
import { derivedMsgId } from '../../streams/ids.ts';
import { subjects } from '../../streams/subjects.ts';
import { ENVELOPE_ALLOWANCE_BYTES, splitIntoParts } from '../parts.ts';
import type { Outcome, Output, Processor, ProcessorContext } from '../processor.ts';
import { chunkOptions, chunkText, DEFAULT_CHUNKER } from './chunk.ts';
import { normalizeText } from './normalize.ts';

const NAME = 'chunker';
// 2: chunk ids carry the chunker fingerprint.
const VERSION = 2;
const SOURCE = '/processors/chunker';
const YIELD_EVERY_MS = 25;

/** The chunker processor. Options are validated here (ValidationError), so a bad configuration fails at start-up. */
export function createChunker(options: { size?: number; overlap?: number } = {}): Processor {
  const { size, overlap } = chunkOptions(options);
  const chunker: ChunkerInfo = { name: DEFAULT_CHUNKER.name, version: DEFAULT_CHUNKER.version, size, overlap };
  return {
    name: chunkerConsumerName(chunkerFingerprint(chunker)),
    version: VERSION,
    stream: 'DOCUMENTS',
    filterSubjects: ['docs.>'],
    batchSize: 64,
    async handle(inputs, context) {
      const outcomes: Outcome[] = [];
      let since = performance.now();
      for (const input of inputs) {
        outcomes.push(outcome(input, chunker, context));
        // Chunking is synchronous CPU work; a batch of large documents must not starve the runner's timers
        // (heartbeats, ack progress) for seconds, so the event loop gets a turn every few tens of milliseconds.
        if (performance.now() - since > YIELD_EVERY_MS) {
          await setImmediate();
          since = performance.now();
        }
      }
      return outcomes;
    },
  };
}

// One bad document must not fail the batch: whatever it throws becomes its own outcome.
function outcome(input: StoredEvent<SpandaEvent>, chunker: ChunkerInfo, context: ProcessorContext): Outcome {
  try {
    switch (input.type) {
      case 'document.upserted':
        return chunked(input, chunker, context);
      case 'document.deleted':
        return [removed(input, chunker)];
      default:
        return new PermanentEventError(
          `the chunker handles document.upserted and document.deleted, not ${input.type} (${input.position.stream}:${input.position.seq} on ${input.position.subject})`,
        );
    }
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

function chunked(input: StoredEvent<DocumentUpserted>, chunker: ChunkerInfo, context: ProcessorContext): Output[] {
  const { tenant, source, id, title, url, contentType, text, metadata, contentHash } = input.data;
  const docSeq = input.position.seq;
  const fingerprint = fingerprintOf(chunker);
  const chunks: Chunk[] = chunkText(normalizeText(text, contentType), chunker).map((chunk) => ({ chunkId: `${docSeq}:${fingerprint}:${chunk.ordinal}`, ...chunk }));
  const base: Omit<DocumentChunkedData, 'part' | 'chunks'> = {
    tenant,
    source,
    id,
    docSeq,
    document: { ...(title !== undefined ? { title } : {}), ...(url !== undefined ? { url } : {}), metadata, contentHash },
    chunker,
    totalChunks: chunks.length,
  };
  const parts = splitIntoParts(chunks, context.maxPayloadBytes - envelopeBytes(base, context.maxPayloadBytes));
  return parts.map((partChunks, index) =>
    output(input, chunker, 'document.chunked', index, { ...base, part: { index, count: parts.length }, chunks: partChunks }),
  );
}

// A SHA-256 per chunk otherwise: the settings of a chunker never change.
const fingerprints = new WeakMap<ChunkerInfo, string>();
function fingerprintOf(chunker: ChunkerInfo): string {
  let fingerprint = fingerprints.get(chunker);
  if (fingerprint === undefined) {
    fingerprint = chunkerFingerprint(chunker);
    fingerprints.set(chunker, fingerprint);
  }
  return fingerprint;
}

// Every part repeats the document info; with a large title, url or metadata that repetition is what must fit first.
function envelopeBytes(base: Omit<DocumentChunkedData, 'part' | 'chunks'>, maxPayloadBytes: number): number {
  const bytes = Buffer.byteLength(JSON.stringify({ ...base, part: { index: 999_999, count: 999_999 }, chunks: [] }), 'utf8');
  if (bytes + ENVELOPE_ALLOWANCE_BYTES >= maxPayloadBytes) {
    throw new PermanentEventError(
      `the document's title, url and metadata take ${bytes} bytes, leaving no room for chunks under max_payload ${maxPayloadBytes}; shrink the metadata or raise max_payload`,
    );
  }
  return bytes;
}

function removed(input: StoredEvent<DocumentDeleted>, chunker: ChunkerInfo): Output {
  const { tenant, source, id } = input.data;
  return output(input, chunker, 'document.removed', 0, { tenant, source, id, docSeq: input.position.seq });
}

// Chunk size and overlap change the output, so they are part of the message id: re-chunking with new settings
// within the duplicate window must not be dropped as a duplicate of the old output.
function variantOf(chunker: ChunkerInfo): string {
  return `${VERSION}.${chunker.version}.${chunker.size}.${chunker.overlap}`;
}

function output<T extends 'document.chunked' | 'document.removed'>(
  input: StoredEvent<DocumentUpserted | DocumentDeleted>,
  chunker: ChunkerInfo,
  type: T,
  part: number,
  data: Extract<SpandaEvent, { type: T }>['data'],
): Output {
  const { tenant, source, id } = input.data;
  const msgId = derivedMsgId(NAME, variantOf(chunker), input.position, part);
  const metadata = eventMetadata(type, {
    source: SOURCE,
    subject: id,
    id: msgId,
    causation: { stream: input.position.stream, seq: input.position.seq },
    traceparent: input.metadata.traceparent,
  });
  return { subject: subjects.chunks({ tenant, source, id }), event: { type, data, metadata } as Extract<SpandaEvent, { type: T }>, msgId };
}
