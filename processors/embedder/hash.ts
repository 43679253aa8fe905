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

// Feature counts of one text, reused across calls: an open-addressing table (feature → slot) plus the features in
// first-seen order, which is the order their weights are added (float32 sums depend on it, and vectors must not change).
class FeatureCounts {
  private keys = new Uint32Array(1024);
  private counts = new Uint32Array(1024);
  private used = new Uint8Array(1024);
  order = new Uint32Array(512);
  size = 0;

  reset(): void {
    if (this.size > 0) this.used.fill(0);
    this.size = 0;
  }

  add(feature: number): void {
    if (this.size * 2 >= this.keys.length) this.grow();
    const mask = this.keys.length - 1;
    let slot = Math.imul(feature, 0x9e3779b1) >>> 0 & mask;
    while (this.used[slot] === 1) {
      if (this.keys[slot] === feature) {
        this.counts[slot] = (this.counts[slot] as number) + 1;
        return;
      }
      slot = (slot + 1) & mask;
    }
    this.used[slot] = 1;
    this.keys[slot] = feature;
    this.counts[slot] = 1;
    this.order[this.size++] = feature;
  }

  count(feature: number): number {
    const mask = this.keys.length - 1;
    let slot = Math.imul(feature, 0x9e3779b1) >>> 0 & mask;
    while (this.keys[slot] !== feature) slot = (slot + 1) & mask;
    return this.counts[slot] as number;
  }

  private grow(): void {
    const features = this.order.slice(0, this.size);
    const counts = features.map((f) => this.count(f));
    const capacity = this.keys.length * 2;
    this.keys = new Uint32Array(capacity);
    this.counts = new Uint32Array(capacity);
    this.used = new Uint8Array(capacity);
    this.order = new Uint32Array(capacity / 2);
    this.size = 0;
    features.forEach((f, i) => {
      this.add(f);
      this.counts[this.slotOf(f)] = counts[i] as number;
    });
  }

  private slotOf(feature: number): number {
    const mask = this.keys.length - 1;
    let slot = Math.imul(feature, 0x9e3779b1) >>> 0 & mask;
    while (this.keys[slot] !== feature) slot = (slot + 1) & mask;
    return slot;
  }
}

const features = new FeatureCounts();
const ASCII = /^[\x00-\x7f]*$/;

/**
 * Counts the word and word-pair features of an ASCII text in one pass over its characters, hashing as it goes (no
 * lowercased copy, no word strings): the same features as hashTokens + fnv1a, whose words are [0-9a-z]+ in ASCII.
 */
function countAsciiFeatures(text: string): void {
  let hash = FNV_OFFSET;
  let inWord = false;
  let previous = 0;
  let hasPrevious = false;
  // The pair hash runs beside the word hash, seeded from the previous word.
  let pair = 0;
  for (let i = 0; i <= text.length; i++) {
    let c = i < text.length ? text.charCodeAt(i) : 32;
    if (c >= 65 && c <= 90) c += 32;
    if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57)) {
      if (!inWord) {
        inWord = true;
        hash = FNV_OFFSET;
        if (hasPrevious) pair = Math.imul(previous ^ 0x20, FNV_PRIME) >>> 0;
      }
      hash = Math.imul(hash ^ c, FNV_PRIME);
      if (hasPrevious) pair = Math.imul(pair ^ c, FNV_PRIME);
    } else if (inWord) {
      inWord = false;
      const unigram = hash >>> 0;
      features.add(unigram);
      if (hasPrevious) features.add(pair >>> 0);
      previous = unigram;
      hasPrevious = true;
    }
  }
}

function countFeatures(text: string): void {
  if (ASCII.test(text)) return countAsciiFeatures(text);
  let previous: number | undefined;
  for (const word of hashTokens(text)) {
    const unigram = fnv1a(word);
    features.add(unigram);
    // A pair hashes as the first word's hash continued over a separator and the second word.
    if (previous !== undefined) features.add(fnv1a(word, Math.imul(previous ^ 0x20, FNV_PRIME) >>> 0));
    previous = unigram;
  }
}

/** The hashed, L2-normalised vector of one text; the zero vector when it has no words. */
export function hashVector(text: string, dims: number): Float32Array {
  features.reset();
  countFeatures(text);
  const vector = new Float32Array(dims);
  for (let i = 0; i < features.size; i++) {
    const feature = features.order[i] as number;
    const tf = features.count(feature);
    const h = mix(feature);
    const sign = h & 0x80000000 ? -1 : 1;
    vector[h % dims] = (vector[h % dims] as number) + sign * (1 + Math.log(tf));
  }
  let norm = 0;
  for (let i = 0; i < dims; i++) norm += (vector[i] as number) * (vector[i] as number);
  if (norm > 0) {
    const scale = 1 / Math.sqrt(norm);
    for (let i = 0; i < dims; i++) vector[i] = (vector[i] as number) * scale;
  }
  return vector;
}

/**
 * True when an ASCII text has at most WINDOW_WORDS whitespace-separated words: its one window would be its words
 * joined by single spaces, which holds the same word tokens (and so hashes to the same vector) as the text itself.
 * Counting spares the split and the join of nearly every chunk.
 */
function fitsOneWindow(text: string): boolean {
  if (!ASCII.test(text)) return false;
  let words = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // ASCII whitespace as \s matches it: tab, line feed, vertical tab, form feed, carriage return, space.
    const space = c === 32 || (c >= 9 && c <= 13);
    if (!space && !inWord && ++words > WINDOW_WORDS) return false;
    inWord = !space;
  }
  return true;
}

export function createHashEmbedder(options: HashEmbedderOptions = {}): EmbeddingProvider {
  const dims = options.dims ?? 256;
  if (!Number.isInteger(dims) || dims < 1 || dims > 65536) {
    throw new ConfigError(`hash embedder dims must be an integer from 1 to 65536, got ${dims}`);
  }
  return {
    info: { id: `hash-${dims}`, dims, normalized: true, maxTokens: MAX_TOKENS },
    fusion: options.fusion ?? HASH_FUSION,
    windows: (text) =>
      fitsOneWindow(text) ? [text] : windowWords(splitWords(text), { maxTokens: WINDOW_WORDS, overlapTokens: OVERLAP_WORDS, tokens: () => 1 }),
    embed: async (texts) => texts.map((text) => hashVector(text, dims)),
    close: async () => {},
    threadable: { kind: 'hash', dims },
  };
}
