// The two trainable actors, both on the HPN's SASRec encoder over SID histories (so every policy reads history the
// same way and a new item is representable in history for all of them):
//   HpnActor  — HSRL: L residual heads, item score = Σ_l log p_l(z_l(item))           (fixed output space L x V)
//               The policy that acts is softmax over the catalog of those scores (slates are top-K / Gumbel-top-K of
//               them), so by default its losses use that policy: log π(item) = score(item) - logsumexp_catalog(score).
//               loss "tokens" is the plain per-level token NLL Σ_l log p_l, normalised over all V^L token tuples, most
//               of which are no item (the ablation: it spends probability on SIDs that do not exist).
//               prefix "chosen" is the autoregressive variant (model/hpn.ts prefixLogProbs): each level conditioned on
//               the chosen prefix and normalised over the catalog's prefix tree (sid-trie.ts).
//   FlatActor — flat: one item-id head over the training catalog, score = log softmax  (output space = N items; an
//               item unseen in training has no output: it cannot be scored without retraining)
// Both expose the same loss pieces so one trainer (a2c.ts) drives them: log-prob of a slate, entropy, BC NLL.
import * as tf from "@tensorflow/tfjs";
import { Hpn, type HpnConfig } from "../model/hpn";
import { scoreItems } from "../../core/score";
import { nextItemPerPosition, sidHistoryBatch } from "./episodes";
import { SidTrie } from "./sid-trie";
import { glorot, readVariables, rowSumOp, splitPrefix, withPrefix, writeVariables, zerosVar, type NamedWeights } from "../model/tfops";

export interface ActorOutput {
  contexts: tf.Tensor3D; // [B, C, d]: c_0..c_L (HPN) or c_0 (flat)
  logp: tf.Tensor; // HPN: [B, L, V] per-level log-probs; flat: [B, N] log-probs over the catalog
  itemLogp?: tf.Tensor2D; // HPN with loss "catalog", training forward only: [B, N] log π over the training catalog
  /** How itemLogp follows from logp (row-wise), so a slice of the output computes it for its rows only. */
  itemLogpOf?: (logp: tf.Tensor3D, contexts: tf.Tensor3D) => tf.Tensor2D;
}

/**
 * An output whose itemLogp is computed on first read (in the reader's tidy scope). The trainer slices one forward of
 * [RL states; BC examples] in two, and slicing the [2B, N] log π (forward and backward) cost more than computing it
 * per half from the [B, L, V] log-probs.
 */
function lazyItemLogp(
  logp: tf.Tensor3D,
  contexts: tf.Tensor3D,
  of: (logp: tf.Tensor3D, contexts: tf.Tensor3D) => tf.Tensor2D,
): ActorOutput {
  let cached: tf.Tensor2D | undefined;
  const out = { logp, contexts, itemLogpOf: of } as ActorOutput;
  Object.defineProperty(out, "itemLogp", { enumerable: true, get: () => (cached ??= of(logp, contexts)) });
  return out;
}

export type HpnLoss = "catalog" | "tokens";
/** "expected": the authors' code (prefix-independent levels, exportable); "chosen": the autoregressive variant. */
export type HpnPrefix = "expected" | "chosen";

