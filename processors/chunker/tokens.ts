// A cheap, deterministic estimate of how many subword tokens a text costs a typical BPE tokenizer.

/** BPE vocabularies average about 1.3 tokens per English word (common words are one token, rarer ones split). */
export const TOKENS_PER_WORD = 1.3;
/** A word longer than this many characters is counted as several words: long identifiers and base64 split a lot. */
export const CHARS_PER_WORD = 6;

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x3000 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0xfeff || c === 0x1680;
}

// Han, kana and Hangul are written without spaces; one character is roughly one token.
function isIdeograph(c: number): boolean {
  return (c >= 0x3040 && c <= 0x30ff) || (c >= 0x3400 && c <= 0x4dbf) || (c >= 0x4e00 && c <= 0x9fff) || (c >= 0xac00 && c <= 0xd7af) || (c >= 0xf900 && c <= 0xfaff);
}

/** Letter or digit weight toward the current word's length: 0 for non-word characters. */
function wordWeight(c: number): number {
  if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) return 1;
  if (c < 0xc0) return 0;
  if (c < 0x250) return c === 0xd7 || c === 0xf7 ? 0 : 1; // Latin-1 and Latin Extended letters (× and ÷ are symbols)
  // Surrogates (emoji, rare scripts), punctuation, symbols and CJK punctuation/fullwidth forms are not word characters.
  if ((c >= 0x2000 && c <= 0x2bff) || (c >= 0x3000 && c <= 0x303f) || (c >= 0xd800 && c <= 0xdfff) || (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff20)) return 0;
  if (isIdeograph(c)) return 0;
  // Other scripts (Greek, Cyrillic, Arabic, Devanagari…) get split about twice as finely by English-centred vocabularies.
  return 2;
}

// Most text is ASCII: a table lookup keeps the per-character cost to one load.
const ASCII_WEIGHT = Uint8Array.from({ length: 0x80 }, (_, c) => wordWeight(c));

/**
 * Estimated subword tokens: each word (a run of letters and digits) counts max(1, weightedLength / 6) words, the
 * total times 1.3; each ideograph counts one word; every other non-space character (punctuation, symbols, each
 * emoji) counts one token. Meant to land near real tokenizers for English prose and to err high for code, identifiers
 * and non-Latin text, the safe side for budgets. Not calibrated against a real tokenizer. Linear, allocation-free.
 */
export function estimateTokens(text: string): number {
  let words = 0;
  let symbols = 0;
  let wordLength = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const weight = c < 0x80 ? ASCII_WEIGHT[c] as number : wordWeight(c);
    if (weight > 0) {
      wordLength += weight;
      continue;
    }
    if (wordLength > 0) {
      words += Math.max(1, wordLength / CHARS_PER_WORD);
      wordLength = 0;
    }
    if (isSpace(c)) continue;
    if (isIdeograph(c)) words += 1;
    else if (c < 0xdc00 || c > 0xdfff) symbols += 1; // a low surrogate's pair was counted at its high half
  }
  if (wordLength > 0) words += Math.max(1, wordLength / CHARS_PER_WORD);
  return Math.round(words * TOKENS_PER_WORD + symbols);
}
