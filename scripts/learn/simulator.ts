// The user simulator (HAC-style, arXiv 2302.03431): a batch of B users, each shown a slate of K items per step.
//   click_k ~ Bernoulli(p_k), p_k = sigmoid(response-model logit(history, item_k))
//   reward  = (Σ_k [click_k ? 1 : nonClickReward]) / K          (mean feedback, -0.1 per non-click)
//   temper -= (1 - reward)·K + 1  (= 1.1 · non-clicks + 1 with -0.1 per non-click); the user leaves when temper < 1
//   history <- history + clicked items (newest last, trimmed to H)
// The leave rule is the authors' (their environment's temper update uses the step's reward, its -0.1 per non-click
// included). With K = 10 all clicks cost 1 temper per step, so depth <= 20 and total reward <= 20.
import * as tf from "@tensorflow/tfjs";
import { itemHistoryBatch } from "./episodes";
import type { Rng } from "../../core/rng";
import type { ResponseModel } from "../model/response";

export interface SimulatorConfig {
  slateSize: number; // K
  initialTemper: number;
  nonClickReward: number;
  historyLength: number; // H
}

export const DEFAULT_SIMULATOR: SimulatorConfig = { slateSize: 10, initialTemper: 20, nonClickReward: -0.1, historyLength: 50 };

/** Click probabilities for B users x K slate items (row-major [B*K]). */
export interface ClickModel {
  clickProbs(histories: number[][], slates: Int32Array, K: number): Float32Array;
}

export class ResponseClickModel implements ClickModel {
  constructor(private readonly model: ResponseModel) {}

  clickProbs(histories: number[][], slates: Int32Array, K: number): Float32Array {
    const H = this.model.config.historyLength;
    const B = histories.length;
    const { items, length } = itemHistoryBatch(histories, H, this.model.config.numItems);
    return tf.tidy(() => {
      const z = this.model.slateLogits(
        tf.tensor2d(items, [B, H], "int32"),
        tf.tensor1d(length, "int32"),
        tf.tensor2d(slates, [B, K], "int32"),
      );
      return tf.sigmoid(z).dataSync() as Float32Array;
    });
  }

  /**
   * The simulator's click logit of every item for each history [B*N] (the oracle ranks by it). Scored in blocks of
   * items, so memory stays at B x block x hidden whatever the catalog size.
   */
  itemLogits(histories: number[][], block = 1024): Float32Array {
    const H = this.model.config.historyLength;
    const N = this.model.config.numItems;
    const B = histories.length;
    const { items, length } = itemHistoryBatch(histories, H, N);
    const out = new Float32Array(B * N);
    const hist = tf.tensor2d(items, [B, H], "int32");
    const len = tf.tensor1d(length, "int32");
    for (let s = 0; s < N; s += block) {
      const n = Math.min(block, N - s);
      const slate = new Int32Array(B * n);
      for (let b = 0; b < B; b++) for (let j = 0; j < n; j++) slate[b * n + j] = s + j;
      const z = tf.tidy(() => this.model.slateLogits(hist, len, tf.tensor2d(slate, [B, n], "int32")).dataSync() as Float32Array);
      for (let b = 0; b < B; b++) out.set(z.subarray(b * n, (b + 1) * n), b * N + s);
    }
    tf.dispose([hist, len]);
    return out;
  }
}

export interface StepResult {
  reward: Float32Array; // [B]
  clicks: Uint8Array; // [B*K]
  done: Uint8Array; // [B] 1 = the user left after this step
}

/** B concurrent users. A finished slot keeps its final numbers until the caller resets it with a new user. */
export class UserBatch {
  readonly users: Int32Array;
  readonly histories: number[][];
  readonly temper: Float64Array;
  readonly depth: Int32Array; // steps taken in the current episode
  readonly totalReward: Float64Array;
  readonly clickCount: Int32Array; // clicks in the current episode
  readonly done: Uint8Array;

  constructor(
    readonly size: number,
    readonly cfg: SimulatorConfig,
    private readonly clickModel: ClickModel,
    private readonly rng: Rng,
  ) {
    this.users = new Int32Array(size);
    this.histories = Array.from({ length: size }, () => []);
    this.temper = new Float64Array(size);
    this.depth = new Int32Array(size);
    this.totalReward = new Float64Array(size);
    this.clickCount = new Int32Array(size);
    this.done = new Uint8Array(size).fill(1);
  }

  reset(slot: number, user: number, history: number[]): void {
    this.users[slot] = user;
    this.histories[slot] = history.slice(-this.cfg.historyLength);
    this.temper[slot] = this.cfg.initialTemper;
    this.depth[slot] = 0;
    this.totalReward[slot] = 0;
    this.clickCount[slot] = 0;
    this.done[slot] = 0;
  }

  /** One slate per slot ([B*K]); slots already done are ignored (their reward is 0 and they stay done). */
  step(slates: Int32Array): StepResult {
    const { slateSize: K, nonClickReward, historyLength: H } = this.cfg;
    const B = this.size;
    if (slates.length !== B * K) throw new Error(`simulator: got ${slates.length} slate items for ${B} users x K=${K}`);
    const p = this.clickModel.clickProbs(this.histories, slates, K);
    const reward = new Float32Array(B);
    const clicks = new Uint8Array(B * K);
    const done = new Uint8Array(B);
    for (let b = 0; b < B; b++) {
      if (this.done[b]) {
        done[b] = 1;
        continue;
      }
      let n = 0;
      for (let k = 0; k < K; k++) {
        if (this.rng.next() < p[b * K + k]) {
          clicks[b * K + k] = 1;
          n++;
        }
      }
      reward[b] = (n + nonClickReward * (K - n)) / K;
      this.temper[b] -= (1 - reward[b]) * K + 1;
      this.depth[b]++;
      this.totalReward[b] += reward[b];
      this.clickCount[b] += n;
      const h = this.histories[b].slice();
      for (let k = 0; k < K; k++) if (clicks[b * K + k]) h.push(slates[b * K + k]);
      this.histories[b] = h.length > H ? h.slice(h.length - H) : h;
      if (this.temper[b] < 1) this.done[b] = 1;
      done[b] = this.done[b];
    }
    return { reward, clicks, done };
  }
}
