// Reading a BEIR data set: corpus {_id,title,text} JSONL, queries {_id,text} JSONL, qrels TSV (query-id corpus-id score) with a header.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ValidationError } from '../../lib/errors.ts';

export interface BeirDocument {
  readonly id: string;
  readonly title: string;
  readonly text: string;
}

export interface BeirQuery {
  readonly id: string;
  readonly text: string;
}

export interface BeirSet {
  readonly corpus: BeirDocument[];
  /** Only the queries that have at least one relevant document in the qrels, in file order. */
  readonly queries: BeirQuery[];
  /** query id → ids of its relevant documents (score > 0). */
  readonly relevant: Map<string, Set<string>>;
  /** sha256 of the corpus file, to tell whether a kept index holds this corpus. */
  readonly corpusSha256: string;
}

function jsonLines(text: string, file: string): Array<Record<string, unknown>> {
  return text.split(/\r?\n/).flatMap((line, i) => {
    if (line.trim() === '') return [];
    try {
      const value = JSON.parse(line) as unknown;
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
      return [value as Record<string, unknown>];
    } catch (err) {
      throw new ValidationError(`${file}:${i + 1} is not a JSON object: ${(err as Error).message}`);
    }
  });
}

const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

export function parseBeir(files: { corpus: string; queries: string; qrels: string }, text: { corpus: string; queries: string; qrels: string }): BeirSet {
  const corpus = jsonLines(text.corpus, files.corpus).map((o, i) => {
    const id = str(o._id);
    if (id === '') throw new ValidationError(`${files.corpus}: document ${i + 1} has no _id`);
    return { id, title: str(o.title), text: str(o.text) };
  });
  const ids = new Set(corpus.map((d) => d.id));
  if (ids.size !== corpus.length) throw new ValidationError(`${files.corpus}: document ids are not unique`);
  const relevant = new Map<string, Set<string>>();
  const lines = text.qrels.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new ValidationError(`${files.qrels} is empty; expected a header line "query-id corpus-id score" and judgments`);
  // The header line names the columns; a first line whose score is a number is data (some exports drop the header).
  const first = (lines[0] as string).split(/\t| +/);
  const body = Number.isFinite(Number(first[2])) ? lines : lines.slice(1);
  for (const [i, line] of body.entries()) {
    const [q, d, s] = line.trim().split(/\t| +/);
    if (!q || !d || s === undefined || !Number.isFinite(Number(s))) throw new ValidationError(`${files.qrels}: line ${i + 2} is not "query-id<TAB>corpus-id<TAB>score"`);
    if (Number(s) <= 0) continue;
    if (!ids.has(d)) continue; // judged documents missing from the corpus cannot be retrieved; BEIR keeps them out too
    const set = relevant.get(q) ?? new Set<string>();
    set.add(d);
    relevant.set(q, set);
  }
  const queries = jsonLines(text.queries, files.queries)
    .map((o) => ({ id: str(o._id), text: str(o.text) }))
    .filter((q) => q.id !== '' && q.text.trim() !== '' && relevant.has(q.id));
  if (queries.length === 0) throw new ValidationError(`no query in ${files.queries} has a relevant document in ${files.qrels}; do the ids match?`);
  return { corpus, queries, relevant, corpusSha256: createHash('sha256').update(text.corpus).digest('hex') };
}

export async function readBeir(files: { corpus: string; queries: string; qrels: string }): Promise<BeirSet> {
  const read = (f: string) =>
    readFile(f, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new ValidationError(`cannot read ${f}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
    });
  const [corpus, queries, qrels] = await Promise.all([read(files.corpus), read(files.queries), read(files.qrels)]);
  return parseBeir(files, { corpus, queries, qrels });
}
