// Where normalised text may be cut: word starts, sentence starts (common abbreviations excepted) and safe hard cuts.

/** Exactly the characters JavaScript's \s matches, so char-code scans agree with /\s+/ regexes. */
export function isSpaceCode(c: number): boolean {
  return (
    c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff
  );
}

const TERMINATORS = new Set(['.', '!', '?', '…', '。', '！', '？']);
// Closing quotes, brackets and leftover emphasis may follow the terminator: `He said "stop." Then…`.
const CLOSERS = new Set([')', ']', '"', "'", '”', '’', '»', '*', '_']);
// A period after these rarely ends a sentence. Kept short on purpose: "etc." and "Inc." end sentences as often as not.
const ABBREVIATIONS = new Set(['e.g', 'i.e', 'mr', 'mrs', 'ms', 'dr', 'prof', 'sr', 'jr', 'st', 'vs', 'cf', 'fig', 'al', 'approx', 'a.m', 'p.m', 'u.s']);
const OPENERS = /^[("'“‘[]+/;
// Places inside an unspaced run (CJK prose, long tokens) where a forced cut reads least badly.
const SOFT_CUTS = new Set(['。', '！', '？', '；', '，', '、', '.', ',', ';', '/', '-', ')']);

/** True when `i` starts a word: a non-space character right after a space. Offset 0 never is (nothing precedes it). */
export function isWordStart(text: string, i: number): boolean {
  return i > 0 && i < text.length && !isSpaceCode(text.charCodeAt(i)) && isSpaceCode(text.charCodeAt(i - 1));
}

function startsLowercase(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  if (c < 0x80) return c >= 0x61 && c <= 0x7a;
  return /^\p{Ll}/u.test(text.slice(i, i + 2));
}

/**
 * True when `i` starts a sentence: a word start after a line break, or after a terminator (possibly followed by
 * closing quotes) when the word does not begin in lowercase and the period does not end an initial or a known
 * abbreviation. Line breaks count because normalised text puts list items, table rows and code lines on lines.
 */
export function isSentenceStart(text: string, i: number): boolean {
  if (!isWordStart(text, i)) return false;
  let j = i - 1;
  while (j >= 0 && isSpaceCode(text.charCodeAt(j))) {
    if (text.charCodeAt(j) === 0x0a) return true;
    j--;
  }
  if (j < 0) return true;
  let k = j;
  while (k > 0 && CLOSERS.has(text[k] ?? '')) k--;
  const mark = text[k] ?? '';
  if (!TERMINATORS.has(mark) || startsLowercase(text, i)) return false;
  if (mark !== '.') return true;
  let w = k - 1;
  while (w >= 0 && !isSpaceCode(text.charCodeAt(w))) w--;
  const word = text.slice(w + 1, k).replace(OPENERS, '').toLowerCase();
  if (word.length === 1 && /\p{L}/u.test(word)) return false;
  return !ABBREVIATIONS.has(word);
}

/**
 * End of a forced cut of [start, limit): the last soft cut point in the second half when there is one, else `limit`,
 * stepped back so a surrogate pair is never split. Always greater than `start` when limit - start ≥ 2.
 */
export function hardCut(text: string, start: number, limit: number): number {
  for (let i = limit; i > start + (limit - start) / 2; i--) {
    if (SOFT_CUTS.has(text[i - 1] ?? '')) return i;
  }
  const c = text.charCodeAt(limit - 1);
  return c >= 0xd800 && c <= 0xdbff && limit - 1 > start ? limit - 1 : limit;
}

/** Calls `visit` with each sentence of [start, end) (a trimmed range with no leading or trailing space), in order. */
export function forEachSentence(text: string, start: number, end: number, visit: (start: number, end: number) => void): void {
  let sentence = start;
  let spaceStart = -1;
  for (let i = start; i < end; i++) {
    if (isSpaceCode(text.charCodeAt(i))) {
      if (spaceStart < 0) spaceStart = i;
    } else if (spaceStart >= 0) {
      if (isSentenceStart(text, i)) {
        visit(sentence, spaceStart);
        sentence = i;
      }
      spaceStart = -1;
    }
  }
  visit(sentence, end);
}

/**
 * Where the next chunk starts inside the previous one [prevStart, prevEnd): at whole trailing sentences when they
 * fill at least half of the allowed window, else at whole trailing words; never before `floor` (so the next piece
 * still fits) and never at prevStart. Undefined when no word starts in the window.
 */
export function overlapStart(text: string, prevStart: number, prevEnd: number, overlap: number, floor: number): number | undefined {
  const lo = Math.max(prevEnd - overlap, floor, prevStart + 1);
  let firstWord: number | undefined;
  for (let i = lo; i < prevEnd; i++) {
    if (!isWordStart(text, i)) continue;
    firstWord ??= i;
    if (isSentenceStart(text, i)) return prevEnd - i >= (prevEnd - lo) / 2 ? i : firstWord;
  }
  return firstWord;
}
