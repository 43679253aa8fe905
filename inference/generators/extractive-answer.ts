// Extractive answers: the sentences of the retrieved chunks that best match the question, each with a citation marker.
import { contentTerms, sentences, WORD_SOURCE } from '../../lib/text.ts';

export interface AnswerSource {
  readonly text: string;
}

export interface ExtractiveAnswer {
  readonly answer: string;
  /** 1-based indexes into the results that the answer cites, in the order cited. */
  readonly cited: number[];
}

const MAX_SENTENCES = 3;
const MAX_SENTENCE_CHARS = 400;

// Light suffix stripping so "proteins" matches "protein" without a full stemmer.
function stem(word: string): string {
  return word.replace(/(ies|es|s|ing|ed)$/u, '').slice(0, 12) || word;
}

const WORD = new RegExp(WORD_SOURCE, 'gu');

/**
 * The query stems among a sentence's words (lib/text.ts `words`, stemmed). Only those are ever looked up, so the
 * other words are not kept: a stem is a prefix of its word, so a word whose first character starts no query stem is
 * skipped unstemmed. This was a quarter of what the API thread allocates per query (measured: 116 of 434 KB).
 */
function queryStemsIn(sentence: string, queryStems: ReadonlySet<string>): Set<string> {
  const found = new Set<string>();
  if (queryStems.size === 0) return found;
  const text = sentence.normalize('NFKC').toLowerCase();
  // A stem is a prefix of its word, so a sentence that holds no query stem as a substring holds none as a word: most
  // sentences are passed over here without a match array per word.
  let any = false;
  for (const s of queryStems) {
    if (text.includes(s)) {
      any = true;
      break;
    }
  }
  if (!any) return found;
  const re = WORD;
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const word = m[0];
    if (!startsAQueryStem(word, queryStems)) continue;
    const s = stem(word);
    if (queryStems.has(s)) found.add(s);
  }
  return found;
}

function startsAQueryStem(word: string, queryStems: ReadonlySet<string>): boolean {
  const first = word.charCodeAt(0);
  for (const s of queryStems) if (s.charCodeAt(0) === first) return true;
  return false;
}

/**
 * The first `max` candidates whose sentence neither holds nor is held in one already taken. Chunks overlap, so
 * adjacent results repeat a sentence (or the end of one, where a chunk starts mid-sentence): quoting it twice, cited
 * [1] and [2], says nothing new.
 */
function distinct<T extends { sentence: string }>(candidates: readonly T[], max: number): T[] {
  const taken: T[] = [];
  for (const c of candidates) {
    if (taken.length === max) break;
    const text = c.sentence.trim();
    if (taken.some((t) => t.sentence.includes(text) || text.includes(t.sentence.trim()))) continue;
    taken.push(c);
  }
  return taken;
}

/**
 * Picks up to three sentences from the top results that share the most (rarer) words with the question,
 * preferring higher-ranked results, and cites each as [n]. With no overlap at all it quotes the best result's opening.
 */
export function extractiveAnswer(question: string, results: readonly AnswerSource[]): ExtractiveAnswer {
  if (results.length === 0) return { answer: 'No indexed document matches this question yet.', cited: [] };
  const queryStems = new Set(contentTerms(question).map(stem));
  const candidates: Array<{ sentence: string; result: number; stems: Set<string>; order: number }> = [];
  results.slice(0, 5).forEach((r, result) => {
    sentences(r.text).forEach((sentence, order) => {
      if (sentence.length < 20) return;
      candidates.push({ sentence, result, order, stems: queryStemsIn(sentence, queryStems) });
    });
  });
  const df = new Map<string, number>();
  for (const c of candidates) for (const s of queryStems) if (c.stems.has(s)) df.set(s, (df.get(s) ?? 0) + 1);
  const scored = candidates
    .map((c) => {
      let score = 0;
      for (const s of queryStems) if (c.stems.has(s)) score += 1 / Math.log2(1 + (df.get(s) ?? 1));
      return { ...c, score: score * (1 - 0.08 * c.result) };
    })
    .filter((c) => c.score > 0)
    .sort((a, b) => b.score - a.score || a.result - b.result || a.order - b.order);
  const picked = distinct(scored.length > 0 ? scored : candidates.filter((c) => c.result === 0), scored.length > 0 ? MAX_SENTENCES : 2);
  if (picked.length === 0) {
    const first = results[0]?.text.trim().slice(0, MAX_SENTENCE_CHARS) ?? '';
    return { answer: `${first} [1]`, cited: [1] };
  }
  // Present in reading order: by result, then by position in the chunk.
  picked.sort((a, b) => a.result - b.result || a.order - b.order);
  const cited: number[] = [];
  const parts = picked.map((c) => {
    const n = c.result + 1;
    if (!cited.includes(n)) cited.push(n);
    const text = c.sentence.length > MAX_SENTENCE_CHARS ? `${c.sentence.slice(0, MAX_SENTENCE_CHARS)}…` : c.sentence;
    return `${text} [${n}]`;
  });
  return { answer: parts.join(' '), cited };
}
