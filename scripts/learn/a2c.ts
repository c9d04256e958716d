// One trainer for every learned policy, so all get the same data, simulator and budget (`steps` gradient updates):
//   mode "supervised": every step is behaviour cloning — NLL of the next logged positive item (sl, hpn-sl); with
//     bcPositions "all", SASRec-style, every history position predicts the item after it
//   mode "a2c": the first warmStartFraction of the steps are the same behaviour cloning (warm start), then A2C in the
//     simulator (hsrl, flat-a2c, ablations):
//       state s = the users' histories; π(i | s) = softmax over the TRAIN catalog of the actor's item scores
//       acting is on-policy: the slate is a Plackett–Luce sample without replacement of
//         π_T = softmax(score / T) over the catalog minus the user's history (Gumbel-top-K of score / T)
//       log π_T(slate) = Σ_k [log π_T(i_k) - log(1 - Σ_{j<k} π_T(i_j))]   (exact: the sample's own probability)
//       y = r + gamma · (1 - done) · V_target(c'(s'))       (target actor + target critic, soft update tau)
//       critic: MSE(V(c(s)), y) on the actor's contexts without gradient; its level weights have their own Adam
//         (levelLr) and its output bias starts at the mean return (first RL step: mean reward / (1 - gamma))
//       credit "item": A_k = clamp(r_k + (gamma·(1-done)·V'(s') - V(s)) / K), r_k = (click_k ? 1 : nonClick) / K,
//         so Σ_k A_k is the slate's TD error; credit "slate": A_k = clamp(y - V(s)) / K for every k
//       actor: -mean_b Σ_k A_k · log π_T(i_k | i_<k) - entropyCoef · H(π_T)
//              + clickWeight · BCE(σ(log π(i_k) + log N), click_k) over the shown items (the authors' behaviour loss)
//              + bcWeight · BC NLL (small: BC is the warm start)
//     HPN: log π(item) = Σ_l log p_l(z_l(item)) + β(s)·g(pop_i) - logsumexp over the training catalog (loss
//     "catalog"), or the plain per-level token NLL for BC (loss "tokens"). The autoregressive variant has no
//     per-item catalog policy: its slate term is the mean of its items' path log-probs (not the exact PL
//     probability) with the slate's summed advantage, and it has no click loss.
import * as tf from "@tensorflow/tfjs";
import type { Actor } from "./actors";
import { sliceOutput } from "./actors";
import type { NextItemExample } from "./episodes";
import { selectSlates } from "./policies";
import { Rng } from "../../core/rng";
import { UserBatch, type ClickModel, type SimulatorConfig } from "./simulator";
import { clipByGlobalNorm, pickColumns } from "../model/tfops";
import { MultiLevelCritic, softUpdate, tdTarget } from "../model/critic";

export interface TrainConfig {
  mode: "a2c" | "supervised";
  steps: number;
  batchSize: number;
  warmStartFraction: number;
  bcWeight: number; // weight of the BC auxiliary loss after the warm start (0 = pure RL after it)
  clickWeight: number; // weight of the click loss on the shown items during A2C (the authors' behaviour loss)
  temperature: number; // acting temperature T > 0: slates are Plackett–Luce samples of softmax(score / T)
  credit: "item" | "slate"; // per-item advantages from per-item clicks, or one advantage per slate
  levelLr: number; // learning rate of the multi-level critic's level weights
  actorLr: number;
  criticLr: number;
  gamma: number;
  tau: number; // target soft-update rate
  entropyCoef: number;
  advantageClamp: number;
  gradClip: number; // global-norm clip of the actor's gradient (Infinity = none)
  bcPositions: "last" | "all"; // BC targets: the next positive after the history, or one per history position
  seed: number; // the trainer's random stream (trainLearner derives one per policy and seed)
}

