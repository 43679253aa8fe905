// The extractive generator (default, offline): quotes the passages' best-matching sentences with their markers; no model writes text.
import { estimateUsage, type GenerationDelta, type GenerationInput, type GenerationResult, type Generator } from './generator.ts';
import { extractiveAnswer } from './extractive-answer.ts';

function answer(input: GenerationInput): GenerationResult {
  // Passages are a prefix of the results (marker n = passages[n - 1]), so the answer's [n] match the prompt's.
  const { answer: text } = extractiveAnswer(input.question, input.passages);
  return { text, finishReason: 'stop', usage: estimateUsage(input.messages, text) };
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