export interface Actor {
  readonly kind: "hpn" | "flat";
  readonly numContexts: number;
  forward(histories: number[][], training: boolean): ActorOutput;
  /**
   * log π(item) over the training catalog [B, N] (T = 1, differentiable): what the trainer's Plackett–Luce slate
   * log-prob, entropy and click loss read. null: the actor has no per-item catalog policy (the autoregressive HPN).
   */
  catalogLogProbs(out: ActorOutput): tf.Tensor2D | null;
  /** Mean over the slate of log π(item) per user [B] (HPN: Σ_l log p_l(z_l)). slates: [B*K]. */
  slateLogProb(out: ActorOutput, slates: Int32Array, K: number): tf.Tensor1D;
  /** log π(target) per user [B]. */
  itemLogProb(out: ActorOutput, targets: Int32Array): tf.Tensor1D;
  /**
   * SASRec-style BC loss: every valid history position predicts the item after it, the last one the target; the mean
   * NLL over those positions (a training forward of its own).
   */
  sequenceNll(histories: number[][], targets: Int32Array): tf.Scalar;
  /** Entropy of the policy per user [B] (the autoregressive HPN measures it along the slate's SID paths). */
  entropy(out: ActorOutput, slates: Int32Array, K: number): tf.Tensor1D;
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

/** Mean over each row's K items of item log-probs [B, N] -> [B] (one-hot weights: gather has no gradient on wasm). */
function itemWeightedSum(logp: tf.Tensor2D, items: Int32Array, K: number): tf.Tensor1D {
  const [B, N] = logp.shape;
  return tf.tidy(() => {
    const w = new Float32Array(B * N);
    for (let b = 0; b < B; b++) for (let k = 0; k < K; k++) w[b * N + items[b * K + k]] += 1 / K;
    return tf.sum(tf.mul(tf.tensor2d(w, [B, N]), logp), 1) as tf.Tensor1D;
  });
}

/** Σ_r w_r · logp[r, items_r] / Σ_r w_r over rows with an item (items_r >= 0): a position-weighted NLL's core. */
function weightedItemLogProb(logp: tf.Tensor2D, items: Int32Array): tf.Scalar {
  const [R, N] = logp.shape;
  return tf.tidy(() => {
    const w = new Float32Array(R * N);
    let total = 0;
    items.forEach((it, r) => {
      if (it < 0) return;
      w[r * N + it] = 1;
      total++;
    });
    return tf.div(tf.sum(tf.mul(tf.tensor2d(w, [R, N]), logp)), total) as tf.Scalar;
  });
}

/** Histories as the encoder's inputs: SIDs int32 [B, H, L] and valid lengths int32 [B]. */
function encoderInput(histories: number[][], sidTokens: Int32Array, config: HpnConfig): { sids: tf.Tensor3D; length: tf.Tensor1D } {
  const { historyLength: H, levels: L } = config;
  const { sids, length } = sidHistoryBatch(histories, sidTokens, H, L);
  return { sids: tf.tensor3d(sids, [histories.length, H, L], "int32"), length: tf.tensor1d(length, "int32") };
}

/** Item scores [B*N] of an actor for a batch of histories (one inference forward pass). */
export function actorItemScores(actor: Actor, histories: number[][]): Float32Array {
  const out = actor.forward(histories, false);
  const scores = actor.scoresFrom(out);
  tf.dispose([out.logp, out.contexts]);
  return scores;
}

export interface HpnActorOptions {
  loss?: HpnLoss; // default "tokens"
  prefix?: HpnPrefix; // default "expected"
  catalog?: Uint8Array; // the items the policy acts over while training (needed by loss "catalog" and prefix "chosen")
  // g(pop_i) per item [N]: with it, score(i) = Σ_l log p_l(z_l(i)) + β(s)·g(pop_i), β(s) = b + w·c_0 learned
  // (prefix "expected" with a catalog only). Held-out / new items carry the catalog's prior (popularityPrior).
  prior?: Float32Array;
}

export class HpnActor implements Actor {
  readonly kind = "hpn" as const;
  readonly numContexts: number;
  readonly loss: HpnLoss;
  readonly prefix: HpnPrefix;
  private readonly itemScores: ((flat: tf.Tensor2D) => tf.Tensor2D) | null = null; // [B, L*V] -> Σ_l log p_l(z_l) [B, N]
  private readonly catalogMask: tf.Tensor1D | null = null; // [N] 0 for catalog items, -1e9 for the rest
  private readonly trainTrie: SidTrie | null = null; // prefix "chosen": the training catalog's SIDs (losses)
  private readonly fullTrie: SidTrie | null = null; // prefix "chosen": every item's SID (scoring: new items included)
  private readonly priorVars: { w: tf.Variable; b: tf.Variable } | null = null; // β(s) = b + w·c_0
  private readonly priorG: tf.Tensor2D | null = null; // [1, N] g(pop_i)

