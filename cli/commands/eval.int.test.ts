// spanda eval as a user runs it: a BEIR set through a private node, figures as one JSON object; bad input named.
import { rm } from 'node:fs/promises';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { parseBeir } from '../../inference/eval/beir.ts';
import { tempDir } from '../../test/helpers/nats.ts';
import { main } from '../main.ts';

const set = ['--corpus', 'test/data/beir-mini/corpus.jsonl', '--queries', 'test/data/beir-mini/queries.jsonl', '--qrels', 'test/data/beir-mini/qrels.tsv'];
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((out += String(chunk)), true));
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((err += String(chunk)), true));
  try {
    return { code: await main(args), out, err };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

describe('spanda eval', () => {
  it('prints nDCG, Recall, MRR and latency as one JSON object; keyword search finds every answer of the small set', async () => {
    const dir = await tempDir('spanda-eval-test-');
    dirs.push(dir);
    const first = await run(['eval', ...set, '--embedder', 'hash', '--mode', 'keyword', '--data-dir', dir, '--json']);
    expect(first.code, first.err).toBe(0);
    const result = JSON.parse(first.out) as Record<string, unknown>;
    expect(Object.keys(result)).toEqual(expect.arrayContaining(['ndcg@10', 'recall@10', 'mrr@10', 'p50_ms', 'p99_ms', 'docs', 'queries', 'mode', 'model']));
    expect(result).toMatchObject({ docs: 30, queries: 10, mode: 'keyword', model: 'hash-256' });
    expect(result['recall@10']).toBe(1);
    expect(result['ndcg@10']).toBeGreaterThan(0.9);
    expect(result.p99_ms as number).toBeGreaterThanOrEqual(result.p50_ms as number);

    // The kept index is reused: same figures, nothing re-published.
    const again = await run(['eval', ...set, '--embedder', 'hash', '--mode', 'keyword', '--data-dir', dir, '--json']);
    expect(again.code, again.err).toBe(0);
    expect(JSON.parse(again.out)).toMatchObject({ 'ndcg@10': result['ndcg@10'], 'mrr@10': result['mrr@10'] });
    expect((JSON.parse(again.out) as { index_seconds: number }).index_seconds).toBeLessThan(5);

    const hybrid = await run(['eval', ...set, '--embedder', 'hash', '--mode', 'hybrid', '--data-dir', dir, '--json']);
    expect(hybrid.code, hybrid.err).toBe(0);
    expect((JSON.parse(hybrid.out) as { 'ndcg@10': number })['ndcg@10']).toBeGreaterThan(0.8);

    // RM3 expansion on the same kept index: the run says so, and the expanded keyword side still ranks the answers.
    const expanded = await run(['eval', ...set, '--embedder', 'hash', '--mode', 'keyword', '--expansion', 'rm3', '--data-dir', dir, '--json']);
    expect(expanded.code, expanded.err).toBe(0);
    expect(JSON.parse(expanded.out)).toMatchObject({ expansion: 'rm3', mode: 'keyword' });
    expect((JSON.parse(expanded.out) as { 'ndcg@10': number })['ndcg@10']).toBeGreaterThan(0.8);
    expect(result).toMatchObject({ expansion: 'none' });
  });

  it('names the missing flag or file', async () => {
    const missing = await run(['eval', '--corpus', 'x.jsonl']);
    expect(missing.code).not.toBe(0);
    expect(missing.err).toMatch(/--queries and --qrels are required/);
    const absent = await run(['eval', '--corpus', 'nope.jsonl', '--queries', 'test/data/beir-mini/queries.jsonl', '--qrels', 'test/data/beir-mini/qrels.tsv']);
    expect(absent.err).toMatch(/cannot read nope\.jsonl: no such file/);
    const expansion = await run(['eval', ...set, '--expansion', 'bogus']);
    expect(expansion.code).not.toBe(0);
    expect(expansion.err).toMatch(/--expansion must be one of none, rm3/);
  });
});

describe('parseBeir', () => {
  it('keeps judged queries only, drops non-positive judgments, and reads qrels with or without a header', () => {
    const files = { corpus: 'c', queries: 'q', qrels: 'r' };
    const corpus = '{"_id":"a","title":"A","text":"x"}\n{"_id":"b","title":"B","text":"y"}\n';
    const queries = '{"_id":"1","text":"one"}\n{"_id":"2","text":"two"}\n{"_id":"3","text":"three"}\n';
    const withHeader = parseBeir(files, { corpus, queries, qrels: 'query-id\tcorpus-id\tscore\n1\ta\t1\n2\tb\t0\n3\tzz\t1\n' });
    expect(withHeader.queries.map((q) => q.id)).toEqual(['1']);
    expect([...(withHeader.relevant.get('1') ?? [])]).toEqual(['a']);
    const headerless = parseBeir(files, { corpus, queries, qrels: '1\ta\t1\n2\tb\t2\n' });
    expect(headerless.queries.map((q) => q.id)).toEqual(['1', '2']);
    expect(() => parseBeir(files, { corpus: '{"_id":"a"}\n{"_id":"a"}\n', queries, qrels: '1\ta\t1\n' })).toThrow(/not unique/);
  });
});
