// ERASURES stream: document.erased, written by `spanda erase` once a document's earlier versions are gone from the log.
import { z } from 'zod';
import { docIdSchema, nameSchema, type Event } from './common.ts';

export const documentErasedV1 = z.object({
  tenant: nameSchema,
  source: nameSchema,
  id: docIdSchema,
  /** DOCUMENTS sequence of the deletion the log keeps: every version below it was erased from every stream. */
  docSeq: z.number().int().min(1),
});

export type DocumentErasedData = z.infer<typeof documentErasedV1>;
export type DocumentErased = Event<'document.erased', DocumentErasedData>;

export const erasureEvents = {
  'document.erased': { version: 1, schemas: { 1: documentErasedV1 }, upcasters: {} },
} as const;
