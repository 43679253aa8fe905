// FTS5's `porter unicode61 remove_diacritics 2` tokenizer in JS for text whose non-ASCII characters are all separators (pure).
//
// A port of SQLite's fts5_tokenize.c (unicode61 on ASCII, then its Porter stemmer), so the in-memory keyword index sees
// exactly the tokens FTS5 indexes. Text with non-ASCII letters, digits or marks is not handled here (`isSimpleText`
// says so): unicode61's folding tables and diacritic removal are SQLite's own, so such text is tokenized by SQLite itself
// (keyword-index.ts). keyword-index.test.ts checks this port against FTS5 token by token.

/** SQLite's `FTS5_PORTER_MAX_TOKEN`: longer tokens (in bytes; ASCII here) pass through unstemmed, as do tokens under 3. */
const PORTER_MAX_TOKEN = 64;

// Non-ASCII characters that unicode61 (token categories L*, N*, Co) treats as separators: punctuation, symbols,
// spaces, controls and format characters. Anything else non-ASCII may be part of a token and is left to SQLite.
const NOT_SIMPLE = /[^\x00-\x7F\p{P}\p{S}\p{Z}\p{Cc}\p{Cf}]/u;
const NON_ASCII = /[^\x00-\x7F]/;

/** Whether `text` tokenizes the same here as in FTS5 (every non-ASCII character is a separator). */
export function isSimpleText(text: string): boolean {
  return !NON_ASCII.test(text) || !NOT_SIMPLE.test(text);
}

const isVowel = (c: string | undefined, yIsVowel: boolean): boolean =>
  c === 'a' || c === 'e' || c === 'i' || c === 'o' || c === 'u' || (yIsVowel && c === 'y');

/** fts5PorterGobbleVC: the length of the first vowel run then consonant (VC) at `from`, or 0 when there is none. */
function gobbleVC(w: string, from: number, end: number, prevCons: boolean): number {
  let cons = prevCons;
  let i = from;
  for (; i < end; i++) {
    cons = !isVowel(w[i], cons);
    if (!cons) break;
  }
  for (i++; i < end; i++) {
    cons = !isVowel(w[i], cons);
    if (cons) return i + 1 - from;
  }
  return 0;
}

/** m > 0 over w[0, n). */
const mGt0 = (w: string, n: number): boolean => gobbleVC(w, 0, n, false) > 0;

/** m > 1 over w[0, n). */
function mGt1(w: string, n: number): boolean {
  const first = gobbleVC(w, 0, n, false);
  return first > 0 && gobbleVC(w, first, n, true) > 0;
}

/** m = 1 over w[0, n). */
function mEq1(w: string, n: number): boolean {
  const first = gobbleVC(w, 0, n, false);
  return first > 0 && gobbleVC(w, first, n, true) === 0;
}

/** *o: the stem ends consonant-vowel-consonant, the last not w, x or y. */
function oStar(w: string, n: number): boolean {
  const last = w[n - 1];
  if (last === 'w' || last === 'x' || last === 'y') return false;
  let mask = 0;
  let cons = false;
  for (let i = 0; i < n; i++) {
    cons = !isVowel(w[i], cons);
    mask = ((mask << 1) + (cons ? 1 : 0)) | 0;
  }
  return (mask & 7) === 5;
}

/** *v*: the stem holds a vowel (y counts after the first letter). */
function hasVowel(w: string, n: number): boolean {
  for (let i = 0; i < n; i++) if (isVowel(w[i], i > 0)) return true;
  return false;
}

type Cond = (w: string, n: number) => boolean;
type Rule = readonly [suffix: string, replacement: string, cond: Cond];

const mGt1SorT: Cond = (w, n) => (w[n - 1] === 's' || w[n - 1] === 't') && mGt1(w, n);

// The generated steps of fts5_tokenize.c in their order. The C code dispatches on the second-to-last letter, which every
// suffix of a case shares, so the first rule whose suffix matches (strictly shorter than the word) is the one C takes;
// when its condition fails no other rule is tried.
const STEP2: readonly Rule[] = [
  ['ational', 'ate', mGt0], ['tional', 'tion', mGt0], ['enci', 'ence', mGt0], ['anci', 'ance', mGt0], ['izer', 'ize', mGt0],
  ['logi', 'log', mGt0], ['bli', 'ble', mGt0], ['alli', 'al', mGt0], ['entli', 'ent', mGt0], ['eli', 'e', mGt0],
  ['ousli', 'ous', mGt0], ['ization', 'ize', mGt0], ['ation', 'ate', mGt0], ['ator', 'ate', mGt0], ['alism', 'al', mGt0],
  ['iveness', 'ive', mGt0], ['fulness', 'ful', mGt0], ['ousness', 'ous', mGt0], ['aliti', 'al', mGt0], ['iviti', 'ive', mGt0],
  ['biliti', 'ble', mGt0],
];
const STEP3: readonly Rule[] = [
  ['ical', 'ic', mGt0], ['ness', '', mGt0], ['icate', 'ic', mGt0], ['iciti', 'ic', mGt0], ['ful', '', mGt0], ['ative', '', mGt0],
  ['alize', 'al', mGt0],
];
const STEP4: readonly Rule[] = [
  ['al', '', mGt1], ['ance', '', mGt1], ['ence', '', mGt1], ['er', '', mGt1], ['ic', '', mGt1], ['able', '', mGt1], ['ible', '', mGt1],
  ['ant', '', mGt1], ['ement', '', mGt1], ['ment', '', mGt1], ['ent', '', mGt1], ['ion', '', mGt1SorT], ['ou', '', mGt1],
  ['ism', '', mGt1], ['ate', '', mGt1], ['iti', '', mGt1], ['ous', '', mGt1], ['ive', '', mGt1], ['ize', '', mGt1],
];

