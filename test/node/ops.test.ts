// model/ops matMul and matMulConstA: the same values and gradients as tfjs's own matMul, including the batched
// outer-product case (a contracted axis of length 1) whose gradient is a broadcast multiply.
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../../scripts/model/backend";
import { matMul, matMulConstA } from "../../scripts/model/ops";

beforeAll(async () => {
  await initBackend();
});

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];

describe("matMul gradients", () => {
  // [a shape, b shape]: plain, batched, one row per batch (M = 1, the response model's query), one column (N = 1)
  const cases: [number[], number[]][] = [
    [
      [7, 5],
      [5, 3],
    ],
    [
      [4, 6, 5],
      [4, 5, 3],
    ],
    [
      [4, 1, 5],
      [4, 5, 6],
    ],
    [
      [2, 3, 4, 5],
      [2, 3, 5, 1],
    ],
  ];
  for (const [sa, sb] of cases)
    it(`matches tf.matMul for [${sa}] x [${sb}]`, () => {
      const a = tf.randomNormal(sa, 0, 1, "float32", 1);
      const b = tf.randomNormal(sb, 0, 1, "float32", 2);
      const w = tf.randomNormal([...sa.slice(0, -1), sb[sb.length - 1]], 0, 1, "float32", 3);
      const loss = (f: (x: tf.Tensor, y: tf.Tensor) => tf.Tensor) => (x: tf.Tensor, y: tf.Tensor) =>
        tf.sum(tf.mul(f(x, y), w)) as tf.Scalar;
      const [ga, gb] = tf.grads(loss(matMul))([a, b]);
      const [ra, rb] = tf.grads(loss((x, y) => tf.matMul(x, y)))([a, b]);
      expect(maxDiff(ga, ra)).toBeLessThan(1e-4);
      expect(maxDiff(gb, rb)).toBeLessThan(1e-4);
      const [, gc] = tf.grads(loss(matMulConstA))([a, b]);
      expect(maxDiff(gc, rb)).toBeLessThan(1e-4);
      expect(maxDiff(matMulConstA(a, b), tf.matMul(a, b))).toBeLessThan(1e-5);
    });
});
