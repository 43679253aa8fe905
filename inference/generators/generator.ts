// The generator contract: every answer provider (extractive, OpenAI-compatible, Hugging Face) turns a rendered prompt into text.
import type { ChatMessage, Passage } from '../prompts/prompt.ts';

export const GENERATOR_KINDS = ['extractive', 'openai', 'hf'] as const;
export type GeneratorKind = (typeof GENERATOR_KINDS)[number];

export interface GenerationInput {
  /** The user's question as asked (extractive answers match sentences against it). */
  readonly question: string;
  /** The rendered prompt: system, earlier turns, then the user turn with the numbered passages. */
  readonly messages: readonly ChatMessage[];
  /** The passages in the prompt; marker [n] is passages[n - 1]. */
  readonly passages: readonly Passage[];
  readonly maxTokens?: number;
  readonly temperature?: number;
  readonly signal?: AbortSignal;
}

export interface TokenUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

export interface GenerationResult {
  readonly text: string;
  readonly finishReason: 'stop' | 'length';
  /** As the provider reported it; estimated (≈ 4 characters a token) when it did not. */
  readonly usage: TokenUsage;
}

/** One piece of a streamed answer; the last one carries the finish reason and usage. */
export type GenerationDelta = { readonly text: string } | { readonly done: GenerationResult };

export interface Generator {
  readonly kind: GeneratorKind;
  /** The model the provider runs ("extractive" for the extractive generator). */
  readonly model: string;
  generate(input: GenerationInput): Promise<GenerationResult>;
  /** Streams text deltas, then one `done` with the whole result. Retries happen only before the first delta. */
  stream(input: GenerationInput): AsyncIterable<GenerationDelta>;
}

/** Rough token count for budgets and usage when a provider reports none: ≈ 4 characters a token. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export function estimateUsage(messages: readonly ChatMessage[], completion: string): TokenUsage {
  return { promptTokens: messages.reduce((sum, m) => sum + estimateTokens(m.content) + 4, 0), completionTokens: estimateTokens(completion) };
}

/** Collects a stream into one result (a generator whose provider only streams can implement generate with it). */
export async function collect(deltas: AsyncIterable<GenerationDelta>): Promise<GenerationResult> {
  let text = '';
  for await (const d of deltas) {
    if ('done' in d) return d.done;
    text += d.text;
  }
  throw new Error(`the stream ended without a result after ${text.length} characters`);
}
