// Multi-level Critic (MLC): ONE MLP (d -> 256 -> 64 -> 1, ReLU) applied to each context c_0..c_L of the HPN, the
// per-level values combined with softmax weights over L+1 learned logits:  V(s) = Σ_j softmax(w)_j · MLP(c_j).
// levels = 1 (only c_0) is the "no MLC" ablation and the flat actor's critic.
import * as tf from "@tensorflow/tfjs";
import { matMul } from "./ops";
import { glorot, readVariables, writeVariables, zerosVar, type NamedWeights } from "./tfops";
import { Rng } from "../../core/rng";

export interface CriticConfig {
  dim: number; // d of the contexts
  contexts: number; // how many contexts the critic reads: L+1 (MLC) or 1 (c_0 only)
  hidden: [number, number];
}

export class MultiLevelCritic {
  readonly config: CriticConfig;
  private readonly vars: Record<string, tf.Variable>;

  constructor(config: CriticConfig, seed: number) {
    this.config = config;
    const rng = new Rng(seed);
    const [h1, h2] = config.hidden;
    this.vars = {
      w1: glorot([config.dim, h1], rng.seed()),
      b1: zerosVar([h1]),
      w2: glorot([h1, h2], rng.seed()),
      b2: zerosVar([h2]),
      w3: glorot([h2, 1], rng.seed()),
      b3: zerosVar([1]),
      levelLogits: zerosVar([config.contexts]), // uniform weights at start
    };
  }

  /** Softmax weights over the contexts [contexts]. */
  levelWeights(): tf.Tensor1D {
    return tf.softmax(this.vars.levelLogits) as tf.Tensor1D;
  }

  /** contexts [B, C, d] with C >= config.contexts (the first config.contexts are read) -> V(s) [B]. */
  value(contexts: tf.Tensor3D): tf.Tensor1D {
    return tf.tidy(() => {
      const [B, C, d] = contexts.shape;
      const n = this.config.contexts;
      if (C < n || d !== this.config.dim)
        throw new Error(`critic: contexts [${B}, ${C}, ${d}] but the critic reads ${n} x ${this.config.dim}`);
      const x = tf.reshape(tf.slice(contexts, [0, 0, 0], [B, n, d]), [B * n, d]);
      const h1 = tf.relu(tf.add(matMul(x, this.vars.w1), this.vars.b1));
      const h2 = tf.relu(tf.add(matMul(h1, this.vars.w2), this.vars.b2));
      const v = tf.reshape(tf.add(matMul(h2, this.vars.w3), this.vars.b3), [B, n]);
      return tf.sum(tf.mul(v, tf.expandDims(this.levelWeights(), 0)), 1) as tf.Tensor1D;
    });
  }

  variables(): tf.Variable[] {
    return Object.values(this.vars);
  }

  /** The level logits alone: the trainer gives them their own learning rate (a shared Adam step barely moves them). */
  levelVariables(): tf.Variable[] {
    return [this.vars.levelLogits];
  }

  /** Every variable but the level logits. */
  mlpVariables(): tf.Variable[] {
    return Object.entries(this.vars)
      .filter(([k]) => k !== "levelLogits")
      .map(([, v]) => v);
  }

  /** Sets the output bias, so V starts at a given value (the mean return) instead of 0. */
  setValueBias(v: number): void {
    tf.tidy(() => this.vars.b3.assign(tf.tensor1d([v])));
  }

  getWeights(): NamedWeights {
    return readVariables(this.vars);
  }

  setWeights(w: NamedWeights): void {
    writeVariables(this.vars, w, "critic");
  }

  dispose(): void {
    for (const v of Object.values(this.vars)) v.dispose();
  }
}

/** TD target y = r + gamma · (1 - done) · V'(s'). (The authors' code multiplied by done: a terminal state bootstrapped.) */
export function tdTarget(reward: tf.Tensor1D, done: tf.Tensor1D, nextValue: tf.Tensor1D, gamma: number): tf.Tensor1D {
  return tf.tidy(() => tf.add(reward, tf.mul(tf.mul(gamma, tf.sub(1, done)), nextValue)) as tf.Tensor1D);
}

/** target <- (1 - tau) · target + tau · online, variable by variable (same order). */
export function softUpdate(target: tf.Variable[], online: tf.Variable[], tau: number): void {
  if (target.length !== online.length) throw new Error(`softUpdate: ${target.length} target vs ${online.length} online variables`);
  tf.tidy(() => target.forEach((t, i) => t.assign(tf.add(tf.mul(t, 1 - tau), tf.mul(online[i], tau)))));
}