// Defaults from the authors' HSRL scripts where they have one (gamma 0.9, tau 0.01, clamp 1). They act greedily;
// here acting samples π_T so the policy gradient has a sample, with a small entropy bonus. T, the click weight and
// the BC weight were chosen on a validation world (synthetic data seed 2, seeds 11-13; reports/validation/): at
// T 0.1 the slate's log-prob gradient is 1/T = 10 × the score's, so under Adam the policy-gradient noise swamped the
// BC and click terms and HSRL fell 1.6 below BC alone; at T 1 with click and BC weights 1 it was 0.33 above, and
// the BC weight is what flat A2C needed.
export const DEFAULT_TRAIN: TrainConfig = {
  mode: "a2c",
  steps: 600,
  batchSize: 64,
  warmStartFraction: 0.3,
  bcWeight: 1,
  clickWeight: 1,
  temperature: 1,
  credit: "item",
  levelLr: 0.05,
  actorLr: 1e-3,
  criticLr: 1e-3,
  gamma: 0.9,
  tau: 0.01,
  entropyCoef: 0.01,
  advantageClamp: 1,
  gradClip: 5,
  bcPositions: "last",
  seed: 1,
};

/** Where training episodes start: a user and the history the policy may see (held-out items removed). */
export interface StartSampler {
  sample(rng: Rng): { user: number; history: number[] };
}

/** Milliseconds per named phase of the trainer's steps, summed over steps (bench/train.ts reads it). */
export class PhaseProfile {
  readonly ms: Record<string, number> = {};
  readonly steps = { bc: 0, rl: 0 };
  time<T>(phase: string, f: () => T): T {
    const t0 = performance.now();
    const out = f();
    this.ms[phase] = (this.ms[phase] ?? 0) + performance.now() - t0;
    return out;
  }
  /** Mean ms per step of each phase (phases named "bc.*" over BC steps, the rest over RL steps). */
  perStep(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(this.ms)) out[k] = v / Math.max(1, k.startsWith("bc.") ? this.steps.bc : this.steps.rl);
    return out;
  }
  reset(): void {
    for (const k of Object.keys(this.ms)) delete this.ms[k];
    this.steps.bc = 0;
    this.steps.rl = 0;
  }
}

export interface TrainContext {
  clickModel: ClickModel | null; // null: a world without a simulator (supervised mode only)
  sim: SimulatorConfig;
  catalog: Uint8Array; // items the policy may recommend while training (held-out items excluded)
  bcExamples: NextItemExample[]; // next-positive examples of the train split (held-out items excluded)
  starts: StartSampler;
  profile?: PhaseProfile; // when given, the trainer times its phases into it (the bench's per-phase profile)
}

export interface StepLog {
  step: number;
  phase: "bc" | "rl";
  bcLoss: number;
  actorLoss?: number;
  criticLoss?: number;
  stepReward?: number; // mean reward of this step's slates
  episodeReward?: number; // running mean total reward of training episodes finished so far (last 100)
  ms: number;
}

export interface TrainResult {
  log: StepLog[];
  levelWeights?: number[]; // final softmax weights of the multi-level critic
  msPerStep: { bc: number; rl: number };
}

function bcBatch(ex: NextItemExample[], n: number, rng: Rng): { histories: number[][]; targets: Int32Array } {
  const histories: number[][] = [];
  const targets = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const e = ex[rng.int(ex.length)];
    histories.push(e.history);
    targets[i] = e.target;
  }
  return { histories, targets };
}

/** scores · c (a copy). */
function scale(scores: Float32Array, c: number): Float32Array {
  const out = new Float32Array(scores.length);
  for (let i = 0; i < scores.length; i++) out[i] = scores[i] * c;
  return out;
}

/** [B, N] 0, or -1e9 at the items of each row's history (a slate never repeats them, so π_T excludes them). */
function historyMask(histories: number[][], N: number): Float32Array {
  const m = new Float32Array(histories.length * N);
  histories.forEach((h, b) => {
    for (const it of h) if (it >= 0 && it < N) m[b * N + it] = -1e9;
  });
  return m;
}

/**
 * The sampled slate's exact log-probability terms under π_T = softmax(logπ / T) over the catalog minus the history:
 * logPos[b, k] = log π_T(i_k) - log(1 - Σ_{j<k} π_T(i_j)) (Plackett–Luce without replacement), and H(π_T) per row.
 */
