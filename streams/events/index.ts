// The event registry: every event type with its schema versions and upcasters; validation and upcasting on read.
import type { z } from 'zod';
import { ValidationError } from '../../lib/errors.ts';
import { chunkEvents, type ChunkEvent } from './chunks.ts';
import { documentEvents, type DocumentEvent } from './documents.ts';
import { embeddingEvents, type DocumentEmbedded } from './embeddings.ts';
import { erasureEvents, type DocumentErased } from './erasures.ts';
import { FAST_VALIDATORS } from './fast-parse.ts';
import { queryEvents, type QueryEvent } from './queries.ts';

export * from './common.ts';
export * from './documents.ts';
export * from './chunks.ts';
export * from './embeddings.ts';
export * from './erasures.ts';
export * from './queries.ts';

export type SpandaEvent = DocumentEvent | ChunkEvent | DocumentEmbedded | DocumentErased | QueryEvent;
export type EventType = SpandaEvent['type'];
export type EventOfType<T extends EventType> = Extract<SpandaEvent, { type: T }>;

interface EventDefinition {
  /** The schema version producers write today. */
  readonly version: number;
  readonly schemas: Readonly<Record<number, z.ZodType>>;
  /** upcasters[v] turns data of version v into version v + 1. */
  readonly upcasters: Readonly<Record<number, (data: unknown) => unknown>>;
}

const registry: Readonly<Record<EventType, EventDefinition>> = {
  ...documentEvents,
  ...chunkEvents,
  ...embeddingEvents,
  ...erasureEvents,
  ...queryEvents,
};

export const EVENT_TYPES = Object.keys(registry) as EventType[];

export function isEventType(type: string): type is EventType {
  return Object.hasOwn(registry, type);
}

export function currentSchemaVersion(type: EventType): number {
  return registry[type].version;
}

function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
}

/** Upcasts data written at `schemaVersion` to the current version and validates it; throws ValidationError. */
export function parseEventData<T extends EventType>(type: T, schemaVersion: number, raw: unknown): EventOfType<T>['data'] {
  const definition = registry[type];
  if (!Number.isInteger(schemaVersion) || schemaVersion < 1 || schemaVersion > definition.version) {
    throw new ValidationError(
      `${type} schema version ${schemaVersion} is not readable by this build (it reads 1–${definition.version}); upgrade Spanda to read newer events`,
      [`schema-version: ${schemaVersion}`],
    );
  }
  let data = raw;
  for (let v = schemaVersion; v < definition.version; v++) {
    const upcast = definition.upcasters[v];
    if (!upcast) throw new ValidationError(`no upcaster from ${type} v${v} to v${v + 1}`);
    data = upcast(data);
  }
  // The bulk events (chunks, vectors) are read by several stages each; a plain check of their exact shape spares
  // zod's copy of every chunk and vector. Anything it is not sure of, zod decides.
  const fast = FAST_VALIDATORS[`${type}@${definition.version}`]?.(data);
  if (fast !== undefined) return fast as EventOfType<T>['data'];
  const schema = definition.schemas[definition.version];
  if (!schema) throw new ValidationError(`no schema for ${type} v${definition.version}`);
  const result = schema.safeParse(data);
  if (!result.success) {
    const issues = formatIssues(result.error);
    throw new ValidationError(`invalid ${type} event: ${issues.join('; ')}`, issues);
  }
  return result.data as EventOfType<T>['data'];
}

/** JSON Schema (draft 2020-12) of every event type at its current version: the published contract. */
export async function eventJsonSchemas(): Promise<Record<string, unknown>> {
  const { z } = await import('zod');
  const out: Record<string, unknown> = {};
  for (const type of EVENT_TYPES) {
    const definition = registry[type];
    const schema = definition.schemas[definition.version];
    if (schema) out[`${type}.v${definition.version}`] = z.toJSONSchema(schema, { io: 'input' });
  }
  return out;
}
