// The words of free query text that keyword search looks for (pure): words only, stopwords dropped, at most 64.
import { contentTerms } from '../../../lib/text.ts';

/** Long pasted queries would make huge ORs; BM25 gains nothing from hundreds of terms. */
export const MAX_QUERY_TERMS = 64;

/** The distinct lower-cased words of `text` that are worth searching for, in order of first appearance. */
export function queryTerms(text: string): string[] {
  return contentTerms(text).slice(0, MAX_QUERY_TERMS);
}
