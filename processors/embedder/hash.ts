// The hashing embedder: deterministic feature hashing of words and word pairs, for tests and pipeline benchmarks.
import { ConfigError } from '../../lib/errors.ts';
import { HASH_FUSION } from './fusion.ts';
import type { EmbeddingProvider, FusionProfile } from './provider.ts';
import { splitWords, windowWords } from './windows.ts';

export interface HashEmbedderOptions {
  readonly dims?: number;
  readonly fusion?: FusionProfile;
}

const MAX_TOKENS = 512;
/** Windows stay well under maxTokens: a "token" here is a word, and the budget is meant as a rough guide, not a hard limit. */
const WINDOW_WORDS = 400;
const OVERLAP_WORDS = 60;
const WORD = /[\p{L}\p{M}\p{N}]+/gu;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

// FNV-1a over UTF-16 code units: fast, stable across runs and platforms, and good enough to spread features.
function fnv1a(text: string, seed = FNV_OFFSET): number {
  let hash = seed;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash >>> 0;
}

// A final avalanche (murmur3's fmix32) so that the bucket (low bits) and the sign (high bit) do not correlate.
function mix(hash: number): number {
  let h = hash;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Lowercased unicode words of a text, in order. */
export function hashTokens(text: string): string[] {
  return text.toLowerCase().match(WORD) ?? [];
}

/** The hashed, L2-normalised vector of one text; the zero vector when it has no words. */
export function hashVector(text: string, dims: number): Float32Array {
  const counts = new Map<number, number>();
  const words = hashTokens(text);
  let previous: number | undefined;
  for (const word of words) {
    const unigram = fnv1a(word);
    counts.set(unigram, (counts.get(unigram) ?? 0) + 1);
    if (previous !== undefined) {
      // A pair hashes as the first word's hash continued over a separator and the second word.
      const bigram = fnv1a(word, Math.imul(previous ^ 0x20, FNV_PRIME) >>> 0);
      counts.set(bigram, (counts.get(bigram) ?? 0) + 1);
    }
    previous = unigram;
  }
  const vector = new Float32Array(dims);
  for (const [feature, tf] of counts) {
    const h = mix(feature);
    const sign = h & 0x80000000 ? -1 : 1;
    vector[h % dims] = (vector[h % dims] as number) + sign * (1 + Math.log(tf));
  }
  let norm = 0;
  for (const v of vector) norm += v * v;
  if (norm > 0) {
    const scale = 1 / Math.sqrt(norm);
    for (let i = 0; i < dims; i++) vector[i] = (vector[i] as number) * scale;
  }
  return vector;
}

export function createHashEmbedder(options: HashEmbedderOptions = {}): EmbeddingProvider {
  const dims = options.dims ?? 256;
  if (!Number.isInteger(dims) || dims < 1 || dims > 65536) {
    throw new ConfigError(`hash embedder dims must be an integer from 1 to 65536, got ${dims}`);
  }
  return {
    info: { id: `hash-${dims}`, dims, normalized: true, maxTokens: MAX_TOKENS },
    fusion: options.fusion ?? HASH_FUSION,
    windows: (text) => windowWords(splitWords(text), { maxTokens: WINDOW_WORDS, overlapTokens: OVERLAP_WORDS, tokens: () => 1 }),
    embed: async (texts) => texts.map((text) => hashVector(text, dims)),
    close: async () => {},
  };
}
