// model/tfops rowSumOp (the catalog-score op): the same values and gradient as gather + reshape-sum, and its gradient
// against central finite differences.
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../../scripts/model/backend";
import { gatherRows, rowSumOp } from "../../scripts/model/tfops";
import { Rng } from "../../core/rng";

beforeAll(async () => {
  await initBackend();
});

describe("rowSumOp", () => {
  const L = 3,
    V = 5,
    N = 40,
    B = 4;
  const rng = new Rng(3);
  const rows = Int32Array.from({ length: N * L }, (_, j) => (j % L) * V + rng.int(V));
  const op = rowSumOp(rows, L);
  const ref = (x: tf.Tensor2D) => tf.transpose(tf.sum(tf.reshape(gatherRows(tf.transpose(x), tf.tensor1d(rows, "int32")), [N, L, B]), 1));
  const input = () => tf.randomNormal([B, L * V], 0, 1, "float32", 1) as tf.Tensor2D;
  const loss = (f: (x: tf.Tensor2D) => tf.Tensor) => (x: tf.Tensor) =>
    tf.sum(tf.mul(tf.logSoftmax(f(x as tf.Tensor2D)), tf.randomNormal([B, N], 0, 1, "float32", 2))) as tf.Scalar;

  it("matches gather + sum in value and gradient", () => {
    const x = input();
    const a = tf.valueAndGrad(loss(op))(x);
    const b = tf.valueAndGrad(loss(ref))(x);
    expect(a.value.dataSync()[0]).toBeCloseTo(b.value.dataSync()[0], 4);
    const d = tf.max(tf.abs(tf.sub(a.grad, b.grad))).dataSync()[0];
    expect(d).toBeLessThan(1e-5);
  });

  it("has the finite-difference gradient", () => {
    const x = input();
    const g = tf.grad(loss(op))(x).dataSync();
    const xs = x.dataSync();
    const f = (v: Float32Array) => tf.tidy(() => loss(op)(tf.tensor2d(v, [B, L * V])).dataSync()[0]);
    const eps = 1e-2;
    for (const j of [0, 3, 7, 11, 14, 17, 29, 44, 59]) {
      const p = Float32Array.from(xs);
      const m = Float32Array.from(xs);
      p[j] += eps;
      m[j] -= eps;
      expect(g[j]).toBeCloseTo((f(p) - f(m)) / (2 * eps), 2);
    }
  });
});
