// DOCUMENTS stream: document.upserted and document.deleted, their JSON Schemas (via zod) and upcasters.
import { z } from 'zod';
import { docIdSchema, metadataSchema, nameSchema, type Event } from './common.ts';

export const CONTENT_TYPES = ['text/plain', 'text/markdown', 'text/html'] as const;
export type ContentType = (typeof CONTENT_TYPES)[number];

export const documentUpsertedV1 = z.object({
  tenant: nameSchema,
  source: nameSchema,
  id: docIdSchema,
  title: z.string().max(2000).optional(),
  url: z.string().max(8192).optional(),
  contentType: z.enum(CONTENT_TYPES).optional(),
  text: z.string(),
  metadata: metadataSchema.default({}),
  /** sha256 over the fields that change what is indexed; the dedupe key of identical re-publishes. */
  contentHash: z.string().regex(/^sha256:[0-9a-f]{64}$/),
});

export const documentDeletedV1 = z.object({
  tenant: nameSchema,
  source: nameSchema,
  id: docIdSchema,
});

export type DocumentUpsertedData = z.infer<typeof documentUpsertedV1>;
export type DocumentDeletedData = z.infer<typeof documentDeletedV1>;
export type DocumentUpserted = Event<'document.upserted', DocumentUpsertedData>;
export type DocumentDeleted = Event<'document.deleted', DocumentDeletedData>;
export type DocumentEvent = DocumentUpserted | DocumentDeleted;

export const documentEvents = {
  'document.upserted': { version: 1, schemas: { 1: documentUpsertedV1 }, upcasters: {} },
  'document.deleted': { version: 1, schemas: { 1: documentDeletedV1 }, upcasters: {} },
} as const;
