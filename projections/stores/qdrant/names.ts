// Names and ids in Qdrant: collection and alias names per role and generation, deterministic point UUIDs per record.
import { createHash } from 'node:crypto';

const MAX_NAME = 200;

/** A name part Qdrant accepts everywhere ([A-Za-z0-9_-]); a part that had to change gets a short hash so two never collide. */
export function sanitizeNamePart(part: string): string {
  const clean = part.replace(/[^A-Za-z0-9_-]/g, '_');
  if (clean === part && clean.length > 0 && clean.length <= MAX_NAME / 2) return clean;
  const hash = createHash('sha256').update(part).digest('hex').slice(0, 10);
  return `${clean.slice(0, MAX_NAME / 2 - 11)}-${hash}`;
}

/** The alias a role's readers use: `spanda_<role>`. */
export const aliasName = (role: string): string => `spanda_${sanitizeNamePart(role)}`;

/** The collection holding one generation: `spanda_<role>_<generation>`. */
export const collectionName = (role: string, generation: string): string => `spanda_${sanitizeNamePart(role)}_${sanitizeNamePart(generation)}`;

// Fixed namespace for Spanda point ids (a random UUID, chosen once; changing it changes every id).
const NAMESPACE = Buffer.from('6f0c2a4e9b1d4c57a3e8d2f1b0c9e7a5', 'hex');

/** RFC 9562 UUIDv5 of `name` in Spanda's namespace. */
function uuidV5(name: string): string {
  const hash = createHash('sha1').update(NAMESPACE).update(name, 'utf8').digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The point id of a record: the same record always gets the same id, so replaying a write is an idempotent upsert. */
export const pointId = (...parts: ReadonlyArray<string | number>): string => uuidV5(JSON.stringify(parts));

export interface Address {
  readonly tenant: string;
  readonly source: string;
  readonly docId: string;
}

export const documentPointId = (a: Address): string => pointId('document', a.tenant, a.source, a.docId);
export const chunkPointId = (a: Address, chunkId: string): string => pointId('chunk', a.tenant, a.source, a.docId, chunkId);
export const vectorPointId = (a: Address, chunkId: string, window: number): string => pointId('vector', a.tenant, a.source, a.docId, chunkId, window);
export const pendingPointId = (a: Address, docSeq: number, chunkId: string, window: number): string =>
  pointId('pending', a.tenant, a.source, a.docId, docSeq, chunkId, window);
export const checkpointPointId = (key: string): string => pointId('checkpoint', key);