export function plackettLuce(
  logp: tf.Tensor2D,
  histMask: Float32Array,
  slates: Int32Array,
  K: number,
  T: number,
): { logPos: tf.Tensor2D; entropy: tf.Tensor1D } {
  const [B, N] = logp.shape;
  return tf.tidy(() => {
    const lpT = tf.logSoftmax(tf.add(tf.div(logp, T), tf.tensor2d(histMask, [B, N]))) as tf.Tensor2D;
    const picked = pickColumns(lpT, slates, K); // [B, K]
    const earlier = new Float32Array(K * K); // [j, k] = 1 for j < k
    for (let j = 0; j < K; j++) for (let k = j + 1; k < K; k++) earlier[j * K + k] = 1;
    const before = tf.matMul(tf.exp(picked), tf.tensor2d(earlier, [K, K])); // Σ_{j<k} π_T(i_j)
    const logPos = tf.sub(picked, tf.log(tf.maximum(tf.sub(1, before), 1e-6))) as tf.Tensor2D;
    const entropy = tf.neg(tf.sum(tf.mul(tf.exp(lpT), lpT), 1)) as tf.Tensor1D;
    return { logPos, entropy };
  });
}

/**
 * The authors' behaviour loss on the shown items: BCE of σ(log π(i) + log N) against the simulator's click, where
 * log N (the catalog size) puts the uniform policy at logit 0. It raises clicked items and lowers skipped ones.
 */
export function clickLoss(logp: tf.Tensor2D, slates: Int32Array, K: number, clicks: Uint8Array, catalog: Uint8Array): tf.Scalar {
  const n = catalog.reduce((a, c) => a + c, 0);
  return tf.tidy(() => {
    const z = tf.add(pickColumns(logp, slates, K), Math.log(Math.max(1, n)));
    const yv = tf.tensor2d(Float32Array.from(clicks), z.shape as [number, number]);
    // softplus(z) - y·z = -[y log σ(z) + (1 - y) log(1 - σ(z))]
    return tf.mean(tf.sub(tf.softplus(z), tf.mul(yv, z))) as tf.Scalar;
  });
}

