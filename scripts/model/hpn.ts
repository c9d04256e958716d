// The Hierarchical Policy Network (HPN) of HSRL, in tfjs, in one file.
//
//   history of H items, each a SID (z_1..z_L)         sids [B, H, L], right-aligned; length [B] valid items
//     -> item embedding  = Σ_l tok_in_l[z_l]           (a new item with only a SID is representable too)
//     -> + learned positional embedding, padding rows zeroed
//     -> causal transformer (pre-LN blocks)            SASRec-style state encoder
//     -> c_0 = final LayerNorm output at position H-1  (the newest item)
//   for l = 1..L:
//     logits_l = head_l(c_{l-1});  logp_l = log_softmax(logits_l / tau);  p_l = exp(logp_l)
//     e_l = p_l · tok_out_l                            (the *expected* token embedding, so no chosen prefix needed)
//     c_l = LayerNorm_l(c_{l-1} - e_l)                 (residual: the state the next, finer level sees)
//   score(item) = Σ_l logp_l[z_l(item)]               (core/score.ts)
//
// residual: false is the ablation where every head reads c_0 (and c_1..c_L are just c_0: there is no residual state).
//
// The autoregressive variant (the authors' blog; prefixLogProbs / childStep) subtracts the CHOSEN token's embedding:
//   c_l = LayerNorm_l(c_{l-1} - tok_out_l[z_l]),  p_l(. | z_<l) = softmax over the tokens that exist under z_<l
// so score(item) = Σ_l log p_l(z_l | z_<l) is a distribution over the catalog's SIDs that can express per-item
// preferences. Same weights as above; the ONNX contract (per-level log-probs [B, L, V]) cannot carry it yet.
//
// Masking. Attention key j is open to query i iff j <= i (causal) and (j is a valid history row, or j == i). Padding
// rows have their item embedding zeroed, so their content never matters. A cold user (length 0) therefore has a last
// position that attends only to itself and sees just the positional embedding of slot H-1: a learned "cold-start"
// state, always finite. The additive mask is -1e9 (not -Infinity), so no row of the softmax can be NaN.
//
// Trainable-path traps of tfjs-backend-wasm: `gather` has no gradient (embeddings are one-hot · matrix); `bandPart` has
// no gradient, and its logical and broadcasting ops are slow (the masks are built in JS from the lengths: attentionMasks);
// its transposed matMuls are ~10x slower than plain ones (every product goes through ./ops matMul, whose gradient
// transposes explicitly).
// The ONNX exporter (scripts/export/hpn-graph.ts) rebuilds exactly this computation from getWeights(); keep the two in step.
import * as tf from "@tensorflow/tfjs";
import { matMul, matMulBT } from "./ops";
import { gatherRows, type NamedWeights } from "./tfops";

export type { NamedWeights }; // one definition (model/tfops); the exporter imports it from here

export interface HpnConfig {
  levels: number; // L: SID tokens per item
  vocab: number; // V: codebook size per level
  historyLength: number; // H
  dModel: number;
  heads: number;
  layers: number;
  ff: number;
  dropout: number;
  tau: number; // softmax temperature of the heads
  residual: boolean; // false = ablation: every head reads c_0
}

export const DEFAULT_HPN_CONFIG: Omit<HpnConfig, "levels" | "vocab"> = {
  historyLength: 50,
  dModel: 32,
  heads: 4,
  layers: 2,
  ff: 128,
  dropout: 0.1,
  tau: 1,
  residual: true,
};

export const LN_EPS = 1e-5;
export const MASK_NEG = -1e9;

