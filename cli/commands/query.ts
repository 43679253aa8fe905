// spanda query: asks a running node's HTTP API and prints the answer with its cited sources.
import { UnavailableError, ValidationError } from '../../lib/errors.ts';
import { configFrom, stringFlag } from '../env.ts';
import type { Command } from '../main.ts';
import { UsageError, printJson } from '../output.ts';

interface QueryResponse {
  answer: string;
  results: Array<{ docId: string; source: string; chunkId: string; title: string | null; url: string | null; text: string; score: number; seq: number }>;
  took_ms: number;
}

export const queryCommand: Command = {
  usage: 'spanda query "question" [--k 5] [--mode hybrid|vector|keyword] [--filter JSON] [--tenant default] [--url http://127.0.0.1:8080] [--json]',
  options: {
    k: { type: 'string' },
    mode: { type: 'string' },
    tenant: { type: 'string' },
    url: { type: 'string' },
    port: { type: 'string' },
    filter: { type: 'string' },
  },
  async run(ctx) {
    const question = ctx.args.join(' ').trim();
    if (question === '') throw new UsageError(`give a question\nusage: ${this.usage}`);
    const base = stringFlag(ctx, 'url') ?? process.env.SPANDA_URL ?? `http://127.0.0.1:${configFrom(ctx).port}`;
    const kText = stringFlag(ctx, 'k');
    const k = kText === undefined ? undefined : Number(kText);
    if (k !== undefined && (kText?.trim() === '' || !Number.isSafeInteger(k) || k < 1)) {
      throw new UsageError(`--k must be a whole number ≥ 1 (results to return), got ${JSON.stringify(kText)}\nusage: ${this.usage}`);
    }
    const mode = stringFlag(ctx, 'mode');
    if (mode !== undefined && !['hybrid', 'vector', 'keyword'].includes(mode)) {
      throw new UsageError(`--mode must be hybrid, vector or keyword, got ${JSON.stringify(mode)}\nusage: ${this.usage}`);
    }
    const filterText = stringFlag(ctx, 'filter');
    let filter: unknown;
    if (filterText !== undefined) {
      try {
        filter = JSON.parse(filterText);
      } catch (err) {
        throw new UsageError(`--filter must be JSON, e.g. '{"source":"sample"}': ${(err as Error).message}`);
      }
    }
    const body = { query: question, ...(k !== undefined ? { k } : {}), ...(mode ? { mode } : {}), ...(filter !== undefined ? { filter } : {}) };
    let response: Response;
    try {
      response = await fetch(new URL('/v1/query', base), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-tenant': stringFlag(ctx, 'tenant') ?? 'default' },
        body: JSON.stringify(body),
      });
    } catch (err) {
      throw new UnavailableError(`no Spanda API answers at ${base} (${(err as Error).message}); start one with \`spanda up\` or pass --url`);
    }
    const payload = (await response.json()) as QueryResponse & { detail?: string };
    if (!response.ok) throw new ValidationError(`the API answered ${response.status}: ${payload.detail ?? JSON.stringify(payload)}`);
    if (ctx.values.json) {
      printJson(payload);
      return 0;
    }
    process.stdout.write(`${payload.answer}\n\n`);
    payload.results.forEach((r, i) => {
      const where = r.url ?? `${r.source}/${r.docId}`;
      process.stdout.write(`[${i + 1}] ${r.title ?? r.docId}  (${where}, score ${r.score.toFixed(3)}, seq ${r.seq})\n`);
    });
    process.stdout.write(`\n${payload.results.length} results in ${payload.took_ms} ms\n`);
    return 0;
  },
};
