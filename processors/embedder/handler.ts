// The embedder processor: CHUNKS → EMBEDDINGS for one model, embedding every window of a batch of inputs in one call.
import { errorMessage, PermanentEventError, SpandaError, TransientError, UnavailableError } from '../../lib/errors.ts';
import { eventMetadata } from '../../streams/codec.ts';
import {
  encodeVector,
  vectorProblem,
  type DocumentChunked,
  type DocumentEmbedded,
  type DocumentRemoved,
  type SpandaEvent,
  type StoredEvent,
} from '../../streams/events/index.ts';
import { derivedMsgId } from '../../streams/ids.ts';
import { subjects } from '../../streams/subjects.ts';
import { splitIntoParts } from '../parts.ts';
import type { Outcome, Output, Processor, ProcessorContext } from '../processor.ts';
import type { EmbeddingProvider } from './provider.ts';

/** Bump when the vectors for the same input change (windowing, provider behaviour): it is part of every output id. */
export const EMBEDDER_VERSION = 1;

type EmbeddedVector = DocumentEmbedded['data']['vectors'][number];

interface PendingWindow {
  readonly input: number;
  readonly chunkId: string;
  readonly window: number;
  readonly text: string;
}

function embeddedVector(w: PendingWindow, vector: Float32Array): EmbeddedVector {
  return { chunkId: w.chunkId, window: w.window, vector: encodeVector(vector) };
}

// A plain loop: TypedArray.some boxes every component it passes to its callback.
function hasNonFinite(vector: Float32Array): boolean {
  for (let i = 0; i < vector.length; i++) if (!Number.isFinite(vector[i] as number)) return true;
  return false;
}

/** Errors about the provider's availability, not about the input: every input of the batch waits for it. */
function isTransient(error: Error): boolean {
  return error instanceof TransientError || error instanceof UnavailableError;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(errorMessage(error));
}

/**
 * The embedder for one provider. It does not close the provider: whoever created it may share it (queries embed
 * with the same model) and closes it when done.
 */
