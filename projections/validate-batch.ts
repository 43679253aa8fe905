// Checking a whole store batch before anything is written, for every store kind: a bad op fails before the first write.
import { ValidationError } from '../lib/errors.ts';
import type { ChunkInput, DocumentRef, StoreBatch, VectorInput } from './store.ts';

// Not a type guard: Array.isArray would widen readonly arrays to any[].
const isList = (value: unknown): boolean => Array.isArray(value);

function fail(message: string, issue: string): never {
  throw new ValidationError(message, [issue]);
}

function checkRef(op: DocumentRef, where: string): void {
  for (const field of ['tenant', 'source', 'docId'] as const) {
    if (typeof op[field] !== 'string' || op[field].length === 0) fail(`${where}: ${field} must be a non-empty string`, `${where}.${field}: empty`);
  }
}

function checkInt(value: unknown, min: number, what: string): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    fail(`${what} must be an integer ≥ ${min}, got ${String(value)}`, `${what}: not an integer ≥ ${min}`);
  }
}

const isCount = (value: unknown): boolean => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

// Item checks take their position as a function: naming it costs a string per chunk or vector, needed only to fail.
function checkChunk(chunk: ChunkInput, at: () => string): void {
  if (
    typeof chunk.chunkId === 'string' &&
    chunk.chunkId.length > 0 &&
    typeof chunk.text === 'string' &&
    (chunk.heading === undefined || typeof chunk.heading === 'string') &&
    isCount(chunk.ordinal) &&
    isCount(chunk.start) &&
    isCount(chunk.end) &&
    isCount(chunk.tokens)
  ) {
    return;
  }
  const where = at();
  if (typeof chunk.chunkId !== 'string' || chunk.chunkId.length === 0) fail(`${where}: chunkId must be a non-empty string`, `${where}.chunkId: empty`);
  if (typeof chunk.text !== 'string') fail(`${where}: text must be a string`, `${where}.text: not a string`);
  if (chunk.heading !== undefined && typeof chunk.heading !== 'string') fail(`${where}: heading must be a string`, `${where}.heading: not a string`);
  checkInt(chunk.ordinal, 0, `${where}.ordinal`);
  checkInt(chunk.start, 0, `${where}.start`);
  checkInt(chunk.end, 0, `${where}.end`);
  checkInt(chunk.tokens, 0, `${where}.tokens`);
}

function checkVector(v: VectorInput, dims: number, at: () => string): void {
  if (typeof v.chunkId === 'string' && v.chunkId.length > 0 && isCount(v.window) && v.vector instanceof Float32Array && v.vector.length === dims && allFinite(v.vector)) return;
  const where = at();
  if (typeof v.chunkId !== 'string' || v.chunkId.length === 0) fail(`${where}: chunkId must be a non-empty string`, `${where}.chunkId: empty`);
  checkInt(v.window, 0, `${where}.window`);
  if (!(v.vector instanceof Float32Array) || v.vector.length !== dims) {
    const got = v.vector instanceof Float32Array ? `${v.vector.length} dimensions` : 'not a Float32Array';
    fail(`${where}: vector has ${got}, the store's model has ${dims}`, `${where}.vector: wrong dimensions`);
  }
  for (const x of v.vector) if (!Number.isFinite(x)) fail(`${where}: vector contains ${x}`, `${where}.vector: not finite`);
}

function allFinite(vector: Float32Array): boolean {
  for (let i = 0; i < vector.length; i++) {
    const x = vector[i] as number;
    if (x - x !== 0) return false; // NaN and ±Infinity
  }
  return true;
}

/** Throws ValidationError naming the first bad op; nothing of the batch may be written after that. */
export function validateBatch(batch: StoreBatch, model: { readonly id: string; readonly dims: number }): void {
  if (!batch || !isList(batch.ops)) fail('batch.ops must be an array', 'ops: not an array');
  batch.ops.forEach((op, i) => {
    const where = `ops[${i}]`;
    checkRef(op, where);
    checkInt(op.docSeq, 1, `${where}.docSeq`);
    if (op.kind === 'chunks') {
      if (!isList(op.chunks)) fail(`${where}.chunks must be an array`, `${where}.chunks: not an array`);
      op.chunks.forEach((c, j) => checkChunk(c, () => `${where}.chunks[${j}]`));
      checkInt(op.totalChunks, 0, `${where}.totalChunks`);
      if (op.metadata === null || typeof op.metadata !== 'object' || Array.isArray(op.metadata)) {
        fail(`${where}.metadata must be an object`, `${where}.metadata: not an object`);
      }
    } else if (op.kind === 'vectors') {
      if (op.model !== model.id) {
        fail(
          `${where}: vectors of model ${op.model} cannot go into a store of model ${model.id} (one model per store generation)`,
          `${where}.model: not the store's model`,
        );
      }
      if (!isList(op.vectors)) fail(`${where}.vectors must be an array`, `${where}.vectors: not an array`);
      op.vectors.forEach((v, j) => checkVector(v, model.dims, () => `${where}.vectors[${j}]`));
    } else if ((op as { kind: unknown }).kind !== 'remove') {
      fail(`${where}: unknown op kind ${String((op as { kind: unknown }).kind)}`, `${where}.kind: unknown`);
    }
  });
  for (const [key, seq] of Object.entries(batch.checkpoints ?? {})) {
    if (key.length === 0) fail('checkpoint keys must be non-empty', 'checkpoints: empty key');
    checkInt(seq, 0, `checkpoints[${JSON.stringify(key)}]`);
  }
}
