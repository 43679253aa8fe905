// QUERIES stream: query.received, query.answered (with the chunks and log sequences behind the answer) and feedback.given.
import { z } from 'zod';
import { METADATA_LIMITS, docIdSchema, nameSchema, type Event } from './common.ts';

export const SEARCH_MODES = ['hybrid', 'vector', 'keyword'] as const;
export type SearchMode = (typeof SEARCH_MODES)[number];

const scalar = z.union([z.string(), z.number(), z.boolean()]);
// An empty list is allowed and matches nothing (the same as the store), so a client that builds the list from a result
// that came back empty gets no hits instead of a 400.
const oneOrMany = <T extends z.ZodType>(item: T, what: string) =>
  z.union([item, z.array(item).max(1000)], { error: `expected ${what} or a list of at most 1000 of them` });

/** A document holds at most this many metadata keys, so a filter naming more could match nothing. */
export const MAX_FILTER_METADATA_KEYS = METADATA_LIMITS.maxKeys;

const metadataKey = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'metadata keys are letters, digits, "_", "." or "-"');

/**
 * Retrieval filters as query.received events record them: equality, ANDed; a list means any of its values (an empty
 * list, none). Events already in the log were written under these bounds, so they stay as they are; what the API
 * accepts now is queryFilterRequestSchema.
 */
export const queryFilterSchema = z
  .object({
    source: oneOrMany(nameSchema, 'a source name (1–63 characters of a–z, 0–9, "_" or "-")').optional(),
    docId: oneOrMany(z.string().min(1), 'a document id').optional(),
    metadata: z.record(metadataKey, oneOrMany(scalar, 'a string, number or boolean')).optional(),
  })
  .strict();

/**
 * Filters as the API takes them: document ids as documents take them (a filter of 1000 ids of 7 KB each made a 7 MB
 * query.received event) and at most as many metadata keys as a document holds (checking 100,000 held the store's
 * thread for almost a second).
 */
export const queryFilterRequestSchema = queryFilterSchema.extend({
  docId: oneOrMany(docIdSchema, 'a document id (1–4096 characters, as documents take)').optional(),
  metadata: z
    .record(metadataKey, oneOrMany(scalar, 'a string, number or boolean'))
    .refine((m) => Object.keys(m).length <= MAX_FILTER_METADATA_KEYS, `name at most ${MAX_FILTER_METADATA_KEYS} metadata keys (a document holds no more)`)
    .optional(),
});
export type QueryFilter = z.infer<typeof queryFilterSchema>;

export const queryReceivedV1 = z.object({
  queryId: z.string().min(1),
  tenant: nameSchema,
  query: z.string(),
  mode: z.enum(SEARCH_MODES),
  k: z.number().int().min(1),
  filter: queryFilterSchema.optional(),
  /** Which API asked (added in place, optional): the query route or the OpenAI-compatible chat route. */
  api: z.enum(['query', 'chat']).optional(),
  /** The generator and prompt template asked to answer (added in place, optional). */
  generator: z.string().optional(),
  template: z.object({ name: z.string(), version: z.number().int() }).optional(),
  stream: z.boolean().optional(),
});

export const retrievedChunkSchema = z.object({
  chunkId: z.string(),
  docId: z.string(),
  source: z.string(),
  /** DOCUMENTS sequence of the version the chunk came from. */
  seq: z.number().int(),
  score: z.number(),
});

export const queryAnsweredV1 = z.object({
  queryId: z.string().min(1),
  tenant: nameSchema,
  query: z.string(),
  answer: z.string(),
  results: z.array(retrievedChunkSchema),
  tookMs: z.number(),
  generator: z.string(),
  embeddingModel: z.string().optional(),
  /** The inference generation that answered (added in place: optional, so older events stay valid). */
  generation: z.string().optional(),
  /** Fields below were added in place, optional, so older answers stay valid. The model the generator called (none for extractive). */
  generatorModel: z.string().optional(),
  /** The prompt template (name and version) the context was rendered with. */
  template: z.object({ name: z.string(), version: z.number().int() }).optional(),
  /** The passages the generator saw, after the token budget: marker n is results[n - 1]; text as given (possibly truncated). */
  context: z.array(z.object({ n: z.number().int().min(1), chunkId: z.string(), title: z.string().optional(), text: z.string() })).optional(),
  /** Citation markers [n] the answer uses, in order of first use. */
  citations: z.array(z.number().int().min(1)).optional(),
  /** Where the time went, in milliseconds. */
  timings: z
    .object({ waitMs: z.number().optional(), embedMs: z.number().optional(), searchMs: z.number().optional(), rerankMs: z.number().optional(), generateMs: z.number().optional(), totalMs: z.number() })
    .optional(),
  /** Token counts as the provider reported them (estimated for extractive). */
  usage: z.object({ promptTokens: z.number().int(), completionTokens: z.number().int() }).optional(),
  reranker: z.string().optional(),
});

export const feedbackGivenV1 = z.object({
  queryId: z.string().min(1),
  tenant: nameSchema,
  rating: z.number().int().min(-1).max(1),
  comment: z.string().max(4000).optional(),
});

export type QueryReceived = Event<'query.received', z.infer<typeof queryReceivedV1>>;
export type QueryAnswered = Event<'query.answered', z.infer<typeof queryAnsweredV1>>;
export type FeedbackGiven = Event<'feedback.given', z.infer<typeof feedbackGivenV1>>;
export type QueryEvent = QueryReceived | QueryAnswered | FeedbackGiven;

export const queryEvents = {
  'query.received': { version: 1, schemas: { 1: queryReceivedV1 }, upcasters: {} },
  'query.answered': { version: 1, schemas: { 1: queryAnsweredV1 }, upcasters: {} },
  'feedback.given': { version: 1, schemas: { 1: feedbackGivenV1 }, upcasters: {} },
} as const;