export function trainPolicy(
  actor: Actor,
  critic: MultiLevelCritic | null,
  ctx: TrainContext,
  cfg: TrainConfig,
  onStep?: (log: StepLog) => void,
  startStep = 0,
  checkpoint?: { every: number; save: (stepsDone: number, log: StepLog[]) => void },
): TrainResult {
  if (ctx.bcExamples.length === 0) throw new Error("trainer: no next-positive training examples");
  if (cfg.mode === "a2c" && !critic) throw new Error("trainer: a2c needs a critic");
  if (cfg.mode === "a2c" && !ctx.clickModel) throw new Error("trainer: a2c needs a simulator (a world with a response model)");
  // a resumed run continues on another stream: it does not replay the steps before it
  const rng = new Rng(cfg.seed + startStep);
  const actorOpt = tf.train.adam(cfg.actorLr);
  const criticOpt = tf.train.adam(cfg.criticLr);
  const levelOpt = tf.train.adam(cfg.levelLr);
  // the critic's level weights get their own optimiser: which of its gradients are theirs, by variable name
  const levelNames = new Set(critic?.levelVariables().map((v) => v.name));
  if (cfg.mode === "a2c" && !(cfg.temperature > 0)) throw new Error(`trainer: the acting temperature must be > 0, got ${cfg.temperature}`);
  const warm = cfg.mode === "supervised" ? cfg.steps : Math.round(cfg.steps * cfg.warmStartFraction);
  const B = cfg.batchSize;
  const K = ctx.sim.slateSize;
  const log: StepLog[] = [];
  const actorVars = actor.variables();

  // RL state (created lazily at the first RL step, after the warm start)
  let users: UserBatch | null = null;
  let targetActor: Actor | null = null;
  let targetCritic: MultiLevelCritic | null = null;
  const finished: number[] = [];
  const ms = { bc: [] as number[], rl: [] as number[] };

  const prof = ctx.profile;
  const time = <T>(phase: string, f: () => T): T => (prof ? prof.time(phase, f) : f());
  // phases: "<p>.forward" (the loss, taped), "<p>.backward" (the gradients), "<p>.clip+adam" (incl. the loss read-back)
  const applyActor = (p: "bc" | "actor", lossFn: () => tf.Scalar): number => {
    let fwd = 0;
    const t0 = performance.now();
    const { value, grads } = tf.variableGrads(() => {
      const t = performance.now();
      const l = lossFn();
      fwd = performance.now() - t;
      return l;
    }, actorVars);
    if (prof) {
      prof.ms[`${p}.forward`] = (prof.ms[`${p}.forward`] ?? 0) + fwd;
      prof.ms[`${p}.backward`] = (prof.ms[`${p}.backward`] ?? 0) + performance.now() - t0 - fwd;
    }
    return time(`${p}.clip+adam`, () => {
      const clipped = clipByGlobalNorm(grads, cfg.gradClip);
      actorOpt.applyGradients(clipped);
      const v = (value.dataSync() as Float32Array)[0];
      tf.dispose([value, ...Object.values(grads), ...(Object.values(clipped) as tf.Tensor[])]);
      return v;
    });
  };

  const record = (entry: StepLog): void => {
    ms[entry.phase].push(entry.ms);
    log.push(entry);
    onStep?.(entry);
    if (checkpoint && (entry.step + 1) % checkpoint.every === 0) checkpoint.save(entry.step + 1, log);
  };

  for (let step = startStep; step < cfg.steps; step++) {
    const t0 = performance.now();
    const bc = time(step < warm ? "bc.batch" : "batch", () => bcBatch(ctx.bcExamples, B, rng));
    if (step < warm) {
      if (prof) prof.steps.bc++;
      const bcLoss = applyActor("bc", () =>
        tf.tidy(() => {
          if (cfg.bcPositions === "all") return actor.sequenceNll(bc.histories, bc.targets);
          const out = actor.forward(bc.histories, true);
          return tf.neg(tf.mean(actor.itemLogProb(out, bc.targets))) as tf.Scalar;
        }),
      );
      record({ step, phase: "bc", bcLoss, ms: performance.now() - t0 });
      continue;
    }

    if (!users) {
      users = new UserBatch(B, ctx.sim, ctx.clickModel!, new Rng(rng.seed()));
      for (let b = 0; b < B; b++) {
        const s = ctx.starts.sample(rng);
        users.reset(b, s.user, s.history);
      }
      targetActor = actor.clone();
      targetCritic = new MultiLevelCritic(critic!.config, 0);
      targetCritic.setWeights(critic!.getWeights());
    }
    if (prof) prof.steps.rl++;
    const obs = users.histories.slice();
    const T = cfg.temperature;
    // act: a Plackett–Luce sample of softmax(score / T) over the training catalog (Gumbel-top-K of score / T)
    const acted = time("act.forward", () => actor.forward(obs, false));
    const scores = time("act.scores", () => actor.scoresFrom(acted)); // read-back of [B, L, V] + Σ_l log p_l per item (JS)
    const slates = time("act.slates", () => selectSlates(scale(scores, 1 / T), obs, ctx.catalog, K, rng)); // (JS)
    const ctxS = acted.contexts;
    acted.logp.dispose();
    const batch = users;
    const res = time("simulator", () => batch.step(slates));
    const next = users.histories.slice();
    if (step === warm) {
      // the critic starts at the mean return: the first step's mean reward over an infinite horizon
      const v0 = res.reward.reduce((a, r) => a + r, 0) / B / (1 - cfg.gamma);
      critic!.setValueBias(v0);
      targetCritic!.setValueBias(v0);
    }
    const itemReward = new Float32Array(B * K);
    for (let j = 0; j < B * K; j++) itemReward[j] = (res.clicks[j] ? 1 : ctx.sim.nonClickReward) / K;
    const { y, adv } = time("critic.target", () =>
      tf.tidy(() => {
        const nextCtx = targetActor!.forward(next, false).contexts;
        const y = tdTarget(tf.tensor1d(res.reward), tf.tensor1d(Float32Array.from(res.done)), targetCritic!.value(nextCtx), cfg.gamma);
        const v = critic!.value(ctxS);
        const c = cfg.advantageClamp;
        if (cfg.credit === "slate") return { y, adv: tf.tile(tf.expandDims(tf.div(tf.clipByValue(tf.sub(y, v), -c, c), K), 1), [1, K]) };
        // per item: its own reward plus a K-th of the shared bootstrap term γ(1-d)V' - V = (y - r) - V
        const boot = tf.div(tf.sub(tf.sub(y, tf.tensor1d(res.reward)), v), K);
        const adv = tf.clipByValue(tf.add(tf.tensor2d(itemReward, [B, K]), tf.expandDims(boot, 1)), -c, c);
        return { y, adv };
      }),
    ) as { y: tf.Tensor1D; adv: tf.Tensor2D };
    const criticLossValue = time("critic.update", () => {
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(critic!.value(ctxS), y))) as tf.Scalar, critic!.variables());
      const pick = (level: boolean) =>
        Object.fromEntries(Object.entries(grads).filter(([k]) => levelNames.has(k) === level)) as Record<string, tf.Variable>;
      criticOpt.applyGradients(pick(false));
      levelOpt.applyGradients(pick(true));
      const v = (value.dataSync() as Float32Array)[0];
      tf.dispose([value, ...Object.values(grads)]);
      return v;
    });
    const withBc = cfg.bcWeight > 0;
    const histMask = historyMask(obs, ctx.catalog.length);
    const actorLoss = applyActor("actor", () =>
      tf.tidy(() => {
        const out = actor.forward(withBc ? [...obs, ...bc.histories] : obs, true);
        const rl = withBc ? sliceOutput(out, 0, B) : out;
        const terms: tf.Scalar[] = [];
        const lp = actor.catalogLogProbs(rl);
        if (lp) {
          const { logPos, entropy } = plackettLuce(lp, histMask, slates, K, T);
          terms.push(tf.neg(tf.mean(tf.sum(tf.mul(adv, logPos), 1))) as tf.Scalar);
          terms.push(tf.mul(-cfg.entropyCoef, tf.mean(entropy)) as tf.Scalar);
          if (cfg.clickWeight > 0) terms.push(tf.mul(cfg.clickWeight, clickLoss(lp, slates, K, res.clicks, ctx.catalog)) as tf.Scalar);
        } else {
          terms.push(tf.neg(tf.mean(tf.mul(tf.sum(adv, 1), actor.slateLogProb(rl, slates, K)))) as tf.Scalar);
          terms.push(tf.mul(-cfg.entropyCoef, tf.mean(actor.entropy(rl, slates, K))) as tf.Scalar);
        }
        if (withBc) terms.push(tf.mul(cfg.bcWeight, tf.neg(tf.mean(actor.itemLogProb(sliceOutput(out, B, B), bc.targets)))) as tf.Scalar);
        return tf.addN(terms) as tf.Scalar;
      }),
    );
    tf.dispose([y, adv, ctxS]);
    time("targets", () => {
      softUpdate(targetActor!.variables(), actor.variables(), cfg.tau);
      softUpdate(targetCritic!.variables(), critic!.variables(), cfg.tau);
    });

    let stepReward = 0;
    for (let b = 0; b < B; b++) {
      stepReward += res.reward[b] / B;
      if (res.done[b]) {
        finished.push(users.totalReward[b]);
        const s = ctx.starts.sample(rng);
        users.reset(b, s.user, s.history);
      }
    }
    const recent = finished.slice(-100);
    record({
      step,
      phase: "rl",
      bcLoss: NaN,
      actorLoss,
      criticLoss: criticLossValue,
      stepReward,
      episodeReward: recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : undefined,
      ms: performance.now() - t0,
    });
  }
  actorOpt.dispose();
  criticOpt.dispose();
  levelOpt.dispose();
  targetActor?.dispose();
  targetCritic?.dispose();
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
  const levelWeights = critic ? Array.from(tf.tidy(() => critic.levelWeights()).dataSync()) : undefined;
  return { log, levelWeights, msPerStep: { bc: mean(ms.bc), rl: mean(ms.rl) } };
}
