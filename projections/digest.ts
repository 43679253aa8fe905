// The canonical projection digest: one definition of "same content" for every store kind and for the log itself.
import { createHash, hash } from 'node:crypto';
import type { Metadata } from '../streams/events/index.ts';
import { canonicalJson } from '../streams/ids.ts';

export const DIGEST_FORMAT = 'spanda-projection-digest/2';

/** One document address as a store holds it: its version, live content or tombstone, chunks and attached vectors. */
export interface DigestDocument {
  readonly tenant: string;
  readonly source: string;
  readonly docId: string;
  readonly docSeq: number;
  readonly deleted: boolean;
  readonly title?: string | null;
  readonly url?: string | null;
  readonly metadata: Metadata;
  /** Chunks the version declares across its parts (null for a tombstone). */
  readonly totalChunks: number | null;
  readonly chunks: ReadonlyArray<{
    readonly chunkId: string;
    readonly ordinal: number;
    readonly text: string;
    readonly start: number;
    readonly end: number;
    readonly tokens: number;
    readonly heading?: string | null;
  }>;
  /** Vectors attached to the chunks above (vectors still waiting for their chunks are not content). */
  readonly vectors: ReadonlyArray<{ readonly chunkId: string; readonly window: number; readonly vector: Float32Array }>;
}

/**
 * A vector's fingerprint at 1e-5 resolution: remote stores may hand back floats that differ in the last bits (a
 * server that re-normalises, a JSON round trip), and that is not a difference in content.
 */
export function vectorFingerprint(vector: Float32Array): string {
  // One scratch array reused (a digest fingerprints every vector of a store: 2 KB of garbage each at 512-d).
  if (quantized.length !== vector.length) quantized = new Int32Array(vector.length);
  const q = quantized;
  for (let i = 0; i < vector.length; i++) q[i] = roundHalfUp((vector[i] as number) * 1e5);
  // One-shot: no Hash object per vector (a digest fingerprints every vector of a store).
  return hash('sha256', new Uint8Array(q.buffer), 'hex').slice(0, 32);
}

let quantized = new Int32Array(0);

/**
 * Math.round(x), the same integer for every double (−0 comes out as 0; digests recorded by earlier versions stay comparable), without its
 * branch on the value: V8 compiles Math.round with one that random vector components mispredict about half the time
 * (a 512-d fingerprint took ~7.5 µs, most of it there). Math.floor is one instruction; the correction is taken only
 * where x + 0.5 rounds up past the next integer (x = 0.49999999999999994, or odd integers from 2^52), so it is
 * always predicted.
 */
export function roundHalfUp(x: number): number {
  const r = Math.floor(x + 0.5);
  return r - 0.5 > x ? r - 1 : r;
}

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** sha256 of one document's canonical lines (chunks by chunkId, vectors by chunkId then window). */
export function documentHash(d: DigestDocument): string {
  // The lines are hashed as one text (the same bytes as a line at a time, with one call into the hash instead of one per line).
  let text = `${JSON.stringify(['document', d.tenant, d.source, d.docId, d.docSeq, d.deleted, d.title ?? null, d.url ?? null, canonicalJson(d.metadata), d.totalChunks])}\n`;
  for (const c of [...d.chunks].sort((a, b) => byCodeUnits(a.chunkId, b.chunkId))) {
    text += `${JSON.stringify(['chunk', c.chunkId, c.ordinal, c.text, c.start, c.end, c.tokens, c.heading ?? null])}\n`;
  }
  const vectors = [...d.vectors].sort((a, b) => byCodeUnits(a.chunkId, b.chunkId) || a.window - b.window);
  for (const v of vectors) text += `${JSON.stringify(['vector', v.chunkId, v.window, vectorFingerprint(v.vector)])}\n`;
  return hash('sha256', text, 'hex');
}

/** The key documents are ordered by: (tenant, source, docId) in code-unit order. */
export const documentKey = (d: { tenant: string; source: string; docId: string }): string => `${d.tenant}\u0000${d.source}\u0000${d.docId}`;

/**
 * Folds per-document hashes into the digest. Documents may be added in any order (each store enumerates its own way);
 * only one short hash per document is kept, so a store can stream its content through it.
 */
export class DigestBuilder {
  private readonly docs: Array<[string, string]> = [];

  add(doc: DigestDocument): void {
    this.docs.push([documentKey(doc), documentHash(doc)]);
  }

  /** Adds an already computed document hash (e.g. from a worker thread). */
  addHash(key: string, hash: string): void {
    this.docs.push([key, hash]);
  }

  /** Per-document hashes by key: what `spanda verify` compares to name the documents that differ. */
  entries(): Map<string, string> {
    return new Map(this.docs);
  }

  digest(): string {
    const hash = createHash('sha256');
    hash.update(`${DIGEST_FORMAT}\n`);
    for (const [key, doc] of [...this.docs].sort((a, b) => byCodeUnits(a[0], b[0]))) hash.update(`${JSON.stringify(key)} ${doc}\n`);
    return `sha256:${hash.digest('hex')}`;
  }
}