export function createEmbedder(provider: EmbeddingProvider): Processor {
  const model = provider.info;
  const name = `embedder-${model.id}`;
  const version = EMBEDDER_VERSION;
  const source = `/processors/embedder/${model.id}`;

  const output = (event: DocumentEmbedded | DocumentRemoved): Output => ({
    subject: subjects.embeddings(model.id, event.data),
    event,
    msgId: event.metadata.id,
  });

  const metadataFor = (input: StoredEvent<SpandaEvent>, type: 'document.embedded' | 'document.removed', id: string, part: number) =>
    eventMetadata(type, {
      source,
      subject: id,
      id: derivedMsgId(name, version, { stream: input.position.stream, seq: input.position.seq }, part),
      causation: { stream: input.position.stream, seq: input.position.seq },
      traceparent: input.metadata.traceparent,
    });

  const removed = (input: StoredEvent<DocumentRemoved>): Outcome => {
    const { tenant, source: docSource, id, docSeq } = input.data;
    const event: DocumentRemoved = {
      type: 'document.removed',
      data: { tenant, source: docSource, id, docSeq },
      metadata: metadataFor(input, 'document.removed', id, 0),
    };
    return [output(event)];
  };

  const embedded = (input: StoredEvent<DocumentChunked>, vectors: readonly EmbeddedVector[], context: ProcessorContext): Outcome => {
    const { tenant, source: docSource, id, docSeq } = input.data;
    let parts: EmbeddedVector[][];
    try {
      parts = splitIntoParts(vectors, context.maxPayloadBytes);
    } catch (error) {
      return asError(error);
    }
    return parts.map((partVectors, index) => {
      const event: DocumentEmbedded = {
        type: 'document.embedded',
        data: { tenant, source: docSource, id, docSeq, model: { ...model }, part: { index, count: parts.length }, vectors: partVectors },
        metadata: metadataFor(input, 'document.embedded', id, index),
      };
      return output(event);
    });
  };

  /** The provider's vectors for these windows, checked, or the provider's error as is (a TransientError stays one). */
  async function embedWindows(windows: readonly PendingWindow[]): Promise<Float32Array[] | Error> {
    if (windows.length === 0) return [];
    try {
      const vectors = await provider.embed(windows.map((w) => w.text));
      if (vectors.length !== windows.length) {
        throw new SpandaError('embedding-failed', `${model.id} returned ${vectors.length} vectors for ${windows.length} texts`);
      }
      const wrong = vectors.find((v) => v.length !== model.dims);
      if (wrong) throw new SpandaError('embedding-failed', `${model.id} returned a ${wrong.length}-d vector; the model declares ${model.dims}`);
      // The projection refuses non-finite vectors; publishing one would only move the failure downstream.
      const broken = vectors.findIndex(hasNonFinite);
      if (broken >= 0) throw new PermanentEventError(`${model.id} returned a vector with a non-finite component for window ${windows[broken]?.window ?? '?'} of chunk ${windows[broken]?.chunkId ?? '?'}`);
      return vectors;
    } catch (error) {
      return asError(error);
    }
  }

  return {
    name,
    version,
    stream: 'CHUNKS',
    filterSubjects: ['chunks.>'],
    batchSize: 32,
    // A document of thousands of chunks takes a model minutes: it runs in a batch of its own (32 one-page documents
    // are ~150 KB of chunks), and later documents go beside it after a second.
    concurrentBatches: 2,
    maxBatchBytes: 256 * 1024,

    async handle(inputs, context) {
      const outcomes: Array<Outcome | undefined> = inputs.map(() => undefined);
      const chunked = new Map<number, StoredEvent<DocumentChunked>>();
      const pending: PendingWindow[] = [];
      inputs.forEach((input, index) => {
        switch (input.type) {
          case 'document.chunked': {
            const windows: PendingWindow[] = [];
            try {
              for (const chunk of input.data.chunks) {
                provider.windows(chunk.text).forEach((text, window) => {
                  // Nothing to search for in an empty chunk, and a model cannot embed empty text.
                  if (text.trim().length > 0) windows.push({ input: index, chunkId: chunk.chunkId, window, text });
                });
              }
            } catch (error) {
              outcomes[index] = asError(error);
              return;
            }
            chunked.set(index, input);
            pending.push(...windows);
            return;
          }
          case 'document.removed':
            outcomes[index] = removed(input);
            return;
          default:
            outcomes[index] = new PermanentEventError(`${name} reads document.chunked and document.removed from CHUNKS, not ${input.type}`);
        }
      });

      // One call for every window of the batch: the provider batches across documents far better than per document.
      const batchVectors = await embedWindows(pending);
      // A failure that is not about availability may be one input's text: embed each input alone, so the others are
      // published and only the input that fails again is retried (and dead-lettered in the end).
      const isolate = batchVectors instanceof Error && !isTransient(batchVectors) && chunked.size > 1;
      for (const [index, input] of chunked) {
        const own = pending.flatMap((w, at) => (w.input === index ? [{ w, at }] : []));
        const vectors = !(batchVectors instanceof Error)
          ? own.map(({ at }) => batchVectors[at] as Float32Array)
          : isolate
            ? await embedWindows(own.map(({ w }) => w))
            : batchVectors;
        // A window with nothing the model can read (the hash embedder on "---") gives the zero vector, which has no
        // direction to search by and which the projection refuses: the chunk stays findable by keyword only.
        outcomes[index] =
          vectors instanceof Error
            ? vectors
            : embedded(
                input,
                own.flatMap(({ w }, i) => {
                  const vector = vectors[i] as Float32Array;
                  return vectorProblem(vector) === undefined ? [embeddedVector(w, vector)] : [];
                }),
                context,
              );
      }
      return outcomes.map((outcome) => outcome ?? new Error('internal: input left without an outcome'));
    },
  };
}
