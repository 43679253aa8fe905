// Keyword analysis done before Weaviate sees the text: unicode words, diacritics folded, Porter stems (as SQLite's porter tokenizer).
import { contentTerms, words } from '../../../lib/text.ts';

/*
 * Weaviate's tokenizers (word, lowercase, whitespace, field, trigram) do not stem, and the store contract asks that
 * "tomato" finds "tomatoes" in every store. So the adapter analyses text itself and stores the stems in whitespace-
 * tokenized properties; Weaviate runs BM25 over those. The stemmer is Porter's original algorithm (what SQLite FTS5's
 * `porter` tokenizer implements), so keyword search means the same thing in the sqlite and weaviate stores.
 */

const fold = (word: string): string => word.normalize('NFKD').replace(/\p{M}/gu, '');

const isConsonant = (w: string, i: number): boolean => {
  const c = w[i];
  if (c === 'a' || c === 'e' || c === 'i' || c === 'o' || c === 'u') return false;
  if (c === 'y') return i === 0 ? true : !isConsonant(w, i - 1);
  return true;
};

/** m(): the number of VC sequences in w[0..end). */
function measure(w: string, end: number): number {
  let n = 0;
  let i = 0;
  while (i < end && isConsonant(w, i)) i++;
  while (i < end) {
    while (i < end && !isConsonant(w, i)) i++;
    if (i >= end) break;
    n++;
    while (i < end && isConsonant(w, i)) i++;
  }
  return n;
}

const hasVowel = (w: string, end: number): boolean => {
  for (let i = 0; i < end; i++) if (!isConsonant(w, i)) return true;
  return false;
};
const doubleConsonant = (w: string): boolean => w.length >= 2 && w[w.length - 1] === w[w.length - 2] && isConsonant(w, w.length - 1);
/** *o: ends consonant-vowel-consonant, the last not w, x or y. */
const cvc = (w: string, end: number): boolean => {
  if (end < 3 || !isConsonant(w, end - 1) || isConsonant(w, end - 2) || !isConsonant(w, end - 3)) return false;
  const c = w[end - 1];
  return c !== 'w' && c !== 'x' && c !== 'y';
};

/** Replaces suffix `from` with `to` when the stem before it has m() > min; returns undefined when `from` does not end w. */
function replaceIf(w: string, from: string, to: string, min: number): string | undefined {
  if (!w.endsWith(from)) return undefined;
  const stem = w.length - from.length;
  return measure(w, stem) > min ? w.slice(0, stem) + to : w;
}

const STEP2: ReadonlyArray<[string, string]> = [
  ['ational', 'ate'], ['tional', 'tion'], ['enci', 'ence'], ['anci', 'ance'], ['izer', 'ize'], ['bli', 'ble'],
  ['alli', 'al'], ['entli', 'ent'], ['eli', 'e'], ['ousli', 'ous'], ['ization', 'ize'], ['ation', 'ate'], ['ator', 'ate'],
  ['alism', 'al'], ['iveness', 'ive'], ['fulness', 'ful'], ['ousness', 'ous'], ['aliti', 'al'], ['iviti', 'ive'], ['biliti', 'ble'],
  ['logi', 'log'],
];
const STEP3: ReadonlyArray<[string, string]> = [
  ['icate', 'ic'], ['ative', ''], ['alize', 'al'], ['iciti', 'ic'], ['ical', 'ic'], ['ful', ''], ['ness', ''],
];
const STEP4 = ['al', 'ance', 'ence', 'er', 'ic', 'able', 'ible', 'ant', 'ement', 'ment', 'ent', 'ion', 'ou', 'ism', 'ate', 'iti', 'ous', 'ive', 'ize'];

function firstRule(w: string, rules: ReadonlyArray<[string, string]>, min: number): string {
  // Longest matching suffix wins; only that one is tried.
  let best: [string, string] | undefined;
  for (const rule of rules) if (w.endsWith(rule[0]) && (!best || rule[0].length > best[0].length)) best = rule;
  return best ? (replaceIf(w, best[0], best[1], min) ?? w) : w;
}

/** Porter (1980) stem of a lower-case word. */
export function porterStem(word: string): string {
  let w = word;
  if (w.length <= 2) return w;
  // Step 1a
  if (w.endsWith('sses')) w = w.slice(0, -2);
  else if (w.endsWith('ies')) w = w.slice(0, -2);
  else if (w.endsWith('ss')) {
    /* unchanged */
  } else if (w.endsWith('s')) w = w.slice(0, -1);
  // Step 1b
  let extra = false;
  if (w.endsWith('eed')) {
    if (measure(w, w.length - 3) > 0) w = w.slice(0, -1);
  } else if (w.endsWith('ed') && hasVowel(w, w.length - 2)) {
    w = w.slice(0, -2);
    extra = true;
  } else if (w.endsWith('ing') && hasVowel(w, w.length - 3)) {
    w = w.slice(0, -3);
    extra = true;
  }
  if (extra) {
    if (w.endsWith('at') || w.endsWith('bl') || w.endsWith('iz')) w += 'e';
    else if (doubleConsonant(w) && !/[lsz]$/.test(w)) w = w.slice(0, -1);
    else if (measure(w, w.length) === 1 && cvc(w, w.length)) w += 'e';
  }
  // Step 1c
  if (w.endsWith('y') && hasVowel(w, w.length - 1)) w = `${w.slice(0, -1)}i`;
  // Steps 2 and 3
  w = firstRule(w, STEP2, 0);
  w = firstRule(w, STEP3, 0);
  // Step 4
  let suffix: string | undefined;
  for (const s of STEP4) if (w.endsWith(s) && (!suffix || s.length > suffix.length)) suffix = s;
  if (suffix) {
    const stem = w.length - suffix.length;
    const ionOk = suffix !== 'ion' || /[st]$/.test(w.slice(0, stem));
    if (ionOk && measure(w, stem) > 1) w = w.slice(0, stem);
  }
  // Step 5a
  if (w.endsWith('e')) {
    const m = measure(w, w.length - 1);
    if (m > 1 || (m === 1 && !cvc(w, w.length - 1))) w = w.slice(0, -1);
  }
  // Step 5b
  if (measure(w, w.length) > 1 && doubleConsonant(w) && w.endsWith('l')) w = w.slice(0, -1);
  return w;
}

/** Stems of a word list: folded, stemmed (words with digits or non-ASCII letters are kept as they are). */
function stems(list: readonly string[]): string[] {
  return list.map((raw) => {
    const w = fold(raw);
    return /^[a-z]+$/.test(w) ? porterStem(w) : w;
  });
}

/** The indexed form of a text: its stems in order, space-separated (stored in a whitespace-tokenized property). */
export function indexTerms(text: string | undefined): string {
  return text ? stems(words(text)).join(' ') : '';
}

/** The distinct stems a query searches for (stopwords dropped as in every store); empty when the text has no words. */
export function queryStems(text: string): string[] {
  return [...new Set(stems(contentTerms(text)))].slice(0, 64);
}
