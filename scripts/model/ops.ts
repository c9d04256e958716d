// A matMul whose gradient avoids tfjs-backend-wasm's slow transposed BatchMatMul.
// Measured here (one thread): [3200,32]x[32,128] takes 0.6 ms, but the same product with transposeA or transposeB set,
// as tfjs's built-in matMul gradient computes it, takes ~10 ms (it leaves the XNNPACK path). Transposing explicitly
// first costs ~0.3 ms, so the backward pass of every linear layer gets ~10x faster.
import * as tf from "@tensorflow/tfjs";

const swapLast = (t: tf.Tensor) => {
  const r = t.rank;
  const perm = [...Array(r).keys()];
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return tf.transpose(t, perm);
};

/**
 * g · bᵀ (or with transposeA aᵀ · g) for a gradient. A contracted axis of length 1 (the response model's single
 * candidate per row) makes it a batch of outer products: a broadcast multiply, not B tiny BatchMatMuls (~5 ms at B 256).
 */
function contract(a: tf.Tensor, b: tf.Tensor, transposeA = false): tf.Tensor {
  const r = a.rank;
  if (transposeA ? a.shape[r - 2] === 1 : b.shape[r - 1] === 1) {
    const col = transposeA ? tf.reshape(a, [...a.shape.slice(0, r - 2), a.shape[r - 1], 1]) : a;
    const row = transposeA ? b : tf.reshape(b, [...b.shape.slice(0, r - 2), 1, b.shape[r - 2]]);
    return tf.mul(col, row);
  }
  return transposeA ? tf.matMul(swapLast(a), b) : tf.matMul(a, swapLast(b));
}

// (tfjs types customGrad's function as variadic tensors + save; the cast states our two-input form.)
const fastMatMulOp = tf.customGrad(((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const g = dy as tf.Tensor;
      const [sa, sb] = saved;
      return [contract(g, sb), contract(sa, g, true)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]);

// The same product when a is a constant (item features): no gradient for a, which would be as large as a forward pass.
const constAMatMulOp = tf.customGrad(((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => [tf.zerosLike(saved[0]), tf.matMul(swapLast(saved[0]), dy as tf.Tensor)],
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]);

/** a · b (same rank, rank >= 2, equal batch dims), with a gradient built from explicit transposes. */
export function matMul(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (a.rank !== b.rank) throw new Error(`matMul: ranks ${a.rank} and ${b.rank} differ`);
  return fastMatMulOp(a, b) as tf.Tensor;
}

/** a · b where a is a constant (its gradient is zeros, not computed). */
export function matMulConstA(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (a.rank !== b.rank) throw new Error(`matMulConstA: ranks ${a.rank} and ${b.rank} differ`);
  return constAMatMulOp(a, b) as tf.Tensor;
}

/** a · bᵀ over the last two axes (attention scores), through the same fast path. */
export function matMulBT(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return matMul(a, swapLast(b));
}
