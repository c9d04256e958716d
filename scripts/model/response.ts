// User-response model: the simulator's core (HAC-style environment). Given a user's positive history and a candidate
// item, it outputs a click LOGIT: attention of the candidate over the history, then an MLP. Trained with
// BCE-with-logits applied to the logits themselves (the authors' code applied it to an already-sigmoided output).
//
// item vector e(i) = id embedding + projected item features (features optional); padding is the extra row N.
import * as tf from "@tensorflow/tfjs";
import { matMul, matMulBT, matMulConstA } from "./ops";
import { unitFloat32 } from "../../core/item-encoder";
import { Rng } from "../../core/rng";
import { gatherRows, glorot, readVariables, writeVariables, zerosVar, type NamedWeights } from "./tfops";

export interface ResponseConfig {
  numItems: number; // N (the padding index is N)
  featureDim: number; // 0 = id embeddings only
  dim: number;
  hidden: number;
  historyLength: number; // H
}

export class ResponseModel {
  readonly config: ResponseConfig;
  private readonly vars: Record<string, tf.Variable>;
  private features: tf.Tensor2D | null = null; // [N+1, D] constant, L2-normalised rows

  constructor(config: ResponseConfig, seed: number, features?: Float32Array[]) {
    this.config = config;
    const { numItems: N, featureDim: D, dim: d, hidden } = config;
    const rng = new Rng(seed);
    const next = () => rng.seed();
    this.vars = {
      itemEmb: tf.variable(tf.randomNormal([N + 1, d], 0, 0.05, "float32", next()), true),
      itemBias: zerosVar([N + 1]),
      wq: glorot([d, d], next()),
      wk: glorot([d, d], next()),
      wv: glorot([d, d], next()),
      w1: glorot([3 * d, hidden], next()),
      b1: zerosVar([hidden]),
      w2: glorot([hidden, 1], next()),
      b2: zerosVar([1]),
    };
    if (D > 0) {
      this.vars.featProj = glorot([D, d], next());
      if (!features || features.length !== N) throw new Error(`response model: need ${N} feature vectors of dim ${D}`);
      const flat = new Float32Array((N + 1) * D);
      features.forEach((f, i) => {
        if (f.length !== D) throw new Error(`response model: item ${i} has ${f.length} features, expected ${D}`);
        unitFloat32(f, flat.subarray(i * D, (i + 1) * D));
      });
      this.features = tf.tensor2d(flat, [N + 1, D]);
    }
  }

  private embed(items: tf.Tensor): tf.Tensor {
    const e = gatherRows(this.vars.itemEmb, items);
    if (!this.features) return e;
    const f = gatherRows(this.features, tf.reshape(items, [-1]));
    const p = tf.reshape(matMulConstA(f, this.vars.featProj), e.shape);
    return tf.add(e, p);
  }

  /** history int32 [B, H] right-aligned (pad = N), length int32 [B], items int32 [B] -> click logits [B]. */
  logits(history: tf.Tensor2D, length: tf.Tensor1D, items: tf.Tensor1D): tf.Tensor1D {
    return tf.tidy(() => tf.reshape(this.slateLogits(history, length, tf.reshape(items, [-1, 1]) as tf.Tensor2D), [-1]) as tf.Tensor1D);
  }

  /**
   * Logits for K candidates per user: items int32 [B, K] -> [B, K]. The history is embedded once per user (not once
   * per candidate): the simulator scores a whole slate per user.
   */
  slateLogits(history: tf.Tensor2D, length: tf.Tensor1D, items: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const { dim: d, historyLength: H } = this.config;
      const [B, K] = items.shape;
      const eItem = tf.reshape(this.embed(items), [B, K, d]);
      const eHist = tf.reshape(this.embed(history), [B * H, d]);
      const k = tf.reshape(matMul(eHist, this.vars.wk), [B, H, d]);
      const v = tf.reshape(matMul(eHist, this.vars.wv), [B, H, d]);
      const q = tf.reshape(matMul(tf.reshape(eItem, [B * K, d]), this.vars.wq), [B, K, d]);
      const scores = tf.div(matMulBT(q, k), Math.sqrt(d)); // [B, K, H]
      // valid positions are the last `length` ones (right-aligned)
      // (the additive mask is built in JS: tfjs-wasm's broadcasting comparison cost more than the rest of the mask)
      const att = tf.softmax(tf.add(scores, tf.reshape(historyBias(length.dataSync(), H), [B, 1, H])), -1);
      const any = tf.reshape(tf.cast(tf.greater(length, 0), "float32"), [B, 1, 1]); // cold user: no pooled history
      const pooled = tf.mul(matMul(att, v), any); // [B, K, d]
      const x = tf.reshape(tf.concat([eItem, pooled, tf.mul(eItem, pooled)], 2), [B * K, 3 * d]);
      const h = tf.relu(tf.add(matMul(x, this.vars.w1), this.vars.b1));
      const out = tf.add(
        tf.reshape(tf.add(matMul(h, this.vars.w2), this.vars.b2), [B, K]),
        tf.reshape(gatherRows(this.vars.itemBias, items), [B, K]),
      );
      return out as tf.Tensor2D;
    });
  }

  variables(): tf.Variable[] {
    return Object.values(this.vars);
  }

  getWeights(): NamedWeights {
    return readVariables(this.vars);
  }

  setWeights(w: NamedWeights): void {
    writeVariables(this.vars, w, "response model");
  }

  dispose(): void {
    for (const v of Object.values(this.vars)) v.dispose();
    this.features?.dispose();
  }
}

/** Additive attention bias [B, H] of right-aligned histories: 0 on the last length[b] positions, -1e9 before them. */
function historyBias(length: ArrayLike<number>, H: number): tf.Tensor2D {
  const bias = new Float32Array(length.length * H);
  for (let b = 0; b < length.length; b++) bias.fill(-1e9, b * H, b * H + Math.max(0, H - length[b]));
  return tf.tensor2d(bias, [length.length, H]);
}
