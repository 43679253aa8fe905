// Runs the WASM backend's batched matrix products (USE-lite's attention) as one-matrix products, which it hands to XNNPACK.
import * as tf from '@energetic-ai/core';

// The few parts of TensorFlow.js's kernel API this module uses; the package's own types point at a module it does not ship.
interface TensorInfo {
  readonly dataId: object;
  readonly shape: number[];
  readonly dtype: string;
}
interface WasmBackend {
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
  disposeData(dataId: object): boolean;
}
interface MatMulAttrs {
  readonly transposeA: boolean;
  readonly transposeB: boolean;
}
interface KernelArgs {
  readonly inputs: Record<string, TensorInfo>;
  readonly backend: WasmBackend;
  readonly attrs: object;
}
interface KernelConfig {
  readonly kernelName: string;
  readonly backendName: string;
  readonly kernelFunc: (args: KernelArgs) => TensorInfo;
}
interface KernelRegistry {
  getKernel(name: string, backend: string): KernelConfig | undefined;
  registerKernel(config: KernelConfig): void;
  unregisterKernel(name: string, backend: string): void;
}

const registry = tf as unknown as KernelRegistry;
const BACKEND = 'wasm';

let original: KernelConfig | undefined;
let slicedProducts = 0;

/** Batched products the sliced kernel has split up since start (what tests check it is in use). */
export const slicedBatchMatMulCount = (): number => slicedProducts;

/**
 * Replaces the WASM backend's BatchMatMul kernel, once per thread.
 *
 * The backend sends a product to XNNPACK only when both sides hold one matrix and neither is transposed; anything else
 * goes to a plain loop about ten times slower per operation. USE-lite's attention is a product of 4-d tensors (texts ×
 * heads × tokens × tokens), so at 128 tokens it took a third of the model's time. This kernel copies each pair of
 * matrices out (transposed first where asked, by the backend's own Transpose kernel) and runs them one at a time on the
 * fast path. Results agree with the loop's to float rounding (~1e-7).
 *
 * Every slice is a new tensor: the backend caches XNNPACK operators by the id of the right-hand tensor, so refilling one
 * tensor would reuse the first slice's packed matrix. Products it cannot split (broadcast batches, other types) go to
 * the original kernel.
 */
export function installSlicedBatchMatMul(): void {
  if (original) return;
  const base = registry.getKernel('BatchMatMul', BACKEND);
  const transpose = registry.getKernel('Transpose', BACKEND);
  if (!base || !transpose) throw new Error(`the ${BACKEND} backend has no BatchMatMul or Transpose kernel to build the sliced product on`);
  original = base;
  registry.unregisterKernel('BatchMatMul', BACKEND);
  registry.registerKernel({ ...base, kernelFunc: (args) => slicedProduct(args, base.kernelFunc, transpose.kernelFunc) });
}

/** Puts the backend's own kernel back (benchmarks measure both). */
export function uninstallSlicedBatchMatMul(): void {
  if (!original) return;
  registry.unregisterKernel('BatchMatMul', BACKEND);
  registry.registerKernel(original);
  original = undefined;
}

type Kernel = (args: KernelArgs) => TensorInfo;

const size = (dims: readonly number[]) => dims.reduce((product, d) => product * d, 1);

function slicedProduct(args: KernelArgs, base: Kernel, transpose: Kernel): TensorInfo {
  const { backend } = args;
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = args.attrs as MatMulAttrs;
  const rank = a.shape.length;
  const batch = size(a.shape.slice(0, -2));
  const splittable =
    a.dtype === 'float32' &&
    b.dtype === 'float32' &&
    rank > 2 &&
    b.shape.length === rank &&
    batch > 1 &&
    a.shape.slice(0, -2).every((d, i) => d === b.shape[i]);
  if (!splittable) return base(args);

  // Both sides as [batch, rows, inner] and [batch, inner, columns]: the layout the fast path takes.
  const swapLast = (x: TensorInfo): TensorInfo => {
    const perm = x.shape.map((_, i) => i);
    perm[rank - 1] = rank - 2;
    perm[rank - 2] = rank - 1;
    return transpose({ inputs: { x }, backend, attrs: { perm } });
  };
  const dispose = (...infos: Array<TensorInfo | undefined>) => {
    for (const info of infos) if (info) backend.disposeData(info.dataId);
  };
  let left: TensorInfo | undefined;
  let right: TensorInfo | undefined;
  let out: TensorInfo | undefined;
  try {
    left = transposeA ? swapLast(a) : a;
    right = transposeB ? swapLast(b) : b;
    const rows = left.shape[rank - 2] as number;
    const inner = left.shape[rank - 1] as number;
    const columns = right.shape[rank - 1] as number;
    if (right.shape[rank - 2] !== inner) return base(args); // the original kernel reports the mismatch
    out = backend.makeOutput([...a.shape.slice(0, -2), rows, columns], 'float32');
    const leftSize = rows * inner;
    const rightSize = inner * columns;
    const outSize = rows * columns;
    for (let i = 0; i < batch; i++) {
      let leftSlice: TensorInfo | undefined;
      let rightSlice: TensorInfo | undefined;
      let product: TensorInfo | undefined;
      try {
        leftSlice = backend.makeOutput([1, rows, inner], 'float32');
        rightSlice = backend.makeOutput([1, inner, columns], 'float32');
        // Views are taken after every allocation: an allocation may grow the WASM memory and detach older ones.
        backend.typedArrayFromHeap(leftSlice).set(backend.typedArrayFromHeap(left).subarray(i * leftSize, (i + 1) * leftSize));
        backend.typedArrayFromHeap(rightSlice).set(backend.typedArrayFromHeap(right).subarray(i * rightSize, (i + 1) * rightSize));
        product = base({ inputs: { a: leftSlice, b: rightSlice }, backend, attrs: { transposeA: false, transposeB: false } });
        backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(product), i * outSize);
      } finally {
        dispose(leftSlice, rightSlice, product);
      }
    }
    slicedProducts++;
    const result = out;
    out = undefined; // handed to the caller
    return result;
  } finally {
    dispose(left === a ? undefined : left, right === b ? undefined : right, out);
  }
}
