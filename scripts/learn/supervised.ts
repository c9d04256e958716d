// Minimal supervised HPN training: NLL of the next positive item's SID tokens, -Σ_l log p_l(z_l(target)), on
// next-positive examples of the train split. Enough for the embedded default model (scripts/commands/default-model.ts);
// the full trainer with A2C and the critic is scripts/learn/a2c.ts; offline metrics are scripts/learn/evaluate.ts.
import cliProgress from "cli-progress";
import { tf } from "../model/backend";
import type { Hpn } from "../model/hpn";
import { sidHistoryBatch, type NextItemExample } from "./episodes";
import { Rng } from "./rng";

export interface SupervisedConfig {
  steps: number;
  batchSize: number;
  lr: number;
  seed: number;
  // SASRec-style: every valid history position predicts the item after it (the last one predicts the target), so a
  // step learns from ~H times more tokens at almost the same cost (the encoder runs over all positions anyway).
  allPositions: boolean;
}

export const DEFAULT_SUPERVISED: SupervisedConfig = { steps: 600, batchSize: 64, lr: 2e-3, seed: 1, allPositions: true };

export interface SupervisedResult {
  losses: number[]; // per step
  msPerStep: number;
}

/** Trains `hpn` in place. sidTokens: [numItems * L]. */
export function trainSupervised(hpn: Hpn, examples: NextItemExample[], sidTokens: Int32Array, cfg: SupervisedConfig, progress = false): SupervisedResult {
  if (examples.length === 0) throw new Error("supervised: no training examples");
  const { historyLength: H, levels: L, vocab: V } = hpn.config;
  const rng = new Rng(cfg.seed);
  const opt = tf.train.adam(cfg.lr);
  const vars = hpn.variables();
  const losses: number[] = [];
  const bar = progress
    ? new cliProgress.SingleBar({ format: "supervised |{bar}| {value}/{total} steps | loss {loss} | ETA {eta_formatted}" }, cliProgress.Presets.shades_classic)
    : null;
  bar?.start(cfg.steps, 0, { loss: "-" });
  const t0 = performance.now();
  for (let step = 0; step < cfg.steps; step++) {
    const batch = Array.from({ length: cfg.batchSize }, () => examples[rng.int(examples.length)]);
    const B = cfg.batchSize;
    const { sids, length } = sidHistoryBatch(batch.map((e) => e.history), sidTokens, H, L);
    // Targets per position [B, P, L] and their weights [B, P]; P = H (all positions) or 1 (the last).
    const P = cfg.allPositions ? H : 1;
    const target = new Int32Array(B * P * L);
    const weight = new Float32Array(B * P);
    batch.forEach((e, b) => {
      const n = length[b];
      const seq = [...e.history.slice(e.history.length - n), e.target]; // the n valid items, then the target
      for (let p = 0; p < P; p++) {
        const j = H - P + p; // history position
        const next = j - (H - n) + 1; // index in seq of the item that follows position j
        if (j !== H - 1 && next < 1) continue; // padding (the last position always counts: cold users learn it)
        weight[b * P + p] = 1;
        target.set(sidTokens.subarray(seq[next] * L, (seq[next] + 1) * L), (b * P + p) * L);
      }
    });
    const loss = tf.tidy(() => {
      const xs = tf.tensor3d(sids, [B, H, L], "int32");
      const len = tf.tensor1d(length, "int32");
      const oneHot = tf.oneHot(tf.tensor2d(target, [B * P, L], "int32"), V); // [B*P, L, V]
      const w = tf.tensor1d(weight);
      const total = weight.reduce((a, x) => a + x, 0);
      return opt.minimize(() => {
        const seq = hpn.encode(xs, len, true); // [B, H, d]
        const states = (P === H ? seq : seq.slice([0, H - 1, 0], [B, 1, seq.shape[2]])).reshape([B * P, seq.shape[2]]) as tf.Tensor2D;
        const { logProbs } = hpn.heads(states); // [B*P, L, V]
        const nll = tf.neg(tf.sum(tf.mul(logProbs, oneHot), [1, 2])); // [B*P]
        return tf.sum(tf.mul(nll, w)).div(total) as tf.Scalar;
      }, true, vars) as tf.Scalar;
    });
    const v = loss.dataSync()[0];
    loss.dispose();
    if (!Number.isFinite(v)) throw new Error(`supervised: loss is ${v} at step ${step}`);
    losses.push(v);
    bar?.update(step + 1, { loss: v.toFixed(3) });
  }
  bar?.stop();
  opt.dispose();
  return { losses, msPerStep: (performance.now() - t0) / cfg.steps };
}