/** Applies the first matching rule; returns the word and whether a rule's condition held. */
function applyRules(w: string, rules: readonly Rule[]): string {
  for (const [suffix, replacement, cond] of rules) {
    if (w.length > suffix.length && w.endsWith(suffix)) {
      const stem = w.length - suffix.length;
      return cond(w, stem) ? w.slice(0, stem) + replacement : w;
    }
  }
  return w;
}

/** FTS5's Porter stemmer on one lower-case ASCII token. */
export function porterStem(token: string): string {
  if (token.length > PORTER_MAX_TOKEN || token.length < 3) return token;
  let w = token;
  const n = w.length;
  // Step 1A.
  if (w[n - 1] === 's') {
    if (w[n - 2] === 'e') {
      w = (n > 4 && w[n - 4] === 's' && w[n - 3] === 's') || (n > 3 && w[n - 3] === 'i') ? w.slice(0, n - 2) : w.slice(0, n - 1);
    } else if (w[n - 2] !== 's') {
      w = w.slice(0, n - 1);
    }
  }
  // Step 1B: eed → ee (m > 0); ed, ing removed when the stem has a vowel, then the clean-up of step 1B2.
  let step1b = false;
  if (w.length > 3 && w.endsWith('eed')) {
    if (mGt0(w, w.length - 3)) w = w.slice(0, -1);
  } else if (w.length > 2 && w.endsWith('ed')) {
    if (hasVowel(w, w.length - 2)) {
      w = w.slice(0, -2);
      step1b = true;
    }
  } else if (w.length > 3 && w.endsWith('ing')) {
    if (hasVowel(w, w.length - 3)) {
      w = w.slice(0, -3);
      step1b = true;
    }
  }
  if (step1b) {
    const m = w.length;
    if (m > 2 && (w.endsWith('at') || w.endsWith('bl') || w.endsWith('iz'))) {
      w += 'e';
    } else {
      const c = w[m - 1];
      if (!isVowel(c, false) && c !== 'l' && c !== 's' && c !== 'z' && m >= 2 && c === w[m - 2]) {
        w = w.slice(0, -1);
      } else if (mEq1(w, m) && oStar(w, m)) {
        w += 'e';
      }
    }
  }
  // Step 1C.
  if (w[w.length - 1] === 'y' && hasVowel(w, w.length - 1)) w = `${w.slice(0, -1)}i`;
  // Steps 2 to 4.
  w = applyRules(w, STEP2);
  w = applyRules(w, STEP3);
  w = applyRules(w, STEP4);
  // Step 5a.
  if (w[w.length - 1] === 'e') {
    const m = w.length - 1;
    if (mGt1(w, m) || (mEq1(w, m) && !oStar(w, m))) w = w.slice(0, -1);
  }
  // Step 5b.
  const m = w.length;
  if (m > 1 && w[m - 1] === 'l' && w[m - 2] === 'l' && mGt1(w, m - 1)) w = w.slice(0, -1);
  return w;
}

/** What unicode61 makes a token of in ASCII text: runs of letters and digits (every other ASCII character separates). */
export const SIMPLE_TOKEN_SOURCE = '[A-Za-z0-9]+';
const ASCII_TOKEN = new RegExp(SIMPLE_TOKEN_SOURCE, 'g');

// Words repeat (Zipf): stemming each distinct word once makes tokenizing several times faster. Bounded, then restarted.
const STEM_CACHE_MAX = 200_000;
let stems = new Map<string, string>();

function cachedStem(word: string): string {
  let stem = stems.get(word);
  if (stem === undefined) {
    stem = porterStem(word.toLowerCase());
    if (stems.size >= STEM_CACHE_MAX) stems = new Map();
    stems.set(word, stem);
  }
  return stem;
}

/**
 * The tokens FTS5 indexes for `text`, in order, for text where `isSimpleText` holds (the caller checks): runs of ASCII
 * letters and digits, lower-cased, Porter-stemmed. Other text gives the wrong answer here.
 */
export function simpleTokens(text: string, out: string[] = []): string[] {
  ASCII_TOKEN.lastIndex = 0;
  for (let m = ASCII_TOKEN.exec(text); m !== null; m = ASCII_TOKEN.exec(text)) out.push(cachedStem(m[0]));
  return out;
}
