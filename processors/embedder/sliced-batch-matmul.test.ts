// The sliced BatchMatMul kernel on the real WASM backend: same products as the backend's own kernel, nothing left allocated.
import * as tf from '@energetic-ai/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installSlicedBatchMatMul, slicedBatchMatMulCount, uninstallSlicedBatchMatMul } from './sliced-batch-matmul.ts';

// The package's types name a module it does not ship; the handful of ops used here, as they behave.
interface Tensor {
  readonly shape: number[];
  dataSync(): Float32Array;
  dispose(): void;
}
interface Ops {
  ready(): Promise<void>;
  getBackend(): string;
  tensor(values: Float32Array, shape: number[]): Tensor;
  matMul(a: Tensor, b: Tensor, transposeA: boolean, transposeB: boolean): Tensor;
  memory(): { numTensors: number; numBytes: number };
  engine(): { backend: { numDataIds(): number } };
}
const ops = tf as unknown as Ops;

let seed = 7;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
const tensor = (shape: number[]) => ops.tensor(Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, random), shape);

/** The product through whatever kernel is registered now. */
const product = (a: Tensor, b: Tensor, transposeA: boolean, transposeB: boolean) => {
  const out = ops.matMul(a, b, transposeA, transposeB);
  const values = out.dataSync().slice();
  const shape = out.shape;
  out.dispose();
  return { values, shape };
};

beforeAll(async () => {
  await ops.ready();
});

afterAll(() => {
  uninstallSlicedBatchMatMul();
});

describe('sliced BatchMatMul on the wasm backend', () => {
  // [left shape, right shape, transposeA, transposeB]: attention's two products, transposes, rank 3, a broadcast batch.
  const cases: [number[], number[], boolean, boolean][] = [
    [[2, 4, 17, 16], [2, 4, 17, 16], false, true],
    [[2, 4, 17, 17], [2, 4, 17, 16], false, false],
    [[3, 9, 5], [3, 9, 7], true, false],
    [[3, 5, 9], [3, 7, 9], false, true],
    [[3, 9, 5], [3, 7, 9], true, true],
    [[5, 8, 6], [1, 6, 4], false, false],
    [[1, 8, 6], [1, 6, 4], false, false],
    [[8, 6], [6, 4], false, false],
  ];

  it('gives the backend kernel’s products, to float rounding, for every shape and transpose', async () => {
    const inputs = cases.map(([sa, sb, ta, tb]) => ({ a: tensor(sa), b: tensor(sb), ta, tb }));
    uninstallSlicedBatchMatMul();
    const expected = inputs.map(({ a, b, ta, tb }) => product(a, b, ta, tb));
    installSlicedBatchMatMul();
    const before = slicedBatchMatMulCount();
    const actual = inputs.map(({ a, b, ta, tb }) => product(a, b, ta, tb));
    // The five products with a shared batch of more than one went through slices; the broadcast and single ones did not.
    expect(slicedBatchMatMulCount() - before).toBe(5);
    actual.forEach((got, i) => {
      const want = expected[i] as { values: Float32Array; shape: number[] };
      expect(got.shape, `case ${i}`).toEqual(want.shape);
      let worst = 0;
      got.values.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - (want.values[j] as number)))));
      expect(worst, `case ${i}`).toBeLessThan(1e-5);
    });
    for (const { a, b } of inputs) (a.dispose(), b.dispose());
  });

  it('multiplies each matrix by its own partner, not by the first one (the backend caches packed right-hand sides)', () => {
    installSlicedBatchMatMul();
    // Identical left matrices times different right ones: a reused right-hand side would make every result the same.
    const left = ops.tensor(new Float32Array(4 * 3 * 2).fill(1), [4, 3, 2]);
    const right = ops.tensor(Float32Array.from({ length: 4 * 2 * 2 }, (_, i) => Math.floor(i / 4) + 1), [4, 2, 2]);
    const { values } = product(left, right, false, false);
    expect([values[0], values[6], values[12], values[18]]).toEqual([2, 4, 6, 8]);
    left.dispose();
    right.dispose();
  });

  it('leaves no tensor or backend data behind', () => {
    installSlicedBatchMatMul();
    const a = tensor([6, 4, 12, 8]);
    const b = tensor([6, 4, 12, 8]);
    product(a, b, false, true);
    const tensors = ops.memory().numTensors;
    const data = ops.engine().backend.numDataIds();
    for (let i = 0; i < 20; i++) product(a, b, false, true);
    expect(ops.memory().numTensors).toBe(tensors);
    expect(ops.engine().backend.numDataIds()).toBe(data);
    a.dispose();
    b.dispose();
  });
});
