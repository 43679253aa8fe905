// Word-level text helpers shared by keyword search and extractive answers: tokenising and an English stopword list.

export const STOPWORDS: ReadonlySet<string> = new Set(
  (
    'a an and are as at be been being but by can could did do does doing for from had has have having he her here hers him his how i if in into is it its ' +
    'itself just me more most my no nor not of off on once only or other our ours out over own same she should so some such than that the their theirs them ' +
    'then there these they this those through to too under until up very was we were what when where which while who whom why will with would you your yours'
  ).split(' '),
);

/** Lowercased word tokens (letters and digits, unicode-aware), in order. */
export function words(text: string): string[] {
  return text.toLowerCase().normalize('NFKC').match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** Distinct content words of a query: tokens minus stopwords, in first-seen order. */
export function contentTerms(text: string): string[] {
  return [...new Set(words(text).filter((w) => !STOPWORDS.has(w)))];
}

/** Splits prose into sentences (keeps the terminator); good enough for citing, not a linguistic parser. */
export function sentences(text: string): string[] {
  const out: string[] = [];
  const re = /[^.!?\n]+(?:[.!?]+(?=\s|$)|\n|$)/g;
  for (const match of text.matchAll(re)) {
    const s = match[0].trim();
    if (s.length > 0) out.push(s);
  }
  return out;
}
