// One trainer for every learned policy, so all get the same data, simulator and budget (`steps` gradient updates):
//   mode "supervised": every step is behaviour cloning — NLL of the next logged positive item (sl, hpn-sl); with
//     bcPositions "all", SASRec-style, every history position predicts the item after it (the embedded default)
//   mode "a2c": the first warmStartFraction of the steps are the same behaviour cloning (warm start), then A2C in the
//     simulator with a BC auxiliary loss (hsrl, flat-a2c, ablations):
//       state s = the users' histories; slate = Gumbel-top-K sample from the actor's item scores over the TRAIN catalog
//       y = r + gamma · (1 - done) · V_target(c'(s'))       (target actor + target critic, soft update tau)
//       critic: MSE(V(c(s)), y)  on the actor's contexts without gradient (the critic does not shape the encoder)
//       A = clamp(y - V(s), -1, 1)
//       actor: -mean(A · mean_slate log π(item)) - entropyCoef · entropy + bcWeight · BC NLL
//     HPN: log π(item) = Σ_l log p_l(z_l(item)) - logsumexp over the training catalog (loss "catalog", the policy
//     that acts), or the plain per-level token NLL (loss "tokens"); the autoregressive variant follows the chosen
//     prefixes (actors.ts). Entropy is the acting policy's: over the catalog, or along the slate's SID paths.
import * as tf from "@tensorflow/tfjs";
import type { Actor } from "./actors";
import { sliceOutput } from "./actors";
import type { NextItemExample } from "./episodes";
import { selectSlates } from "./policies";
import { Rng } from "../util/rng";
import { UserBatch, type ClickModel, type SimulatorConfig } from "./simulator";
import { clipByGlobalNorm } from "../model/tfops";
import { MultiLevelCritic, softUpdate, tdTarget } from "../model/critic";

export interface TrainConfig {
  mode: "a2c" | "supervised";
  steps: number;
  batchSize: number;
  warmStartFraction: number;
  bcWeight: number; // weight of the BC auxiliary loss during A2C (0 = pure RL after the warm start)
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

// Defaults from the authors' HSRL scripts where they have one (gamma 0.9, tau 0.01, entropy 0.1, clamp 1).
export const DEFAULT_TRAIN: TrainConfig = {
  mode: "a2c",
  steps: 600,
  batchSize: 64,
  warmStartFraction: 0.3,
  bcWeight: 0.5,
  actorLr: 1e-3,
  criticLr: 1e-3,
  gamma: 0.9,
  tau: 0.01,
  entropyCoef: 0.1,
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
    // act: Gumbel-top-K sample from the current policy's scores over the training catalog
    const acted = time("act.forward", () => actor.forward(obs, false));
    const scores = time("act.scores", () => actor.scoresFrom(acted)); // read-back of [B, L, V] + Σ_l log p_l per item (JS)
    const slates = time("act.slates", () => selectSlates(scores, obs, ctx.catalog, K, rng)); // Gumbel-top-K (JS)
    const ctxS = acted.contexts;
    acted.logp.dispose();
    const batch = users;
    const res = time("simulator", () => batch.step(slates));
    const next = users.histories.slice();
    const { y, adv } = time("critic.target", () =>
      tf.tidy(() => {
        const nextCtx = targetActor!.forward(next, false).contexts;
        const y = tdTarget(tf.tensor1d(res.reward), tf.tensor1d(Float32Array.from(res.done)), targetCritic!.value(nextCtx), cfg.gamma);
        const v = critic!.value(ctxS);
        const adv = tf.clipByValue(tf.sub(y, v), -cfg.advantageClamp, cfg.advantageClamp);
        return { y, adv };
      }),
    );
    const criticLossValue = time("critic.update", () => {
      const cl = criticOpt.minimize(() => tf.mean(tf.square(tf.sub(critic!.value(ctxS), y))) as tf.Scalar, true, critic!.variables())!;
      const v = (cl.dataSync() as Float32Array)[0];
      cl.dispose();
      return v;
    });
    const actorLoss = applyActor("actor", () =>
      tf.tidy(() => {
        const out = actor.forward([...obs, ...bc.histories], true);
        const rl = sliceOutput(out, 0, B);
        const sup = sliceOutput(out, B, B);
        const pg = tf.neg(tf.mean(tf.mul(adv, actor.slateLogProb(rl, slates, K))));
        const ent = tf.mean(actor.entropy(rl, slates, K));
        const bcNll = tf.neg(tf.mean(actor.itemLogProb(sup, bc.targets)));
        return tf.addN([pg, tf.mul(-cfg.entropyCoef, ent), tf.mul(cfg.bcWeight, bcNll)]) as tf.Scalar;
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
  targetActor?.dispose();
  targetCritic?.dispose();
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
  const levelWeights = critic ? Array.from(tf.tidy(() => critic.levelWeights()).dataSync()) : undefined;
  return { log, levelWeights, msPerStep: { bc: mean(ms.bc), rl: mean(ms.rl) } };
}
