// Small tfjs helpers for the learning code. The wasm backend has no gradient for gather (UnsortedSegmentSum is
// missing), so embedding lookups go through gatherRows: forward = gather, backward = scatterND (which sums duplicates).
import * as tf from "@tensorflow/tfjs";

const gatherRowsOp = tf.customGrad(((table: tf.Tensor, indices: tf.Tensor, save: tf.GradSaveFunc) => {
  save([indices]);
  return {
    value: tf.gather(table, indices),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const g = dy as tf.Tensor;
      const idx = saved[0];
      const flatIdx = tf.reshape(idx, [-1, 1]);
      const flatDy = tf.reshape(g, [idx.size, ...table.shape.slice(1)]);
      return [tf.scatterND(flatIdx, flatDy, table.shape), tf.zerosLike(idx)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]);

/** table[indices] along axis 0, differentiable w.r.t. table on every backend. indices: int32, any shape. */
export function gatherRows(table: tf.Tensor, indices: tf.Tensor): tf.Tensor {
  const flat = tf.reshape(indices, [-1]);
  const rows = gatherRowsOp(table, flat) as tf.Tensor;
  return tf.reshape(rows, [...indices.shape, ...table.shape.slice(1)]);
}

/** Glorot-uniform variable from a seed (reproducible init). */
export function glorot(shape: number[], seed: number, name?: string): tf.Variable {
  const fanIn = shape.length > 1 ? shape[shape.length - 2] : shape[0];
  const fanOut = shape[shape.length - 1];
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  return tf.variable(tf.randomUniform(shape, -limit, limit, "float32", seed), true, name);
}

export function zerosVar(shape: number[], name?: string): tf.Variable {
  return tf.variable(tf.zeros(shape), true, name);
}

export type NamedWeights = Record<string, { shape: number[]; data: Float32Array }>;

export function readVariables(vars: Record<string, tf.Variable>): NamedWeights {
  const out: NamedWeights = {};
  for (const [k, v] of Object.entries(vars)) out[k] = { shape: v.shape.slice(), data: v.dataSync() as Float32Array };
  return out;
}

export function writeVariables(vars: Record<string, tf.Variable>, w: NamedWeights, what: string): void {
  for (const [k, v] of Object.entries(vars)) {
    const src = w[k];
    if (!src) throw new Error(`${what}: weights have no "${k}"`);
    if (src.shape.join("x") !== v.shape.join("x")) {
      throw new Error(`${what}: "${k}" has shape [${src.shape}], expected [${v.shape}]`);
    }
    v.assign(tf.tensor(src.data, v.shape));
  }
}

/** What optimizer.applyGradients takes (tfjs does not export the type). */
export type GradMap = { [name: string]: tf.Variable };

/** Clip gradients by global norm (keeps early A2C steps from blowing up the encoder). */
export function clipByGlobalNorm(grads: tf.NamedTensorMap, maxNorm: number): GradMap {
  return tf.tidy(() => {
    const sq = Object.values(grads).map((g) => tf.sum(tf.square(g)));
    const norm = Math.sqrt((tf.addN(sq).dataSync() as Float32Array)[0]);
    if (!(norm > maxNorm)) return { ...grads } as GradMap;
    const s = maxNorm / norm;
    const out: GradMap = {};
    for (const [k, g] of Object.entries(grads)) out[k] = tf.mul(g, s);
    return out;
  });
}
