// Word-level text helpers shared by keyword search and extractive answers: tokenising and an English stopword list.

// Lucene's English stop set plus question words: they match nearly every passage and only add noise to BM25.
export const STOPWORDS: ReadonlySet<string> = new Set([
  'a', 'an', 'and', 'are', 'as', 'at', 'be', 'but', 'by', 'for', 'if', 'in', 'into', 'is', 'it', 'no', 'not', 'of',
  'on', 'or', 'such', 'that', 'the', 'their', 'then', 'there', 'these', 'they', 'this', 'to', 'was', 'will', 'with',
  'what', 'which', 'who', 'whom', 'how', 'why', 'when', 'where', 'do', 'does', 'did', 'can', 'i', 'you', 'we', 'my',
]);

// The same notion of a word as FTS5's unicode61 tokenizer: runs of letters, digits and combining marks.
export const WORD_SOURCE = '[\\p{L}\\p{N}\\p{M}]+';
const WORD = new RegExp(WORD_SOURCE, 'gu');

/** Lowercased word tokens (letters, digits, combining marks; unicode-aware), in order. */
export function words(text: string): string[] {
  return text.normalize('NFKC').toLowerCase().match(WORD) ?? [];
}

/**
 * Distinct content words of a query in first-seen order: stopwords dropped, unless the query has nothing else
 * ("to be or not to be"), when its words are all there is to search for.
 */
export function contentTerms(text: string): string[] {
  const unique = [...new Set(words(text))];
  const content = unique.filter((w) => !STOPWORDS.has(w));
  return content.length > 0 ? content : unique;
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
