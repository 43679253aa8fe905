// The indexing projection: the catalog of every document version and what each stage did with it (pure, no I/O).
import { chunkerFingerprint, type SpandaEvent, type StoredEvent } from '../streams/events/index.ts';
import { STREAMS } from '../streams/provision.ts';
import type { Projection } from './projection.ts';

export const INDEXING_PROJECTION_VERSION = 1;

interface Address {
  readonly tenant: string;
  readonly source: string;
  readonly docId: string;
  readonly docSeq: number;
  /** The event's ce-time: when the stage produced it. */
  readonly at: string;
  /** Stream sequence of the event itself. */
  readonly seq: number;
}

/** One fact about one document version. */
export type CatalogOp =
  | (Address & { readonly kind: 'published'; readonly deleted: boolean; readonly contentHash?: string; readonly title?: string })
  | (Address & {
      readonly kind: 'chunked';
      readonly chunker: string;
      readonly part: number;
      readonly parts: number;
      readonly totalChunks: number;
      readonly chunkIds: readonly string[];
    })
  /** A stage (ce-source of the event: the chunker, an embedder) acknowledged a delete. */
  | (Address & { readonly kind: 'removed'; readonly by: string })
  | (Address & { readonly kind: 'embedded'; readonly model: string; readonly part: number; readonly parts: number; readonly vectors: number })
  /** `spanda erase` took every version below docSeq (the deletion it keeps) out of the log: forget their facts. */
  | (Address & { readonly kind: 'erased' });

export function indexingProjection(): Projection<CatalogOp> {
  return {
    name: 'indexing',
    version: INDEXING_PROJECTION_VERSION,
    sources: [
      { key: STREAMS.DOCUMENTS, stream: STREAMS.DOCUMENTS, filterSubject: 'docs.>' },
      { key: STREAMS.CHUNKS, stream: STREAMS.CHUNKS, filterSubject: 'chunks.>' },
      { key: STREAMS.EMBEDDINGS, stream: STREAMS.EMBEDDINGS, filterSubject: 'embeddings.>' },
      { key: STREAMS.ERASURES, stream: STREAMS.ERASURES, filterSubject: 'erasures.>' },
    ],
    canHandle: ['document.upserted', 'document.deleted', 'document.chunked', 'document.removed', 'document.embedded', 'document.erased'],
    project(event: StoredEvent<SpandaEvent>): CatalogOp[] {
      // Every fact names its document version, when the stage produced it and where its event sits in the log.
      const at = (d: { tenant: string; source: string; id: string }, docSeq: number): Address => ({
        tenant: d.tenant,
        source: d.source,
        docId: d.id,
        docSeq,
        at: event.metadata.time,
        seq: event.position.seq,
      });
      const seq = event.position.seq;
      switch (event.type) {
        case 'document.upserted': {
          const d = event.data;
          return [{ kind: 'published', ...at(d, seq), deleted: false, contentHash: d.contentHash, ...(d.title !== undefined ? { title: d.title } : {}) }];
        }
        case 'document.deleted':
          return [{ kind: 'published', ...at(event.data, seq), deleted: true }];
        case 'document.chunked': {
          const d = event.data;
          return [
            {
              kind: 'chunked',
              ...at(d, d.docSeq),
              chunker: chunkerFingerprint(d.chunker),
              part: d.part.index,
              parts: d.part.count,
              totalChunks: d.totalChunks,
              chunkIds: d.chunks.map((c) => c.chunkId),
            },
          ];
        }
        case 'document.removed':
          return [{ kind: 'removed', ...at(event.data, event.data.docSeq), by: event.metadata.source }];
        case 'document.embedded': {
          const d = event.data;
          return [{ kind: 'embedded', ...at(d, d.docSeq), model: d.model.id, part: d.part.index, parts: d.part.count, vectors: d.vectors.length }];
        }
        case 'document.erased':
          return [{ kind: 'erased', ...at(event.data, event.data.docSeq) }];
        default:
          return [];
      }
    },
  };
}
