// The inference projection: live chunks of each document (CHUNKS) and the active model's vectors (EMBEDDINGS).
import { ValidationError } from '../lib/errors.ts';
import { decodeVector, isScriptUrl, type SpandaEvent, type StoredEvent } from '../streams/events/index.ts';
import { STREAMS } from '../streams/provision.ts';
import { subjects } from '../streams/subjects.ts';
import { chunkerFingerprint } from './generations.ts';
import type { Projection } from './projection.ts';
import type { StoreOp } from './store.ts';

export const INFERENCE_PROJECTION_VERSION = 1;

/**
 * The projection of one generation: CHUNKS written by the chunker whose settings have the fingerprint `chunker`
 * (projections/generations.ts chunkerFingerprint; undefined takes every chunker's) and EMBEDDINGS of `model`.
 */
export function inferenceProjection(model: { id: string; dims: number }, chunker?: string): Projection {
  return {
    name: 'inference',
    version: INFERENCE_PROJECTION_VERSION,
    sources: [
      { key: STREAMS.CHUNKS, stream: STREAMS.CHUNKS, filterSubject: 'chunks.>' },
      { key: `${STREAMS.EMBEDDINGS}:${model.id}`, stream: STREAMS.EMBEDDINGS, filterSubject: subjects.embeddingsOfModel(model.id) },
    ],
    canHandle: ['document.chunked', 'document.embedded', 'document.removed'],
    project(event: StoredEvent<SpandaEvent>): StoreOp[] {
      switch (event.type) {
        case 'document.chunked': {
          const d = event.data;
          // Chunks of another chunker's settings belong to another generation (their ids differ, so they never mix).
          if (chunker !== undefined && chunkerFingerprint(d.chunker) !== chunker) return [];
          return [
            {
              kind: 'chunks',
              tenant: d.tenant,
              source: d.source,
              docId: d.id,
              docSeq: d.docSeq,
              metadata: d.document.metadata,
              part: d.part,
              totalChunks: d.totalChunks,
              chunks: d.chunks.map(({ heading, ...chunk }) => (heading !== undefined ? { ...chunk, heading } : chunk)),
              ...(d.document.title !== undefined ? { title: d.document.title } : {}),
              // A script URL written straight to the log (the API refuses it) never reaches a UI as a link.
              ...(d.document.url !== undefined && !isScriptUrl(d.document.url) ? { url: d.document.url } : {}),
            },
          ];
        }
        case 'document.embedded': {
          const d = event.data;
          if (d.model.id !== model.id) return [];
          if (d.model.dims !== model.dims) {
            throw new ValidationError(`vectors of ${d.model.id} have ${d.model.dims} dimensions; this projection expects ${model.dims}`);
          }
          return [
            {
              kind: 'vectors',
              tenant: d.tenant,
              source: d.source,
              docId: d.id,
              docSeq: d.docSeq,
              model: d.model.id,
              vectors: d.vectors.map((v) => ({ chunkId: v.chunkId, window: v.window, vector: decodeVector(v.vector, d.model.dims) })),
            },
          ];
        }
        case 'document.removed': {
          const d = event.data;
          return [{ kind: 'remove', tenant: d.tenant, source: d.source, docId: d.id, docSeq: d.docSeq }];
        }
        default:
          throw new ValidationError(`the inference projection cannot apply ${event.type}`);
      }
    },
  };
}
