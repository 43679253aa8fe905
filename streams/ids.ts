// Identifiers: time-ordered event ids (ULID), content hashes and the message ids that make publishing idempotent.
import { createHash } from 'node:crypto';
import { takeRandom } from '../lib/random-pool.ts';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A ULID: 48-bit millisecond time + 80 random bits, Crockford base32, sortable by creation time. */
export function newEventId(now = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  // randomBytes(16) per event was a tenth of publishing a document: the bytes come from a pool (lib/random-pool.ts).
  const { bytes, offset } = takeRandom(16);
  let random = '';
  for (let i = 0; i < 16; i++) random += CROCKFORD[(bytes[offset + i] as number) % 32];
  return time + random;
}

export function sha256Hex(value: string | Uint8Array): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Canonical JSON (sorted keys) so the same content always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * Message id of a processor's output: derived from the input's position so a redelivered input publishes nothing new.
 * `variant` is the processor version plus any setting that changes the output (so new settings are not deduplicated away).
 */
export function derivedMsgId(processor: string, variant: number | string, input: { stream: string; seq: number }, part = 0): string {
  return `${processor}@${variant}:${input.stream}:${input.seq}:${part}`;
}
