// spanda eval: ingests a BEIR data set through a whole private node (events, processors, projection), runs its queries, prints nDCG/Recall/MRR and latency.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../lib/config.ts';
import { startScoped } from '../../lib/lifecycle.ts';
import { createLogger } from '../../lib/log.ts';
import { readBeir, type BeirSet } from '../../inference/eval/beir.ts';
import { documentsByMaxScore, mean, percentile, scoreRanking, type QueryScores } from '../../inference/eval/metrics.ts';
import { retrieve } from '../../inference/retrieve.ts';
import { searchOptions } from '../../inference/settings.ts';
import type { SearchOptions } from '../../projections/search.ts';
import { embedderConsumer, lastSeq, waitForApplied } from '../../projections/read-your-writes.ts';
import { SEARCH_MODES, type SearchMode } from '../../streams/events/index.ts';
import { KEYWORD_EXPANSIONS, type KeywordExpansion } from '../../projections/store.ts';
import { documentInputSchema, publishDocument } from '../../streams/document-log.ts';
import { STREAMS } from '../../streams/provision.ts';
import { mapLimit } from '../../streams/publisher.ts';
import { freePort } from '../../streams/server.ts';
import { spandaSystem, type SpandaSystem } from '../system.ts';
import { stringFlag } from '../env.ts';
import type { Command } from '../main.ts';
import { UsageError, printJson } from '../output.ts';
import { progressBar } from '../progress.ts';

const TENANT = 'eval';
const SOURCE = 'beir';
const MANIFEST = 'spanda-eval.json';

export interface EvalResult {
  readonly 'ndcg@10': number;
  readonly 'recall@10': number;
  readonly 'mrr@10': number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly docs: number;
  readonly queries: number;
  readonly mode: SearchMode;
  readonly model: string;
  readonly k: number;
  /** Keyword query expansion the queries ran with (--expansion). */
  readonly expansion: string;
  readonly index_seconds: number;
  readonly generation: string;
}

function positiveInt(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new UsageError(`--${flag} must be an integer from 1 to 1000, got ${JSON.stringify(value)}`);
  return n;
}

const round = (x: number, digits = 4) => Math.round(x * 10 ** digits) / 10 ** digits;

/** What makes a kept index reusable: the same corpus through the same embedder and chunker settings. */
function manifestKey(set: BeirSet, embedder: string, chunkSize: number, chunkOverlap: number) {
  return { corpusSha256: set.corpusSha256, embedder, chunkSize, chunkOverlap, mapping: 'text = title + "\\n\\n" + text' };
}

/** Publishes the corpus and waits, with a progress bar, until the serving generation has applied all of it. */
async function ingest(system: SpandaSystem, set: BeirSet, quiet: boolean): Promise<void> {
  const bar = progressBar(quiet ? false : undefined);
  const total = set.corpus.length;
  let published = 0;
  await mapLimit(set.corpus, 64, async (d) => {
    const doc = documentInputSchema.parse({ id: d.id, source: SOURCE, title: d.title || undefined, text: d.title ? `${d.title}\n\n${d.text}` : d.text, contentType: 'text/plain' });
    await publishDocument(system.nats, TENANT, doc, { producer: '/cli/eval' });
    bar.update('publish', ++published, total);
  });
  const head = await lastSeq(system.nats, STREAMS.DOCUMENTS);
  const served = system.serving.current();
  const model = served.embedder.info.id;
  // Progress: documents whose chunks the model's embedder has acknowledged (one CHUNKS message per document version).
  const poll = setInterval(() => {
    void system.nats.jsm.consumers
      .info(STREAMS.CHUNKS, embedderConsumer(model))
      .then((info) => bar.update('embed', Math.min(total, info.ack_floor.stream_seq), total))
      .catch(() => undefined);
  }, 500);
  try {
    await waitForApplied(system.nats, served, head, 24 * 60 * 60_000);
  } finally {
    clearInterval(poll);
  }
  bar.update('indexed', total, total);
  bar.finish();
}

async function runQueries(system: SpandaSystem, set: BeirSet, mode: SearchMode, k: number, search: SearchOptions) {
  const perDocument = search.perDocument === true;
  const perQuery: QueryScores[] = [];
  const latencies: number[] = [];
  let generation = '';
  let model = '';
  for (const q of set.queries) {
    const started = performance.now();
    // Chunk-level retrieval needs more chunks than k to fill k documents; document-level retrieval returns documents.
    const found = await retrieve(
      { serving: system.serving, search },
      { tenant: TENANT, query: q.text, k: perDocument ? k : Math.min(1000, k * 10), mode },
    );
    latencies.push(performance.now() - started);
    generation = found.generation;
    model = found.model;
    const ranking = documentsByMaxScore(found.hits.map((h) => ({ docId: h.docId, score: h.score })));
    perQuery.push(scoreRanking(ranking, set.relevant.get(q.id) as Set<string>, k));
  }
  return { perQuery, latencies, generation, model };
}

