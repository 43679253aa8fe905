// The prompt layer: versioned templates read from files, chosen by name, rendered with numbered passages under a token budget.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ConfigError } from '../../lib/errors.ts';

export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

/** A retrieved chunk as the prompt shows it; `n` is its citation marker and its 1-based rank in the results. */
export interface Passage {
  readonly n: number;
  readonly chunkId: string;
  readonly title?: string;
  readonly text: string;
  /** True when the text was cut to fit the budget. */
  readonly truncated: boolean;
}

export interface PassageSource {
  readonly chunkId: string;
  readonly title?: string;
  readonly text: string;
}

const templateSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/),
    version: z.number().int().min(1),
    description: z.string().optional(),
    system: z.string().min(1),
    /** One passage: {n}, {title}, {text}. */
    passage: z.string().includes('{text}'),
    /** The user turn: {context} (the passages, blank-line separated) and {question}. */
    user: z.string().includes('{context}').includes('{question}'),
    budget: z.object({
      /** Tokens for all passages together. */
      contextTokens: z.number().int().min(50),
      /** Most tokens one passage may take (a longer one is cut at a sentence end when possible). */
      passageTokens: z.number().int().min(20),
      /** A passage that would get fewer tokens than this is left out rather than cut to a stub. */
      minPassageTokens: z.number().int().min(1),
    }),
  })
  .strict();

export type PromptTemplate = z.infer<typeof templateSchema>;

export interface RenderedPrompt {
  readonly messages: ChatMessage[];
  readonly passages: Passage[];
  readonly template: { readonly name: string; readonly version: number };
  /** Estimated tokens of the passages as rendered. */
  readonly contextTokens: number;
}

export const DEFAULT_TEMPLATE = 'grounded';
const TEMPLATE_DIR = fileURLToPath(new URL('./templates/', import.meta.url));
const CHARS_PER_TOKEN = 4;

/** Every template file `<name>.v<version>.json` in `dir`, validated. */
export function loadTemplates(dir = TEMPLATE_DIR): PromptTemplate[] {
  return readdirSync(dir)
    .filter((f) => /^[a-z0-9_-]+\.v\d+\.json$/.test(f))
    .map((file) => {
      const parsed = templateSchema.safeParse(JSON.parse(readFileSync(`${dir}/${file}`, 'utf8')));
      if (!parsed.success) throw new ConfigError(`prompt template ${file} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      if (file !== `${parsed.data.name}.v${parsed.data.version}.json`) throw new ConfigError(`prompt template ${file} declares ${parsed.data.name} v${parsed.data.version}; name the file after them`);
      return parsed.data;
    });
}

/** The template named `spec`: "name" (its latest version) or "name@version". Throws ConfigError naming SPANDA_PROMPT. */
export function promptTemplate(spec = DEFAULT_TEMPLATE, templates: readonly PromptTemplate[] = loadTemplates()): PromptTemplate {
  const [name, version] = spec.split('@');
  const named = templates.filter((t) => t.name === name && (version === undefined || t.version === Number(version)));
  const best = named.sort((a, b) => b.version - a.version)[0];
  if (!best) {
    const known = [...new Set(templates.map((t) => `${t.name}@${t.version}`))].sort().join(', ');
    throw new ConfigError(`SPANDA_PROMPT=${spec} names no prompt template; known: ${known} (files in inference/prompts/templates/)`);
  }
  return best;
}

/** Cuts text to at most `tokens` (estimated), at the last sentence end in the second half of the cut if there is one. */
export function truncateToTokens(text: string, tokens: number): { text: string; truncated: boolean } {
  const max = tokens * CHARS_PER_TOKEN;
  if (text.length <= max) return { text, truncated: false };
  const cut = text.slice(0, max);
  const sentenceEnd = Math.max(cut.lastIndexOf('. '), cut.lastIndexOf('? '), cut.lastIndexOf('! '), cut.lastIndexOf('\n'));
  const end = sentenceEnd >= max / 2 ? sentenceEnd + 1 : Math.max(cut.lastIndexOf(' '), Math.floor(max * 0.9));
  return { text: `${cut.slice(0, end).trimEnd()} …`, truncated: true };
}

/**
 * The template with {key} replaced by values[key] (unknown keys stay as written). Built by concatenation, which V8 keeps
 * as a rope: the passages' text is not copied into each passage, the context and the user turn (a prompt is flattened
 * once, when a generator sends it; the extractive one only measures it).
 */
function fill(template: string, values: Record<string, string>): string {
  let out = '';
  let at = 0;
  for (const m of template.matchAll(/\{(\w+)\}/g)) {
    out += template.slice(at, m.index) + (values[m[1] as string] ?? m[0]);
    at = m.index + m[0].length;
  }
  return out + template.slice(at);
}

/**
 * One passage. Without a title, the space the template puts before the title is left out when the title ends its line
 * ("[1]" alone on its line rather than "[1] "); this is done on the template, so the passage text is never rewritten.
 */
function renderPassage(template: string, p: Passage): string {
  const title = p.title ?? '';
  return fill(title === '' ? template.replace(/ \{title\}(?=\n)/, '{title}') : template, { n: String(p.n), title, text: p.text });
}

/**
 * Renders the prompt. Passages keep their rank as marker ([1] is the best hit) and are taken in rank order: each is cut
 * to the per-passage budget, and the first one that no longer fits the context budget (even cut to what is left, if
 * that is at least minPassageTokens) ends the context, so markers stay a prefix 1..m of the results.
 */
export function renderPrompt(template: PromptTemplate, question: string, sources: readonly PassageSource[], history: readonly ChatMessage[] = []): RenderedPrompt {
  const { contextTokens, passageTokens, minPassageTokens } = template.budget;
  const passages: Passage[] = [];
  let used = 0;
  for (const [i, source] of sources.entries()) {
    const left = contextTokens - used;
    const header = fill(template.passage, { n: String(i + 1), title: source.title ?? '', text: '' });
    const allowed = Math.min(passageTokens, left - Math.ceil(header.length / CHARS_PER_TOKEN));
    if (allowed < minPassageTokens) break;
    const { text, truncated } = truncateToTokens(source.text.trim(), allowed);
    passages.push({ n: i + 1, chunkId: source.chunkId, ...(source.title !== undefined ? { title: source.title } : {}), text, truncated });
    used += Math.ceil((header.length + text.length) / CHARS_PER_TOKEN);
  }
  let context = '';
  for (const p of passages) context += `${context === '' ? '' : '\n\n'}${renderPassage(template.passage, p)}`;
  const user = fill(template.user, { context: context || '(no passages matched)', question });
  return {
    messages: [{ role: 'system', content: template.system }, ...history, { role: 'user', content: user }],
    passages,
    template: { name: template.name, version: template.version },
    contextTokens: used,
  };
}

/** The citation markers [n] (also [1][2] and [1, 2]) used in `text`, in order of first use, within 1..max. */
export function citedMarkers(text: string, max: number): number[] {
  const out: number[] = [];
  for (const match of text.matchAll(/\[(\d+(?:\s*,\s*\d+)*)\]/g)) {
    for (const part of (match[1] as string).split(',')) {
      const n = Number(part.trim());
      if (n >= 1 && n <= max && !out.includes(n)) out.push(n);
    }
  }
  return out;
}