  constructor(
    readonly hpn: Hpn,
    readonly sidTokens: Int32Array, // [N * L]
    readonly options: HpnActorOptions = {},
  ) {
    this.numContexts = hpn.config.levels + 1;
    this.loss = options.loss ?? "tokens";
    this.prefix = options.prefix ?? "expected";
    const { levels: L, vocab: V } = hpn.config;
    const N = sidTokens.length / L;
    const catalog = options.catalog;
    if ((this.loss === "catalog" || this.prefix === "chosen") && (!catalog || catalog.length !== N)) {
      throw new Error(`HpnActor: loss "catalog" and prefix "chosen" need a catalog of ${N} items`);
    }
    if (this.prefix === "chosen") {
      this.trainTrie = new SidTrie(sidTokens, L, V, catalog!);
      this.fullTrie = new SidTrie(sidTokens, L, V, new Uint8Array(N).fill(1));
    } else if (catalog) {
      // rows l*V + z_l(item) of the flattened [L*V] log-probs
      this.itemScores = rowSumOp(
        Int32Array.from(sidTokens, (z, j) => (j % L) * V + z),
        L,
      );
      this.catalogMask = tf.tensor1d(Float32Array.from(catalog!, (c) => (c ? 0 : -1e9)));
    }
    if (options.prior) {
      if (this.prefix !== "expected" || this.loss !== "catalog")
        throw new Error('HpnActor: the popularity prior needs prefix "expected" and loss "catalog"');
      if (options.prior.length !== N) throw new Error(`HpnActor: prior has ${options.prior.length} items, the SID table ${N}`);
      this.priorVars = { w: zerosVar([hpn.config.dModel]), b: zerosVar([1]) };
      this.priorG = tf.tensor2d(options.prior, [1, N]);
    }
  }

  /** β(s) per row [B] from the contexts (c_0), or null without a prior. */
  beta(contexts: tf.Tensor3D): tf.Tensor1D | null {
    if (!this.priorVars) return null;
    const [B, , d] = contexts.shape;
    return tf.tidy(() => {
      const c0 = tf.reshape(tf.slice(contexts, [0, 0, 0], [B, 1, d]), [B, d]);
      return tf.add(tf.sum(tf.mul(c0, this.priorVars!.w), 1), this.priorVars!.b) as tf.Tensor1D;
    });
  }

  static create(config: HpnConfig, seed: number, sidTokens: Int32Array, options: HpnActorOptions = {}): HpnActor {
    return new HpnActor(new Hpn(config, seed), sidTokens, options);
  }

  forward(histories: number[][], training: boolean): ActorOutput {
    const x = encoderInput(histories, this.sidTokens, this.hpn.config);
    // prefix "chosen": logp and contexts come from the expected path (a function of the state alone, for the critic);
    // item log-probs follow the chosen prefixes (pathLogProbs, scoresFrom).
    const { logProbs, contexts } = this.hpn.forward(x.sids, x.length, training);
    tf.dispose([x.sids, x.length]);
    if (training && this.loss === "catalog" && this.prefix === "expected")
      return lazyItemLogp(logProbs, contexts, (lp, c) => this.logProbsOverCatalog(lp, c));
    return { logp: logProbs, contexts };
  }

  catalogLogProbs(out: ActorOutput): tf.Tensor2D | null {
    if (out.itemLogp) return out.itemLogp;
    return this.itemScores ? this.logProbsOverCatalog(out.logp as tf.Tensor3D, out.contexts) : null;
  }

  /**
   * log π over the catalog [B, N] from per-level log-probs [B, L, V] (one JS row-sum op, model/tfops rowSumOp), plus
   * β(s)·g(pop_i) with a prior.
   */
  private logProbsOverCatalog(logp: tf.Tensor3D, contexts: tf.Tensor3D): tf.Tensor2D {
    const { levels: L, vocab: V } = this.hpn.config;
    const B = logp.shape[0];
    return tf.tidy(() => {
      let scores = this.itemScores!(tf.reshape(logp, [B, L * V]) as tf.Tensor2D); // [B, N]
      const beta = this.beta(contexts);
      if (beta) scores = tf.add(scores, tf.mul(tf.expandDims(beta, 1), this.priorG!));
      return tf.logSoftmax(tf.add(scores, this.catalogMask!)) as tf.Tensor2D;
    });
  }

