// spanda dataset export: fine-tuning JSONL (HF chat or prompt/completion format) from answers with positive feedback, read from QUERIES.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../../lib/errors.ts';
import { buildDataset, toJsonl, type DatasetFormat } from '../../inference/dataset.ts';
import { pushDataset } from '../../inference/hub.ts';
import { readQueryLog } from '../../inference/record.ts';
import type { FeedbackGiven, QueryAnswered, StoredEvent } from '../../streams/events/index.ts';
import { assertName } from '../../streams/subjects.ts';
import { connectFrom, stringFlag } from '../env.ts';
import type { Command } from '../main.ts';
import { UsageError, printJson } from '../output.ts';

function card(format: DatasetFormat, minRating: number, counts: { train: number; eval: number }): string {
  return [
    '---',
    'task_categories: [text-generation]',
    'tags: [rag, spanda]',
    '---',
    '# Spanda answers with positive feedback',
    '',
    `Exported by \`spanda dataset export\` from the QUERIES stream: answered queries whose latest feedback rating is ≥ ${minRating},`,
    'deduplicated by (question, answer). Each row rebuilds the prompt the generator saw (the template version that answered and the',
    'retrieved passages as given) and keeps `provenance`: query id, the QUERIES sequences of the answer and the feedback, generator,',
    'model, template, and for each passage its chunk, document and DOCUMENTS sequence.',
    '',
    `Format: ${format === 'chat' ? '`messages` (system, user, assistant), the Hugging Face chat format' : '`prompt` / `completion`'}.`,
    `Rows: train ${counts.train}, eval ${counts.eval} (split by a hash of the question, so a question is never in both).`,
    '',
    'The passages come from the documents indexed by the tenant; check their licences before publishing this data set.',
    '',
  ].join('\n');
}

export const datasetCommand: Command = {
  usage:
    'spanda dataset export [--min-rating 1] [--format chat|completion] [--out dataset] [--eval-fraction 0.1] [--tenant T] [--push-to-hub owner/name [--public]] [--json]',
  options: {
    'min-rating': { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string' },
    'eval-fraction': { type: 'string' },
    tenant: { type: 'string' },
    'push-to-hub': { type: 'string' },
    public: { type: 'boolean' },
  },
  async run(ctx) {
    if (ctx.args[0] !== 'export') throw new UsageError(`the dataset command has one action: export\nusage: ${this.usage}`);
    const minRating = Number(stringFlag(ctx, 'min-rating') ?? '1');
    if (!Number.isInteger(minRating) || minRating < -1 || minRating > 1) throw new UsageError('--min-rating must be -1, 0 or 1 (the feedback ratings)');
    const format = (stringFlag(ctx, 'format') ?? 'chat') as DatasetFormat;
    if (format !== 'chat' && format !== 'completion') throw new UsageError('--format must be chat or completion');
    const evalFraction = Number(stringFlag(ctx, 'eval-fraction') ?? '0.1');
    if (!(evalFraction >= 0 && evalFraction < 1)) throw new UsageError('--eval-fraction must be from 0 up to (not including) 1');
    const tenant = stringFlag(ctx, 'tenant');
    if (tenant !== undefined) assertName('tenant', tenant);
    const repo = stringFlag(ctx, 'push-to-hub');
    const token = process.env.HF_TOKEN;
    if (repo !== undefined && !token) throw new ConfigError('--push-to-hub needs HF_TOKEN (a token with write access, from hf.co/settings/tokens)');
    const out = path.resolve(stringFlag(ctx, 'out') ?? 'dataset');

    const nats = await connectFrom(ctx);
    const events: Array<StoredEvent<QueryAnswered | FeedbackGiven>> = [];
    let invalid = 0;
    let answered = 0;
    try {
      // Feedback first, then only the answers it rates: a log of a million answers is read, not held.
      const rated = new Set<string>();
      const prefix = `queries.${tenant ?? '*'}.*`;
      for await (const e of readQueryLog(nats, { subject: `${prefix}.feedback`, onInvalid: () => invalid++ })) {
        if (e.type !== 'feedback.given') continue;
        events.push(e);
        rated.add(`${e.data.tenant}\u0000${e.data.queryId}`);
      }
      for await (const e of readQueryLog(nats, { subject: `${prefix}.answered`, onInvalid: () => invalid++ })) {
        if (e.type !== 'query.answered') continue;
        answered++;
        if (rated.has(`${e.data.tenant}\u0000${e.data.queryId}`)) events.push(e);
      }
    } finally {
      await nats.drain().catch(() => undefined);
    }
    const built = buildDataset(events, { minRating, format, evalFraction });
    const dataset = { ...built, stats: { ...built.stats, answered } };
    await mkdir(out, { recursive: true });
    const files = [
      { path: 'train.jsonl', content: toJsonl(dataset.train) },
      { path: 'eval.jsonl', content: toJsonl(dataset.eval) },
      { path: 'README.md', content: card(format, minRating, { train: dataset.train.length, eval: dataset.eval.length }) },
    ];
    for (const f of files) await writeFile(path.join(out, f.path), f.content);
    const pushed = repo !== undefined ? await pushDataset({ repo, token: token as string, files, message: `spanda dataset export (${dataset.stats.selected} rows)`, private: ctx.values.public !== true, ...(process.env.SPANDA_HF_HUB_URL ? { hubUrl: process.env.SPANDA_HF_HUB_URL } : {}) }) : undefined;
    const summary = { out, format, minRating, train: dataset.train.length, eval: dataset.eval.length, ...dataset.stats, invalidEvents: invalid, ...(repo ? { pushedTo: repo, commitUrl: pushed?.commitUrl ?? null } : {}) };
    if (ctx.values.json) printJson(summary);
    else {
      process.stdout.write(
        `${summary.train} train and ${summary.eval} eval rows (${format}) in ${out}\n` +
          `from ${summary.answered} answers: ${summary.withFeedback} with feedback, ${summary.selected} rated ≥ ${minRating} after ${summary.duplicates} duplicates` +
          `${summary.withoutContext ? `, ${summary.withoutContext} skipped (recorded before answers kept their context)` : ''}\n` +
          (repo ? `pushed to https://huggingface.co/datasets/${repo}\n` : ''),
      );
    }
    return 0;
  },
};