/** Checks a config; throws one clear line naming the bad field. */
export function validateHpnConfig(c: HpnConfig): void {
  const ints: (keyof HpnConfig)[] = ["levels", "vocab", "historyLength", "dModel", "heads", "layers", "ff"];
  for (const k of ints) {
    const v = c[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1)
      throw new Error(`HpnConfig.${k} must be a positive integer, got ${String(v)}`);
  }
  if (c.dModel % c.heads !== 0) throw new Error(`HpnConfig.dModel (${c.dModel}) must be divisible by heads (${c.heads})`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new Error(`HpnConfig.dropout must be in [0, 1), got ${c.dropout}`);
  if (!(c.tau > 0)) throw new Error(`HpnConfig.tau must be > 0, got ${c.tau}`);
  if (typeof c.residual !== "boolean") throw new Error(`HpnConfig.residual must be a boolean`);
}

/** Parameter names in a fixed order (the order of variables() and of the checkpoint file). */
export function hpnWeightShapes(c: HpnConfig): [string, number[]][] {
  const { levels: L, vocab: V, historyLength: H, dModel: d, ff } = c;
  const s: [string, number[]][] = [];
  for (let l = 0; l < L; l++) s.push([`tok_in.${l}`, [V, d]]);
  s.push(["pos", [H, d]]);
  for (let i = 0; i < c.layers; i++) {
    const p = `block.${i}`;
    s.push([`${p}.ln1.g`, [d]], [`${p}.ln1.b`, [d]]);
    for (const m of ["q", "k", "v", "proj"]) s.push([`${p}.attn.${m}.w`, [d, d]], [`${p}.attn.${m}.b`, [d]]);
    s.push([`${p}.ln2.g`, [d]], [`${p}.ln2.b`, [d]]);
    s.push([`${p}.mlp.fc.w`, [d, ff]], [`${p}.mlp.fc.b`, [ff]], [`${p}.mlp.proj.w`, [ff, d]], [`${p}.mlp.proj.b`, [d]]);
  }
  s.push(["ln_f.g", [d]], ["ln_f.b", [d]]);
  for (let l = 0; l < L; l++) {
    s.push([`head.${l}.w`, [d, V]], [`head.${l}.b`, [V]]);
    if (c.residual) s.push([`tok_out.${l}`, [V, d]], [`head.${l}.ln.g`, [d]], [`head.${l}.ln.b`, [d]]);
  }
  return s;
}

export class Hpn {
  readonly config: HpnConfig;
  readonly seed: number;
  private readonly w = new Map<string, tf.Variable>();
  private dropoutCalls = 0; // makes each dropout mask distinct yet reproducible from the seed

  constructor(config: HpnConfig, seed: number) {
    validateHpnConfig(config);
    this.config = { ...config };
    this.seed = seed;
    let k = 0;
    for (const [name, shape] of hpnWeightShapes(config)) {
      const init = name.endsWith(".g")
        ? tf.ones(shape)
        : name.endsWith(".b")
          ? tf.zeros(shape)
          : tf.randomNormal(shape, 0, 0.02, "float32", seed * 7919 + k++); // minGPT-style init
      this.w.set(name, tf.variable(init, true, `hpn/${name}/${seed}/${uid++}`));
      init.dispose();
    }
  }

  /** Full forward pass: per-level log-probs [B, L, V] and contexts c_0..c_L [B, L+1, d]. */
  forward(sids: tf.Tensor3D, length: tf.Tensor1D, training: boolean): { logProbs: tf.Tensor3D; contexts: tf.Tensor3D } {
    return tf.tidy(() => {
      const seq = this.encode(sids, length, training, true); // [B, 1, d]
      const [B, , d] = seq.shape;
      const c0 = seq.reshape([B, d]) as tf.Tensor2D;
      return this.heads(c0);
    });
  }

  /**
   * The state encoder's output at every position [B, H, d] (position i = state after the history up to row i), or with
   * lastOnly just the last one [B, 1, d] (cheaper: forward() needs only c_0). A trainer may use all positions.
   */
  encode(sids: tf.Tensor3D, length: tf.Tensor1D, training: boolean, lastOnly = false): tf.Tensor3D {
    const { levels: L, vocab: V, historyLength: H, dModel: d, heads: nh } = this.config;
    if (sids.rank !== 3 || sids.shape[1] !== H || sids.shape[2] !== L)
      throw new Error(`Hpn: sids must be [B, ${H}, ${L}], got [${sids.shape.join(", ")}]`);
    const B = sids.shape[0];
    if (length.rank !== 1 || length.shape[0] !== B) throw new Error(`Hpn: length must be [${B}], got [${length.shape.join(", ")}]`);
    return tf.tidy(() => {
      // Valid rows are the last `length` positions (right-aligned history). The masks are built in JS from the lengths:
      // on tfjs-wasm the broadcasting maximum over [B, H, H] alone cost ~45 ms at B 128 (the same 0 / -1e9 values).
      const masks = attentionMasks(length.dataSync() as Int32Array, H);
      const valid = tf.tensor2d(masks.valid, [B, H]);
      const bias = tf.tensor4d(masks.bias, [B, 1, H, H]);

      // Item embedding: Σ_l one-hot(z_l) · tok_in_l (one-hot, not gather: gather has no gradient on wasm).
      let emb: tf.Tensor = tf.zeros([B * H, d]);
      for (let l = 0; l < L; l++) {
        const z = sids
          .slice([0, 0, l], [B, H, 1])
          .reshape([B * H])
          .toInt();
        emb = emb.add(matMul(tf.oneHot(z, V), this.p(`tok_in.${l}`)));
      }
      let x: tf.Tensor = emb
        .reshape([B, H, d])
        .mul(valid.reshape([B, H, 1]))
        .add(this.p("pos").reshape([1, H, d]));
      x = this.drop(x, training);

      const dh = d / nh;
      const split = (t: tf.Tensor) => t.reshape([B, -1, nh, dh]).transpose([0, 2, 1, 3]); // [B, nh, rows, dh]
      for (let i = 0; i < this.config.layers; i++) {
        const p = `block.${i}`;
        // With lastOnly, the final block computes just the query at H-1 (rows are independent given the keys).
        const last = lastOnly && i === this.config.layers - 1;
        const rows = last ? 1 : H;
        const h = this.layerNorm(x, `${p}.ln1`);
        const hq = last ? h.slice([0, H - 1, 0], [B, 1, d]) : h;
        const q = split(this.linear(hq, `${p}.attn.q`));
        const k = split(this.linear(h, `${p}.attn.k`));
        const v = split(this.linear(h, `${p}.attn.v`));
        const b = last ? bias.slice([0, 0, H - 1, 0], [B, 1, 1, H]) : bias;
        let att = matMulBT(q, k)
          .mul(1 / Math.sqrt(dh))
          .add(b); // [B, nh, rows, H]
        att = this.drop(tf.softmax(att), training);
        const y = matMul(att, v).transpose([0, 2, 1, 3]).reshape([B, rows, d]);
        if (last) x = x.slice([0, H - 1, 0], [B, 1, d]);
        x = x.add(this.drop(this.linear(y, `${p}.attn.proj`), training));
        const m = this.linear(tf.relu(this.linear(this.layerNorm(x, `${p}.ln2`), `${p}.mlp.fc`)), `${p}.mlp.proj`);
        x = x.add(this.drop(m, training));
      }
      return this.layerNorm(x, "ln_f") as tf.Tensor3D;
    });
  }

  /** The L residual heads on a state c_0 [B, d]: log-probs [B, L, V] and contexts [B, L+1, d]. */
  heads(c0: tf.Tensor2D): { logProbs: tf.Tensor3D; contexts: tf.Tensor3D } {
    const { levels: L, tau, residual } = this.config;
    return tf.tidy(() => {
      const logProbs: tf.Tensor2D[] = [];
      const contexts: tf.Tensor2D[] = [c0];
      let c = c0;
      for (let l = 0; l < L; l++) {
        const input = residual ? c : c0;
        const logits = this.linear(input, `head.${l}`) as tf.Tensor2D;
        const logp = tf.logSoftmax(logits.div(tau)) as tf.Tensor2D;
        logProbs.push(logp);
        if (residual) {
          const e = matMul(tf.exp(logp), this.p(`tok_out.${l}`)); // expected token embedding
          c = this.layerNorm(c.sub(e), `head.${l}.ln`) as tf.Tensor2D;
        }
        contexts.push(c);
      }
      return { logProbs: tf.stack(logProbs, 1) as tf.Tensor3D, contexts: tf.stack(contexts, 1) as tf.Tensor3D };
    });
  }

  /**
   * Autoregressive variant, teacher-forced: per-level log-probs [R, L, V] of R given SIDs (tokens int32 [R, L]) from
   * states c0 [R, d]; level l reads c_{l-1} refined by the chosen tokens z_<l. mask [R, L, V] is added to the logits
   * (0 = a token that exists under the prefix, -1e9 = one that does not).
   */
  prefixLogProbs(c0: tf.Tensor2D, tokens: tf.Tensor2D, mask: tf.Tensor3D): tf.Tensor3D {
    const { levels: L, vocab: V, tau } = this.config;
    if (!this.config.residual) throw new Error("Hpn: the autoregressive variant needs residual heads");
    return tf.tidy(() => {
      const R = c0.shape[0];
      const logProbs: tf.Tensor[] = [];
      let c: tf.Tensor2D = c0;
      for (let l = 0; l < L; l++) {
        const logits = this.linear(c, `head.${l}`)
          .div(tau)
          .add(mask.slice([0, l, 0], [R, 1, V]).reshape([R, V]));
        logProbs.push(tf.logSoftmax(logits));
        if (l < L - 1)
          c = this.layerNorm(
            c.sub(gatherRows(this.p(`tok_out.${l}`), tokens.slice([0, l], [R, 1]).reshape([R]))),
            `head.${l}.ln`,
          ) as tf.Tensor2D;
      }
      return tf.stack(logProbs, 1) as tf.Tensor3D;
    });
  }

  /**
   * Autoregressive variant, one level for many prefixes at once (scoring a whole catalog): c [B, P, d] the contexts
   * c_{l-1} of P nodes' parents, z int32 [P] each node's token at level l -> the logits of those tokens [B, P]
   * (unnormalised: the caller normalises over siblings) and the nodes' contexts c_l [B, P, d].
   */
  childStep(c: tf.Tensor3D, l: number, z: tf.Tensor1D): { logits: tf.Tensor2D; next: tf.Tensor3D } {
    return tf.tidy(() => {
      const w = tf.gather(tf.transpose(this.p(`head.${l}.w`)), z); // [P, d]
      const logits = tf
        .sum(tf.mul(c, w), -1)
        .add(tf.gather(this.p(`head.${l}.b`), z))
        .div(this.config.tau) as tf.Tensor2D;
      const next = this.layerNorm(c.sub(tf.gather(this.p(`tok_out.${l}`), z)), `head.${l}.ln`) as tf.Tensor3D;
      return { logits, next };
    });
  }

  variables(): tf.Variable[] {
    return [...this.w.values()];
  }

  getWeights(): NamedWeights {
    const out: NamedWeights = {};
    for (const [name, v] of this.w) out[name] = { shape: [...v.shape], data: v.dataSync() as Float32Array };
    return out;
  }

  setWeights(weights: NamedWeights): void {
    for (const [name, v] of this.w) {
      const src = weights[name];
      if (!src) throw new Error(`Hpn.setWeights: missing weight "${name}"`);
      if (src.shape.join(",") !== v.shape.join(","))
        throw new Error(`Hpn.setWeights: "${name}" has shape [${src.shape}], expected [${v.shape}]`);
      if (src.data.length !== v.size) throw new Error(`Hpn.setWeights: "${name}" has ${src.data.length} values, expected ${v.size}`);
      v.assign(tf.tensor(src.data, v.shape, "float32"));
    }
    for (const name of Object.keys(weights)) if (!this.w.has(name)) throw new Error(`Hpn.setWeights: unknown weight "${name}"`);
  }

  dispose(): void {
    for (const v of this.w.values()) v.dispose();
  }

  private p(name: string): tf.Variable {
    const v = this.w.get(name);
    if (!v) throw new Error(`Hpn: no weight "${name}"`);
    return v;
  }

  /** x [..., in] · W [in, out] + b, for any leading dims. */
  private linear(x: tf.Tensor, name: string): tf.Tensor {
    const w = this.p(`${name}.w`);
    const [din, dout] = w.shape;
    const lead = x.shape.slice(0, -1);
    return matMul(x.reshape([-1, din]), w)
      .add(this.p(`${name}.b`))
      .reshape([...lead, dout]);
  }

  /** LayerNorm over the last axis (biased variance, eps 1e-5: the same as ONNX LayerNormalization). */
  private layerNorm(x: tf.Tensor, name: string): tf.Tensor {
    const { mean, variance } = tf.moments(x, -1, true);
    return x
      .sub(mean)
      .mul(tf.rsqrt(variance.add(LN_EPS)))
      .mul(this.p(`${name}.g`))
      .add(this.p(`${name}.b`));
  }

  private drop(x: tf.Tensor, training: boolean): tf.Tensor {
    const rate = this.config.dropout;
    if (!training || rate === 0) return x;
    return tf.dropout(x, rate, undefined, this.seed * 104729 + this.dropoutCalls++);
  }
}

let uid = 0; // tfjs variable names must be unique per process

/**
 * The encoder's masks from the valid lengths: valid [B*H] (1 on the last length[b] rows, right-aligned) and the additive
 * attention bias [B*H*H]: 0 where key j is open to query i (j <= i, and j valid or j == i), MASK_NEG elsewhere.
 */
export function attentionMasks(length: ArrayLike<number>, H: number): { valid: Float32Array; bias: Float32Array } {
  const B = length.length;
  const valid = new Float32Array(B * H);
  const bias = new Float32Array(B * H * H).fill(MASK_NEG);
  for (let b = 0; b < B; b++) {
    const start = Math.max(0, H - length[b]);
    for (let j = start; j < H; j++) valid[b * H + j] = 1;
    for (let i = 0; i < H; i++) {
      const row = (b * H + i) * H;
      for (let j = start; j <= i; j++) bias[row + j] = 0;
      bias[row + i] = 0;
    }
  }
  return { valid, bias };
}