  /** prefix "chosen": per-level log-probs [B*K, L, V] along the SIDs of K items per row (teacher forcing). */
  private pathLogProbs(out: ActorOutput, items: Int32Array, K: number): tf.Tensor3D {
    const { levels: L, vocab: V } = this.hpn.config;
    const B = items.length / K;
    const d = out.contexts.shape[2];
    return tf.tidy(() => {
      const c0 = tf.reshape(tf.tile(tf.slice(out.contexts, [0, 0, 0], [B, 1, d]), [1, K, 1]), [B * K, d]) as tf.Tensor2D;
      const tokens = new Int32Array(B * K * L);
      items.forEach((it, r) => tokens.set(this.sidTokens.subarray(it * L, (it + 1) * L), r * L));
      const mask = tf.tensor3d(this.trainTrie!.masks(items), [B * K, L, V]);
      return this.hpn.prefixLogProbs(c0, tf.tensor2d(tokens, [B * K, L], "int32"), mask);
    });
  }

  /** Mean over each row's K items of log π(item) [B]. */
  private itemsLogProb(out: ActorOutput, items: Int32Array, K: number): tf.Tensor1D {
    if (out.itemLogp) return itemWeightedSum(out.itemLogp, items, K);
    const { levels: L, vocab: V } = this.hpn.config;
    const B = items.length / K;
    return tf.tidy(() => {
      if (this.prefix === "expected") return tf.sum(tf.mul(tokenCounts(items, K, this.sidTokens, L, V), out.logp), [1, 2]) as tf.Tensor1D;
      const share = tf.tensor1d(Float32Array.from(items, (it) => this.trainTrie!.logShare[it]));
      const pathLogp = this.pathLogProbs(out, items, K);
      const lp = tf.sub(tf.sum(tf.mul(tokenCounts(items, 1, this.sidTokens, L, V), pathLogp), [1, 2]), share); // [B*K]
      return tf.mean(tf.reshape(lp, [B, K]), 1) as tf.Tensor1D;
    });
  }

  slateLogProb(out: ActorOutput, slates: Int32Array, K: number): tf.Tensor1D {
    return this.itemsLogProb(out, slates, K);
  }

  itemLogProb(out: ActorOutput, targets: Int32Array): tf.Tensor1D {
    return this.itemsLogProb(out, targets, 1);
  }

  sequenceNll(histories: number[][], targets: Int32Array): tf.Scalar {
    if (this.prefix === "chosen") throw new Error("HpnActor: all-positions BC is not implemented for the autoregressive variant");
    const { historyLength: H, levels: L, vocab: V, dModel: d } = this.hpn.config;
    const B = histories.length;
    const next = nextItemPerPosition(histories, targets, H); // [B*H], -1 = no target (padding)
    return tf.tidy(() => {
      const x = encoderInput(histories, this.sidTokens, this.hpn.config);
      const states = this.hpn.encode(x.sids, x.length, true).reshape([B * H, d]) as tf.Tensor2D;
      const { logProbs } = this.hpn.heads(states); // [B*H, L, V]
      if (this.loss === "catalog") {
        // every position's own β(s_t): its state is the context c_0 of that prefix
        const ctx = tf.reshape(states, [B * H, 1, d]) as tf.Tensor3D;
        return tf.neg(weightedItemLogProb(this.logProbsOverCatalog(logProbs, ctx), next)) as tf.Scalar;
      }
      // tokens: -Σ_l log p_l(z_l(next)) per position, averaged over the positions with a target
      const tokens = new Int32Array(B * H * L);
      const weight = new Float32Array(B * H);
      next.forEach((it, r) => {
        if (it < 0) return;
        weight[r] = 1;
        tokens.set(this.sidTokens.subarray(it * L, (it + 1) * L), r * L);
      });
      const total = weight.reduce((a, w) => a + w, 0);
      const nll = tf.neg(tf.sum(tf.mul(logProbs, tf.oneHot(tf.tensor2d(tokens, [B * H, L], "int32"), V)), [1, 2]));
      return tf.sum(tf.mul(nll, tf.tensor1d(weight))).div(total) as tf.Scalar;
    });
  }