export const evalCommand: Command = {
  usage:
    'spanda eval --corpus F --queries F --qrels F [--mode hybrid|vector|keyword] [--embedder offline|hash] [--k 10] [--expansion none|rm3] [--data-dir DIR (keep the index and reuse it)] [--json]',
  options: {
    corpus: { type: 'string' },
    queries: { type: 'string' },
    qrels: { type: 'string' },
    mode: { type: 'string' },
    embedder: { type: 'string' },
    k: { type: 'string' },
    expansion: { type: 'string' },
    'data-dir': { type: 'string' },
  },
  async run(ctx) {
    const files = { corpus: stringFlag(ctx, 'corpus'), queries: stringFlag(ctx, 'queries'), qrels: stringFlag(ctx, 'qrels') };
    if (!files.corpus || !files.queries || !files.qrels) throw new UsageError(`--corpus, --queries and --qrels are required\nusage: ${this.usage}`);
    const mode = (stringFlag(ctx, 'mode') ?? 'hybrid') as SearchMode;
    if (!SEARCH_MODES.includes(mode)) throw new UsageError(`--mode must be one of ${SEARCH_MODES.join(', ')}`);
    const embedder = stringFlag(ctx, 'embedder') ?? 'offline';
    if (embedder !== 'offline' && embedder !== 'hash') throw new UsageError('--embedder must be offline or hash');
    const k = positiveInt(stringFlag(ctx, 'k'), 'k', 10);
    const expansion = stringFlag(ctx, 'expansion');
    if (expansion !== undefined && !KEYWORD_EXPANSIONS.includes(expansion as KeywordExpansion)) {
      throw new UsageError(`--expansion must be one of ${KEYWORD_EXPANSIONS.join(', ')}, got ${JSON.stringify(expansion)}`);
    }
    const json = ctx.values.json === true;
    const set = await readBeir({ corpus: files.corpus, queries: files.queries, qrels: files.qrels });

    const kept = stringFlag(ctx, 'data-dir');
    const dataDir = kept ? path.resolve(kept) : await mkdtemp(path.join(os.tmpdir(), 'spanda-eval-'));
    const config = loadConfig(
      {
        SPANDA_DATA_DIR: dataDir,
        NATS_URL: `nats://127.0.0.1:${await freePort()}`,
        HOST: '127.0.0.1',
        PORT: String(await freePort()),
        SPANDA_EMBEDDER: embedder,
        SPANDA_MODELS: '',
        SPANDA_SAMPLE: 'false',
        SPANDA_STORE: 'sqlite',
        SPANDA_ALLOW_OPEN: 'true',
        ...(expansion !== undefined ? { SPANDA_KEYWORD_EXPANSION: expansion } : {}),
      },
      process.env,
    );
    const search = searchOptions(config);
    const key = manifestKey(set, embedder, config.chunkSize, config.chunkOverlap);
    const manifestFile = path.join(dataDir, MANIFEST);
    const reuse = kept !== undefined && existsSync(manifestFile) && (await readFile(manifestFile, 'utf8')) === JSON.stringify(key);
    const logger = createLogger('eval', process.env.SPANDA_LOG_LEVEL === 'debug' ? 'debug' : 'error');
    const node = await startScoped(spandaSystem(config, logger));
    try {
      const indexStarted = performance.now();
      if (!reuse) {
        if (!json) process.stderr.write(`indexing ${set.corpus.length} documents with the ${embedder} embedder through a private node in ${dataDir}\n`);
        await ingest(node.value, set, json);
        if (kept) await writeFile(manifestFile, JSON.stringify(key));
      } else {
        // A kept index: the node's projector resumes from its checkpoint; wait until it has caught up with the log.
        await waitForApplied(node.value.nats, node.value.serving.current(), await lastSeq(node.value.nats, STREAMS.DOCUMENTS), 24 * 60 * 60_000);
      }
      const indexSeconds = (performance.now() - indexStarted) / 1000;
      const { perQuery, latencies, generation, model } = await runQueries(node.value, set, mode, k, search);
      const result: EvalResult = {
        'ndcg@10': round(mean(perQuery.map((q) => q.ndcg))),
        'recall@10': round(mean(perQuery.map((q) => q.recall))),
        'mrr@10': round(mean(perQuery.map((q) => q.mrr))),
        p50_ms: round(percentile(latencies, 0.5), 2),
        p99_ms: round(percentile(latencies, 0.99), 2),
        docs: set.corpus.length,
        queries: set.queries.length,
        mode,
        model,
        k,
        expansion: search.keywordExpansion ?? 'none',
        index_seconds: round(indexSeconds, 1),
        generation,
      };
      if (json) printJson(result);
      else {
        process.stdout.write(
          [
            `${set.queries.length} queries over ${set.corpus.length} documents, ${mode} retrieval, model ${model}${reuse ? ' (kept index)' : ''}`,
            `nDCG@${k}    ${result['ndcg@10'].toFixed(4)}`,
            `Recall@${k}  ${result['recall@10'].toFixed(4)}`,
            `MRR@${k}     ${result['mrr@10'].toFixed(4)}`,
            `latency   p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms (embed + search, one query at a time)`,
            `indexing  ${result.index_seconds} s`,
            '',
          ].join('\n'),
        );
      }
      return 0;
    } finally {
      await node.close();
      if (!kept) await rm(dataDir, { recursive: true, force: true });
    }
  },
};
