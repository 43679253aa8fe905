// Weaviate names for a generation: class names, the role alias, tenant names and deterministic object UUIDs.
import { createHash } from 'node:crypto';

/** Weaviate class (collection) and alias names: a capital letter, then letters, digits and "_". */
const CLASS_NAME = /^[A-Z][_0-9A-Za-z]*$/;
/** Weaviate tenant names. */
const TENANT_NAME = /^[A-Za-z0-9_-]{1,64}$/;

const shortHash = (value: string, length = 10): string => createHash('sha256').update(value).digest('hex').slice(0, length);

/**
 * One name part made class-name safe. Parts that need changing get a hash of the original appended, so two generation
 * ids that differ only in characters Weaviate refuses ("a-b", "a.b") never share a collection.
 */
export function namePart(value: string): string {
  const safe = value.replace(/[^0-9A-Za-z_]/g, '_');
  return safe === value && value.length > 0 ? value : `${safe}_${shortHash(value, 8)}`;
}

/** The alias the role is served through: `Spanda_<role>`. */
export function aliasName(role: string): string {
  return checkClassName(`Spanda_${namePart(role)}`);
}

/** The collections of one generation: chunks and windows (the alias target), document state, store state. */
export interface GenerationCollections {
  /** `Spanda_<role>_<generation>`: chunk objects (text, BM25) and window objects (vectors); the alias points here. */
  readonly chunks: string;
  /** Document records (version, tombstone, metadata) and vectors waiting for their chunks, per tenant. */
  readonly docs: string;
  /** Checkpoints and the generation's layout (model, schema version); not multi-tenant. */
  readonly state: string;
}

export function generationCollections(role: string, generation: string): GenerationCollections {
  const base = `Spanda_${namePart(role)}_${namePart(generation)}`;
  // Weaviate caps class names at 255 characters; a long generation id is replaced by its hash.
  const chunks = base.length <= 200 ? base : `Spanda_${namePart(role).slice(0, 40)}_${shortHash(generation, 32)}`;
  return { chunks: checkClassName(chunks), docs: checkClassName(`${chunks}_Docs`), state: checkClassName(`${chunks}_State`) };
}

function checkClassName(name: string): string {
  if (!CLASS_NAME.test(name)) throw new Error(`not a valid Weaviate class name: ${name}`);
  return name;
}

/**
 * The Weaviate tenant of a Spanda tenant. Spanda tenant names (a–z, 0–9, "_", "-") are valid Weaviate tenant names and
 * are used as they are, so operators see the same name in both; anything else is mapped to a stable hashed name.
 */
export function weaviateTenant(tenant: string): string {
  return TENANT_NAME.test(tenant) && !tenant.startsWith('x--') ? tenant : `x--${shortHash(tenant, 32)}`;
}

// Fixed namespace for Spanda's object ids (a random v4, generated once).
const NAMESPACE = Buffer.from('6f1c2a9e4b7d4e0f9a3c5d2e8b1f7a64', 'hex');

/** A name-based (v5, SHA-1) UUID: the same parts always give the same object id, so replays overwrite, never duplicate. */
export function uuidV5(parts: readonly (string | number)[]): string {
  const digest = createHash('sha1').update(NAMESPACE).update(JSON.stringify(parts)).digest();
  const bytes = digest.subarray(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const docRecordId = (tenant: string, source: string, docId: string): string => uuidV5(['doc', tenant, source, docId]);
export const chunkObjectId = (tenant: string, source: string, docId: string, chunkId: string): string =>
  uuidV5(['chunk', tenant, source, docId, chunkId]);
export const windowObjectId = (tenant: string, source: string, docId: string, chunkId: string, window: number): string =>
  uuidV5(['window', tenant, source, docId, chunkId, window]);
export const pendingObjectId = (tenant: string, source: string, docId: string, docSeq: number, chunkId: string, window: number): string =>
  uuidV5(['pending', tenant, source, docId, docSeq, chunkId, window]);
export const checkpointObjectId = (key: string): string => uuidV5(['checkpoint', key]);
export const LAYOUT_OBJECT_ID = uuidV5(['layout']);
