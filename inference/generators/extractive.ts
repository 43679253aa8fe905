// The extractive generator (default, offline): quotes the passages' best-matching sentences with their markers; no model writes text.
import { estimateTokens, estimateUsage, type GenerationDelta, type GenerationInput, type GenerationResult, type Generator } from './generator.ts';
import { extractiveAnswer } from './extractive-answer.ts';

function answer(input: GenerationInput): GenerationResult {
  // Passages are a prefix of the results (marker n = passages[n - 1]), so the answer's [n] match the prompt's.
  const { answer: full } = extractiveAnswer(input.question, input.passages);
  const text = input.maxTokens === undefined ? full : cutToTokens(full, input.maxTokens);
  return { text, finishReason: text === full ? 'stop' : 'length', usage: estimateUsage(input.messages, text) };
}

/** The longest start of `text` within `maxTokens` (as estimateTokens counts them), cut at a space where there is one. */
function cutToTokens(text: string, maxTokens: number): string {
  if (estimateTokens(text) <= maxTokens) return text;
  const room = text.slice(0, Math.max(0, maxTokens * 4));
  const space = room.lastIndexOf(' ');
  return (space > 0 ? room.slice(0, space) : room).trimEnd();
}

/** Quoted sentences, not generated prose: every response names the generator "extractive" so no one mistakes it for an LLM. */
export function extractiveGenerator(): Generator {
  return {
    kind: 'extractive',
    model: 'extractive',
    generate: async (input) => answer(input),
    async *stream(input): AsyncGenerator<GenerationDelta> {
      const result = answer(input);
      // One delta per quoted sentence (with its marker): the shape of a stream, without pretending to produce tokens.
      const parts = result.text.match(/[^\]]*\](\s|$)|[^\]]+$/g) ?? [result.text];
      for (const part of parts) if (part !== '') yield { text: part };
      yield { done: result };
    },
  };
}