  entropy(out: ActorOutput, slates: Int32Array, K: number): tf.Tensor1D {
    return tf.tidy(() => {
      if (this.prefix === "chosen") {
        // the entropy of each level's choice along the slate's paths, averaged over the slate
        const lp = this.pathLogProbs(out, slates, K);
        const B = slates.length / K;
        return tf.mean(tf.reshape(tf.neg(tf.sum(tf.mul(tf.exp(lp), lp), [1, 2])), [B, K]), 1) as tf.Tensor1D;
      }
      const lp = out.itemLogp ?? out.logp;
      return tf.neg(
        tf.sum(
          tf.mul(tf.exp(lp), lp),
          lp.shape.slice(1).map((_, i) => i + 1),
        ),
      ) as tf.Tensor1D;
    });
  }

  scoresFrom(out: ActorOutput): Float32Array {
    if (this.prefix === "chosen") return this.chosenScores(out);
    const { levels: L, vocab: V } = this.hpn.config;
    const N = this.sidTokens.length / L;
    const B = out.logp.shape[0];
    const lp = out.logp.dataSync() as Float32Array;
    const beta = this.beta(out.contexts);
    const betas = beta ? (beta.dataSync() as Float32Array) : null;
    beta?.dispose();
    const g = this.options.prior;
    const scores = new Float32Array(B * N);
    for (let b = 0; b < B; b++) {
      const s = scoreItems(lp, L, V, this.sidTokens, b * L * V);
      if (betas && g) for (let i = 0; i < N; i++) s[i] += betas[b] * g[i];
      scores.set(s, b * N);
    }
    return scores;
  }

  /**
   * prefix "chosen": Σ_l log p_l(z_l | z_<l) for every item [B*N], walking the catalog's prefix tree one level at a
   * time (one context per distinct prefix, not per item); each level is normalised over the tokens under its prefix,
   * and a collision group shares its leaf.
   */
  private chosenScores(out: ActorOutput): Float32Array {
    const trie = this.fullTrie!;
    const { levels: L } = this.hpn.config;
    const N = this.sidTokens.length / L;
    const [B, , d] = out.contexts.shape;
    const scores = new Float32Array(B * N);
    let ctx = tf.slice(out.contexts, [0, 0, 0], [B, 1, d]) as tf.Tensor3D; // the root's context c_0
    for (let l = 0; l < L; l++) {
      const { logits, next } = tf.tidy(() =>
        this.hpn.childStep(tf.gather(ctx, trie.parent[l], 1) as tf.Tensor3D, l, tf.tensor1d(trie.token[l], "int32")),
      );
      ctx.dispose();
      ctx = next;
      const z = logits.dataSync() as Float32Array;
      logits.dispose();
      const P = trie.parent[l].length;
      const parent = trie.parent[l];
      const node = trie.itemNode[l];
      const lse = new Float64Array(B * (l === 0 ? 1 : trie.parent[l - 1].length));
      const width = lse.length / B;
      for (let b = 0; b < B; b++) {
        // log-sum-exp over siblings, stabilised by each group's max
        const max = new Float64Array(width).fill(-Infinity);
        for (let p = 0; p < P; p++) max[parent[p]] = Math.max(max[parent[p]], z[b * P + p]);
        const sum = new Float64Array(width);
        for (let p = 0; p < P; p++) sum[parent[p]] += Math.exp(z[b * P + p] - max[parent[p]]);
        for (let g = 0; g < width; g++) lse[b * width + g] = max[g] + Math.log(sum[g]);
        for (let i = 0; i < N; i++) {
          const n = node[i];
          scores[b * N + i] += z[b * P + n] - lse[b * width + parent[n]];
        }
      }
    }
    ctx.dispose();
    for (let b = 0; b < B; b++) for (let i = 0; i < N; i++) scores[b * N + i] -= trie.logShare[i];
    return scores;
  }

