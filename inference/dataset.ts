// Fine-tuning data from the log (pure): answered queries with positive feedback → deduplicated chat or completion rows with provenance, split train/eval.
import { createHash } from 'node:crypto';
import type { FeedbackGiven, QueryAnswered, StoredEvent } from '../streams/events/index.ts';
import { loadTemplates, promptTemplate, renderPrompt, type ChatMessage, type PromptTemplate } from './prompts/prompt.ts';

export type DatasetFormat = 'chat' | 'completion';

export interface DatasetOptions {
  /** Keep answers whose latest feedback rating is at least this (ratings are -1, 0, 1). */
  readonly minRating: number;
  readonly format: DatasetFormat;
  /** Share of questions (by a hash of the question, so a question never lands in both) that go to eval, 0..1. */
  readonly evalFraction: number;
}

export interface Provenance {
  readonly queryId: string;
  readonly tenant: string;
  readonly answered: { readonly stream: string; readonly seq: number; readonly time: string };
  readonly feedback: { readonly seq: number; readonly rating: number; readonly comment?: string };
  readonly generator: string;
  readonly generatorModel?: string;
  readonly template?: { readonly name: string; readonly version: number };
  readonly embeddingModel?: string;
  readonly generation?: string;
  /** The passages the answer was written from, with the DOCUMENTS sequence of each one's document version. */
  readonly sources: ReadonlyArray<{ readonly n: number; readonly chunkId: string; readonly docId?: string; readonly source?: string; readonly seq?: number }>;
}

export type DatasetRow =
  | { readonly messages: ChatMessage[]; readonly provenance: Provenance }
  | { readonly prompt: string; readonly completion: string; readonly provenance: Provenance };

export interface Dataset {
  readonly train: DatasetRow[];
  readonly eval: DatasetRow[];
  readonly stats: {
    readonly answered: number;
    readonly withFeedback: number;
    readonly selected: number;
    readonly duplicates: number;
    /** Answers recorded before the context was kept in the event: the prompt cannot be rebuilt. */
    readonly withoutContext: number;
  };
}

const normalise = (s: string) => s.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim();
const hash = (s: string) => createHash('sha256').update(s).digest();

function templateFor(answer: QueryAnswered['data'], templates: readonly PromptTemplate[]): PromptTemplate {
  const t = answer.template;
  if (t) {
    const exact = templates.find((x) => x.name === t.name && x.version === t.version);
    if (exact) return exact;
  }
  return promptTemplate(undefined, templates);
}

/**
 * Builds the data set from QUERIES events in log order. The latest feedback per query counts; an answer qualifies when
 * that rating is ≥ minRating. Rows are deduplicated by (question, answer), keeping the earliest; the prompt is rebuilt
 * with the template version that answered and the passages exactly as the generator saw them.
 */
export function buildDataset(events: ReadonlyArray<StoredEvent<QueryAnswered | FeedbackGiven>>, options: DatasetOptions, templates = loadTemplates()): Dataset {
  const answers = new Map<string, StoredEvent<QueryAnswered>>();
  const feedback = new Map<string, StoredEvent<FeedbackGiven>>();
  for (const e of events) {
    const key = `${e.data.tenant}\u0000${e.data.queryId}`;
    if (e.type === 'query.answered') answers.set(key, e);
    else feedback.set(key, e); // log order: the latest wins
  }
  const train: DatasetRow[] = [];
  const evalRows: DatasetRow[] = [];
  const seen = new Set<string>();
  let withFeedback = 0;
  let selected = 0;
  let duplicates = 0;
  let withoutContext = 0;
  const ordered = [...answers.entries()].sort((a, b) => a[1].position.seq - b[1].position.seq);
  for (const [key, answered] of ordered) {
    const fb = feedback.get(key);
    if (!fb) continue;
    withFeedback++;
    if (fb.data.rating < options.minRating) continue;
    const a = answered.data;
    if (!a.context) {
      withoutContext++;
      continue;
    }
    const dedupeKey = hash(`${normalise(a.query)}\u0000${normalise(a.answer)}`).toString('hex');
    if (seen.has(dedupeKey)) {
      duplicates++;
      continue;
    }
    seen.add(dedupeKey);
    selected++;
    const template = templateFor(a, templates);
    // The recorded passages are already within the budget, so rendering them again gives the prompt the model saw.
    const prompt = renderPrompt(
      { ...template, budget: { ...template.budget, contextTokens: Number.MAX_SAFE_INTEGER, passageTokens: Number.MAX_SAFE_INTEGER } },
      a.query,
      a.context.map((p) => ({ chunkId: p.chunkId, text: p.text, ...(p.title !== undefined ? { title: p.title } : {}) })),
    );
    const provenance: Provenance = {
      queryId: a.queryId,
      tenant: a.tenant,
      answered: { stream: answered.position.stream, seq: answered.position.seq, time: answered.metadata.time },
      feedback: { seq: fb.position.seq, rating: fb.data.rating, ...(fb.data.comment !== undefined ? { comment: fb.data.comment } : {}) },
      generator: a.generator,
      ...(a.generatorModel !== undefined ? { generatorModel: a.generatorModel } : {}),
      ...(a.template !== undefined ? { template: a.template } : {}),
      ...(a.embeddingModel !== undefined ? { embeddingModel: a.embeddingModel } : {}),
      ...(a.generation !== undefined ? { generation: a.generation } : {}),
      sources: a.context.map((p) => {
        const r = a.results[p.n - 1];
        return { n: p.n, chunkId: p.chunkId, ...(r ? { docId: r.docId, source: r.source, seq: r.seq } : {}) };
      }),
    };
    const row: DatasetRow =
      options.format === 'chat'
        ? { messages: [...prompt.messages, { role: 'assistant', content: a.answer }], provenance }
        : { prompt: prompt.messages.map((m) => m.content).join('\n\n'), completion: a.answer, provenance };
    const bucket = hash(normalise(a.query)).readUInt32BE(0) / 0x1_0000_0000;
    (bucket < options.evalFraction ? evalRows : train).push(row);
  }
  return { train, eval: evalRows, stats: { answered: answers.size, withFeedback, selected, duplicates, withoutContext } };
}

export const toJsonl = (rows: readonly DatasetRow[]): string => rows.map((r) => `${JSON.stringify(r)}\n`).join('');
