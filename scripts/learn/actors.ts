// The two trainable actors, both on the HPN's SASRec encoder over SID histories (so every policy reads history the
// same way and a new item is representable in history for all of them):
//   HpnActor  — HSRL: L residual heads, item score = Σ_l log p_l(z_l(item))           (fixed output space L x V)
//   FlatActor — flat: one item-id head over the training catalog, score = log softmax  (output space = N items; an
//               item unseen in training has no output: it cannot be scored without retraining)
// Both expose the same loss pieces so one trainer (a2c.ts) drives them: log-prob of a slate, entropy, BC NLL.
import * as tf from "@tensorflow/tfjs";
import { Hpn, type HpnConfig } from "../model/hpn";
import { scoreItems } from "../../core/score";
import { sidHistoryBatch } from "./episodes";
import { glorot, readVariables, writeVariables, zerosVar, type NamedWeights } from "./tfops";

export interface ActorOutput {
  contexts: tf.Tensor3D; // [B, C, d]: c_0..c_L (HPN) or c_0 (flat)
  logp: tf.Tensor; // HPN: [B, L, V] per-level log-probs; flat: [B, N] log-probs over the catalog
}

export interface Actor {
  readonly kind: "hpn" | "flat";
  readonly numContexts: number;
  forward(histories: number[][], training: boolean): ActorOutput;
  /** Mean over the slate of log π(item) per user [B] (HPN: Σ_l log p_l(z_l)). slates: [B*K]. */
  slateLogProb(out: ActorOutput, slates: Int32Array, K: number): tf.Tensor1D;
  /** log π(target) per user [B]. */
  itemLogProb(out: ActorOutput, targets: Int32Array): tf.Tensor1D;
  entropy(out: ActorOutput): tf.Tensor1D;
  /** Item scores [B*N] for ranking (higher = better; -Infinity = cannot be recommended), from a forward output. */
  scoresFrom(out: ActorOutput): Float32Array;
  variables(): tf.Variable[];
  getWeights(): NamedWeights;
  setWeights(w: NamedWeights): void;
  clone(): Actor;
  dispose(): void;
}

/** One-hot counts of the slate's tokens, divided by K: [B, L, V]. */
function tokenCounts(slates: Int32Array, K: number, sidTokens: Int32Array, L: number, V: number): tf.Tensor3D {
  const B = slates.length / K;
  const c = new Float32Array(B * L * V);
  for (let b = 0; b < B; b++)
    for (let k = 0; k < K; k++) {
      const it = slates[b * K + k];
      for (let l = 0; l < L; l++) c[(b * L + l) * V + sidTokens[it * L + l]] += 1 / K;
    }
  return tf.tensor3d(c, [B, L, V]);
}

/** Item scores [B*N] of an actor for a batch of histories (one inference forward pass). */
export function actorItemScores(actor: Actor, histories: number[][]): Float32Array {
  const out = actor.forward(histories, false);
  const scores = actor.scoresFrom(out);
  tf.dispose([out.logp, out.contexts]);
  return scores;
}

export class HpnActor implements Actor {
  readonly kind = "hpn" as const;
  readonly numContexts: number;

  constructor(
    readonly hpn: Hpn,
    readonly sidTokens: Int32Array, // [N * L]
  ) {
    this.numContexts = hpn.config.levels + 1;
  }

  static create(config: HpnConfig, seed: number, sidTokens: Int32Array): HpnActor {
    return new HpnActor(new Hpn(config, seed), sidTokens);
  }

  private input(histories: number[][]) {
    const { historyLength: H, levels: L } = this.hpn.config;
    const { sids, length } = sidHistoryBatch(histories, this.sidTokens, H, L);
    return { sids: tf.tensor3d(sids, [histories.length, H, L], "int32"), length: tf.tensor1d(length, "int32") };
  }

  forward(histories: number[][], training: boolean): ActorOutput {
    const x = this.input(histories);
    const { logProbs, contexts } = this.hpn.forward(x.sids, x.length, training);
    tf.dispose([x.sids, x.length]);
    return { logp: logProbs, contexts };
  }

  slateLogProb(out: ActorOutput, slates: Int32Array, K: number): tf.Tensor1D {
    const { levels: L, vocab: V } = this.hpn.config;
    return tf.tidy(() => tf.sum(tf.mul(tokenCounts(slates, K, this.sidTokens, L, V), out.logp), [1, 2]) as tf.Tensor1D);
  }

  itemLogProb(out: ActorOutput, targets: Int32Array): tf.Tensor1D {
    const { levels: L, vocab: V } = this.hpn.config;
    return tf.tidy(() => tf.sum(tf.mul(tokenCounts(targets, 1, this.sidTokens, L, V), out.logp), [1, 2]) as tf.Tensor1D);
  }

  entropy(out: ActorOutput): tf.Tensor1D {
    return tf.tidy(() => tf.neg(tf.sum(tf.mul(tf.exp(out.logp), out.logp), [1, 2])) as tf.Tensor1D);
  }

  scoresFrom(out: ActorOutput): Float32Array {
    const { levels: L, vocab: V } = this.hpn.config;
    const N = this.sidTokens.length / L;
    const B = out.logp.shape[0];
    const lp = out.logp.dataSync() as Float32Array;
    const scores = new Float32Array(B * N);
    for (let b = 0; b < B; b++) {
      const s = scoreItems(lp, L, V, this.sidTokens, b * L * V);
      scores.set(s, b * N);
    }
    return scores;
  }

