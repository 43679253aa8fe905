// EMBEDDINGS stream: document.embedded (vectors of one version for one model, base64 float32) and document.removed.
import { z } from 'zod';
import { ValidationError } from '../../lib/errors.ts';
import { docIdSchema, nameSchema, partSchema, type Event } from './common.ts';
import type { DocumentRemoved } from './chunks.ts';

export const modelInfoSchema = z.object({
  id: nameSchema,
  dims: z.number().int().min(1).max(65536),
  normalized: z.boolean(),
  /** Tokens the model reads of one input; text past it is invisible, so chunks are embedded in windows of this size. */
  maxTokens: z.number().int().min(1),
});
export type ModelInfo = z.infer<typeof modelInfoSchema>;

export const embeddedVectorSchema = z.object({
  chunkId: z.string().min(1),
  /** Index of the window within the chunk (0 when the chunk fits the model's token limit). */
  window: z.number().int().min(0),
  /** Little-endian float32, base64. */
  vector: z.string(),
});

export const documentEmbeddedV1 = z.object({
  tenant: nameSchema,
  source: nameSchema,
  id: docIdSchema,
  docSeq: z.number().int().min(1),
  model: modelInfoSchema,
  part: partSchema,
  vectors: z.array(embeddedVectorSchema),
});

export type DocumentEmbeddedData = z.infer<typeof documentEmbeddedV1>;
export type DocumentEmbedded = Event<'document.embedded', DocumentEmbeddedData>;
export type EmbeddingEvent = DocumentEmbedded | DocumentRemoved;

export const embeddingEvents = {
  'document.embedded': { version: 1, schemas: { 1: documentEmbeddedV1 }, upcasters: {} },
} as const;

export function encodeVector(vector: Float32Array): string {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64');
}

export function decodeVector(base64: string, dims: number): Float32Array {
  // Decoded straight into the aligned result: the usual case, where the text is exactly dims floats of plain base64.
  const out = new Float32Array(dims);
  const bytes = dims * 4;
  if (Buffer.byteLength(base64, 'base64') !== bytes || Buffer.from(out.buffer).write(base64, 'base64') !== bytes) return decodeVectorLeniently(base64, dims);
  return checked(out);
}

/** Any other text, decoded the way Buffer.from does (it skips characters outside base64, such as line breaks). */
function decodeVectorLeniently(base64: string, dims: number): Float32Array {
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.byteLength % 4 !== 0) {
    throw new ValidationError(`vector is ${bytes.byteLength} bytes, not a whole number of float32s (truncated or not base64?); the model declares ${dims} dimensions`, ['vector: not whole float32s']);
  }
  if (bytes.byteLength !== dims * 4) {
    throw new ValidationError(`vector has ${bytes.byteLength / 4} dimensions, the model declares ${dims}`, ['vector: wrong length']);
  }
  // Copy into an aligned buffer: Buffer slices may start at an offset that is not a multiple of 4.
  const out = new Float32Array(dims);
  new Uint8Array(out.buffer).set(bytes);
  return checked(out);
}

function checked(vector: Float32Array): Float32Array {
  const problem = vectorProblem(vector);
  if (problem !== undefined) throw new ValidationError(`vector ${problem}`, [`vector: ${problem}`]);
  return vector;
}

const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Why a vector cannot be indexed, or undefined. A non-finite component poisons every cosine it enters, and the zero
 * vector has no direction (its cosine is 0/0): no model produces either for text, so such a vector was injected or broken.
 */
export function vectorProblem(vector: Float32Array): string | undefined {
  // One pass without branches per component: x * 0 is NaN exactly when x is ±Infinity or NaN.
  let poison = 0;
  let squares = 0;
  for (let i = 0; i < vector.length; i++) {
    const x = vector[i] as number;
    poison += x * 0;
    squares += x * x;
  }
  if (poison === 0) {
    if (squares === 0) return 'is all zeros';
    // Past float32's range its squared length overflows in a store's float32 arithmetic: every cosine with it is 0 or NaN.
    if (squares > FLOAT32_MAX) return `is too long to compare (squared length ${squares.toExponential(2)}, over float32's ${FLOAT32_MAX.toExponential(2)})`;
    return undefined;
  }
  const at = vector.findIndex((x) => !Number.isFinite(x));
  return `has a non-finite component (${vector[at]} at ${at})`;
}
