// Small tfjs helpers for the learning code. The wasm backend has no gradient for gather (UnsortedSegmentSum is
// missing), so embedding lookups go through gatherRows: forward = gather, backward = scatterND (which sums duplicates).
import * as tf from "@tensorflow/tfjs";

const gatherRowsOp = tf.customGrad(((table: tf.Tensor, indices: tf.Tensor, save: tf.GradSaveFunc) => {
  save([indices]);
  return {
    value: table.dtype === "float32" ? gatherJs(table, indices) : tf.gather(table, indices),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const g = dy as tf.Tensor;
      const idx = saved[0];
      const flatIdx = tf.reshape(idx, [-1, 1]);
      const flatDy = tf.reshape(g, [idx.size, ...table.shape.slice(1)]);
      return [tf.scatterND(flatIdx, flatDy, table.shape), tf.zerosLike(idx)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]);

/** Rows of a float32 table copied in JS: tfjs-wasm's GatherV2 took ~20 ms for 12,800 rows of 32, this ~1-3 ms. */
function gatherJs(table: tf.Tensor, indices: tf.Tensor): tf.Tensor {
  const [rows, ...rest] = table.shape;
  const w = rest.reduce((a, b) => a * b, 1);
  const t = table.dataSync() as Float32Array;
  const ix = indices.dataSync();
  const out = new Float32Array(ix.length * w);
  for (let r = 0; r < ix.length; r++) {
    const i = ix[r];
    if (!(i >= 0 && i < rows)) throw new Error(`gatherRows: index ${i} is out of range [0, ${rows})`);
    out.set(t.subarray(i * w, (i + 1) * w), r * w);
  }
  return tf.tensor(out, [ix.length, ...rest], "float32");
}

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

/** Weights of a part nested under `prefix` ("prior.", "flat_head."), as one checkpoint stores a model and its parts. */
export function withPrefix(prefix: string, w: NamedWeights): NamedWeights {
  return Object.fromEntries(Object.entries(w).map(([k, v]) => [`${prefix}${k}`, v]));
}

/** Splits checkpoint weights into those under `prefix` (prefix removed) and the rest. */
export function splitPrefix(prefix: string, w: NamedWeights): { part: NamedWeights; rest: NamedWeights } {
  const part: NamedWeights = {};
  const rest: NamedWeights = {};
  for (const [k, v] of Object.entries(w)) {
    if (k.startsWith(prefix)) part[k.slice(prefix.length)] = v;
    else rest[k] = v;
  }
  return { part, rest };
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

/**
 * out[b, i] = Σ_l x[b, rows[i·L + l]] for x [B, C] and rows [N·L]: every catalog item's score from per-level token
 * log-probs, as one op with a JS kernel each way (backward: dx[b, rows[i·L + l]] += dy[b, i]). It replaces a gather
 * of [N·L, B] rows, a reshape-sum and two transposes, which cost ~20x more on tfjs-wasm at N ~ 10,000. The sum is
 * the same math (float64 accumulation of the L terms, then float32).
 */
export function rowSumOp(rows: Int32Array, L: number): (x: tf.Tensor2D) => tf.Tensor2D {
  const N = rows.length / L;
  const op = tf.customGrad(((x: tf.Tensor) => {
    const [B, C] = x.shape;
    const xs = x.dataSync() as Float32Array;
    const out = new Float32Array(B * N);
    for (let b = 0; b < B; b++) {
      const xo = b * C;
      const oo = b * N;
      for (let i = 0; i < N; i++) {
        let s = 0;
        for (let l = 0; l < L; l++) s += xs[xo + rows[i * L + l]];
        out[oo + i] = s;
      }
    }
    return {
      value: tf.tensor2d(out, [B, N]),
      gradFunc: (dy: tf.Tensor | tf.Tensor[]) => {
        const g = (dy as tf.Tensor).dataSync() as Float32Array;
        const dx = new Float32Array(B * C);
        for (let b = 0; b < B; b++) {
          const xo = b * C;
          const go = b * N;
          for (let i = 0; i < N; i++) {
            const v = g[go + i];
            for (let l = 0; l < L; l++) dx[xo + rows[i * L + l]] += v;
          }
        }
        return [tf.tensor2d(dx, [B, C])];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (x) => op(x) as tf.Tensor2D;
}

/**
 * out[b, k] = x[b, cols[b·K + k]] for x [B, N]: each row's slate entries, with a JS kernel each way (backward scatters
 * dy into a zero [B, N]). A one-hot [B, K, N] weight tensor would do the same at K·N floats per row.
 */
export function pickColumns(x: tf.Tensor2D, cols: Int32Array, K: number): tf.Tensor2D {
  const [B, N] = x.shape;
  if (cols.length !== B * K) throw new Error(`pickColumns: ${cols.length} columns for ${B} rows x ${K}`);
  const op = tf.customGrad(((t: tf.Tensor) => {
    const xs = t.dataSync() as Float32Array;
    const out = new Float32Array(B * K);
    for (let b = 0; b < B; b++) for (let k = 0; k < K; k++) out[b * K + k] = xs[b * N + cols[b * K + k]];
    return {
      value: tf.tensor2d(out, [B, K]),
      gradFunc: (dy: tf.Tensor | tf.Tensor[]) => {
        const g = (dy as tf.Tensor).dataSync() as Float32Array;
        const dx = new Float32Array(B * N);
        for (let b = 0; b < B; b++) for (let k = 0; k < K; k++) dx[b * N + cols[b * K + k]] += g[b * K + k];
        return [tf.tensor2d(dx, [B, N])];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x) as tf.Tensor2D;
}