  variables(): tf.Variable[] {
    return this.hpn.variables();
  }
  getWeights(): NamedWeights {
    return this.hpn.getWeights();
  }
  setWeights(w: NamedWeights): void {
    this.hpn.setWeights(w);
  }
  clone(): HpnActor {
    const c = new HpnActor(new Hpn(this.hpn.config, this.hpn.seed), this.sidTokens);
    c.setWeights(this.getWeights());
    return c;
  }
  dispose(): void {
    this.hpn.dispose();
  }
}

export class FlatActor implements Actor {
  readonly kind = "flat" as const;
  readonly numContexts = 1;
  private readonly head: Record<string, tf.Variable>;
  private readonly outputMask: tf.Tensor1D; // 0 for items with an output, -1e9 for items without one

  constructor(
    readonly encoder: Hpn, // only its state encoder is used (c_0)
    readonly sidTokens: Int32Array,
    readonly hasOutput: Uint8Array, // items in the output space (fixed when the actor is created)
    seed: number,
  ) {
    const N = hasOutput.length;
    this.head = { w: glorot([encoder.config.dModel, N], seed), b: zerosVar([N]) };
    this.outputMask = tf.tensor1d(Float32Array.from(hasOutput, (h) => (h ? 0 : -1e9)));
  }

  static create(config: HpnConfig, seed: number, sidTokens: Int32Array, hasOutput: Uint8Array): FlatActor {
    return new FlatActor(new Hpn(config, seed), sidTokens, hasOutput, seed + 1);
  }

  forward(histories: number[][], training: boolean): ActorOutput {
    const { historyLength: H, levels: L } = this.encoder.config;
    const { sids, length } = sidHistoryBatch(histories, this.sidTokens, H, L);
    return tf.tidy(() => {
      const B = histories.length;
      const seq = this.encoder.encode(tf.tensor3d(sids, [B, H, L], "int32"), tf.tensor1d(length, "int32"), training);
      const d = seq.shape[2];
      const c0 = tf.reshape(tf.slice(seq, [0, H - 1, 0], [B, 1, d]), [B, d]);
      const logits = tf.add(tf.add(tf.matMul(c0, this.head.w), this.head.b), this.outputMask);
      return { logp: tf.logSoftmax(logits), contexts: tf.reshape(c0, [B, 1, d]) as tf.Tensor3D };
    });
  }

  private gatherLogp(out: ActorOutput, items: Int32Array, K: number): tf.Tensor1D {
    const B = items.length / K;
    const N = this.hasOutput.length;
    // one-hot weights instead of gather: gather has no gradient on wasm
    return tf.tidy(() => {
      const w = new Float32Array(B * N);
      for (let b = 0; b < B; b++) for (let k = 0; k < K; k++) w[b * N + items[b * K + k]] += 1 / K;
      return tf.sum(tf.mul(tf.tensor2d(w, [B, N]), out.logp), 1) as tf.Tensor1D;
    });
  }

  slateLogProb(out: ActorOutput, slates: Int32Array, K: number): tf.Tensor1D {
    return this.gatherLogp(out, slates, K);
  }

  itemLogProb(out: ActorOutput, targets: Int32Array): tf.Tensor1D {
    return this.gatherLogp(out, targets, 1);
  }

  entropy(out: ActorOutput): tf.Tensor1D {
    return tf.tidy(() => tf.neg(tf.sum(tf.mul(tf.exp(out.logp), out.logp), 1)) as tf.Tensor1D);
  }

  scoresFrom(out: ActorOutput): Float32Array {
    const N = this.hasOutput.length;
    const B = out.logp.shape[0];
    const scores = Float32Array.from(out.logp.dataSync() as Float32Array);
    for (let b = 0; b < B; b++) for (let i = 0; i < N; i++) if (!this.hasOutput[i]) scores[b * N + i] = -Infinity;
    return scores;
  }

  variables(): tf.Variable[] {
    return [...this.encoder.variables(), ...Object.values(this.head)];
  }
  getWeights(): NamedWeights {
    const w = this.encoder.getWeights();
    for (const [k, v] of Object.entries(readVariables(this.head))) w[`flat_head.${k}`] = v;
    return w;
  }
  setWeights(w: NamedWeights): void {
    const enc: NamedWeights = {};
    const head: NamedWeights = {};
    for (const [k, v] of Object.entries(w)) {
      if (k.startsWith("flat_head.")) head[k.slice("flat_head.".length)] = v;
      else enc[k] = v;
    }
    this.encoder.setWeights(enc);
    writeVariables(this.head, head, "flat actor head");
  }
  clone(): FlatActor {
    const c = new FlatActor(new Hpn(this.encoder.config, this.encoder.seed), this.sidTokens, this.hasOutput, 0);
    c.setWeights(this.getWeights());
    return c;
  }
  dispose(): void {
    this.encoder.dispose();
    for (const v of Object.values(this.head)) v.dispose();
    this.outputMask.dispose();
  }
}

/** Rows [start, start+size) of an actor output (the trainer batches RL states and BC examples in one forward). */
export function sliceOutput(out: ActorOutput, start: number, size: number): ActorOutput {
  const sl = (t: tf.Tensor) => tf.slice(t, [start, ...t.shape.slice(1).map(() => 0)], [size, ...t.shape.slice(1)]);
  return { logp: sl(out.logp), contexts: sl(out.contexts) as tf.Tensor3D };
}
