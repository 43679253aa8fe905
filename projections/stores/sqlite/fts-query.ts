// Turning free query text into a safe FTS5 MATCH expression (pure): words only, stopwords dropped, quoted, ORed.
import { contentTerms } from '../../../lib/text.ts';

/** Long pasted queries would make huge OR expressions; BM25 gains nothing from hundreds of terms. */
export const MAX_QUERY_TERMS = 64;

/** The distinct lower-cased words of `text` that are worth searching for, in order of first appearance. */
export function queryTerms(text: string): string[] {
  return contentTerms(text).slice(0, MAX_QUERY_TERMS);
}

/**
 * The MATCH expression for `text`, or undefined when the text has no words (the caller returns no hits). Terms are
 * quoted so FTS5 syntax in user text (AND, NEAR, ^, *, column:) is plain words.
 */
export function ftsMatchExpression(text: string): string | undefined {
  const terms = queryTerms(text);
  if (terms.length === 0) return undefined;
  return terms.map((t) => `"${t.replaceAll('"', '""')}"`).join(' OR ');
}