  variables(): tf.Variable[] {
    return [...this.hpn.variables(), ...(this.priorVars ? [this.priorVars.w, this.priorVars.b] : [])];
  }
  getWeights(): NamedWeights {
    return { ...this.hpn.getWeights(), ...(this.priorVars ? withPrefix("prior.", readVariables(this.priorVars)) : {}) };
  }
  setWeights(w: NamedWeights): void {
    const { part: prior, rest: hpn } = splitPrefix("prior.", w);
    this.hpn.setWeights(hpn);
    if (this.priorVars) writeVariables(this.priorVars, prior, "popularity prior");
    else if (Object.keys(prior).length) throw new Error("HpnActor: weights carry a popularity prior, this actor has none");
  }
  /** The learned prior's weights (w [d], b [1]), for export; null without a prior. */
  priorWeights(): NamedWeights | null {
    return this.priorVars ? readVariables(this.priorVars) : null;
  }
  clone(): HpnActor {
    const c = new HpnActor(new Hpn(this.hpn.config, this.hpn.seed), this.sidTokens, this.options);
    c.setWeights(this.getWeights());
    return c;
  }
  dispose(): void {
    this.hpn.dispose();
    this.catalogMask?.dispose();
    this.priorG?.dispose();
    if (this.priorVars) tf.dispose([this.priorVars.w, this.priorVars.b]);
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
    const H = this.encoder.config.historyLength;
    return tf.tidy(() => {
      const B = histories.length;
      const x = encoderInput(histories, this.sidTokens, this.encoder.config);
      const seq = this.encoder.encode(x.sids, x.length, training);
      const d = seq.shape[2];
      const c0 = tf.reshape(tf.slice(seq, [0, H - 1, 0], [B, 1, d]), [B, d]);
      const logits = tf.add(tf.add(tf.matMul(c0, this.head.w), this.head.b), this.outputMask);
      return { logp: tf.logSoftmax(logits), contexts: tf.reshape(c0, [B, 1, d]) as tf.Tensor3D };
    });
  }

  catalogLogProbs(out: ActorOutput): tf.Tensor2D {
    return out.logp as tf.Tensor2D;
  }

  slateLogProb(out: ActorOutput, slates: Int32Array, K: number): tf.Tensor1D {
    return itemWeightedSum(out.logp as tf.Tensor2D, slates, K);
  }

  itemLogProb(out: ActorOutput, targets: Int32Array): tf.Tensor1D {
    return itemWeightedSum(out.logp as tf.Tensor2D, targets, 1);
  }

  sequenceNll(histories: number[][], targets: Int32Array): tf.Scalar {
    const H = this.encoder.config.historyLength;
    const B = histories.length;
    return tf.tidy(() => {
      const x = encoderInput(histories, this.sidTokens, this.encoder.config);
      const seq = this.encoder.encode(x.sids, x.length, true);
      const states = tf.reshape(seq, [B * H, seq.shape[2]]);
      const logp = tf.logSoftmax(tf.add(tf.add(tf.matMul(states, this.head.w), this.head.b), this.outputMask)) as tf.Tensor2D;
      return tf.neg(weightedItemLogProb(logp, nextItemPerPosition(histories, targets, H))) as tf.Scalar;
    });
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
    return { ...this.encoder.getWeights(), ...withPrefix("flat_head.", readVariables(this.head)) };
  }
  setWeights(w: NamedWeights): void {
    const { part: head, rest: enc } = splitPrefix("flat_head.", w);
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
  const logp = sl(out.logp);
  const contexts = sl(out.contexts) as tf.Tensor3D;
  if (out.itemLogpOf) return lazyItemLogp(logp as tf.Tensor3D, contexts, out.itemLogpOf);
  return { logp, contexts, itemLogp: out.itemLogp && (sl(out.itemLogp) as tf.Tensor2D) };
}
