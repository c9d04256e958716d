// Trains the user-response model on the TRAIN split of the logs; reports validation AUC.
// Examples: every logged interaction (label = positive rule) with the user's positive history before it, plus
// `negatives` uniformly sampled unseen items per logged positive (label 0), so the simulator also learns that a random
// catalog item is unlikely to be clicked. The environment is the world: it is trained on all items, held-out included
// (only the policies are kept away from held-out items).
import * as tf from "@tensorflow/tfjs";
import { itemHistoryBatch, positiveHistory, splitRange, type Episodes, type Split } from "./episodes";
import { auc } from "./metrics";
import { Rng } from "../../core/rng";
import { ResponseModel, type ResponseConfig } from "../model/response";

export interface ResponseTrainConfig {
  dim: number;
  hidden: number;
  epochs: number;
  batchSize: number;
  lr: number;
  negatives: number;
  seed: number;
  maxSteps?: number; // stop after this many optimiser steps in all (benches on large logs); default: every epoch
}

export const DEFAULT_RESPONSE_TRAIN: ResponseTrainConfig = {
  dim: 32,
  hidden: 64,
  epochs: 3,
  batchSize: 256,
  lr: 2e-3,
  negatives: 2,
  seed: 1,
};

interface Example {
  user: number;
  end: number; // history = positives before this position in the user's timeline
  item: number;
  label: number;
}

export function responseExamples(ep: Episodes, split: Split, negatives: number, rng: Rng): Example[] {
  const out: Example[] = [];
  const seen = new Set<number>();
  for (const t of ep.timelines) {
    if (t.items.length === 0) continue;
    const [a, b] = splitRange(t, split);
    seen.clear();
    for (const it of t.items) seen.add(it);
    for (let k = a; k < b; k++) {
      out.push({ user: t.user, end: k, item: t.items[k], label: t.labels[k] });
      if (!t.labels[k]) continue;
      for (let n = 0; n < negatives; n++) {
        let it = rng.int(ep.numItems);
        for (let tries = 0; seen.has(it) && tries < 10; tries++) it = rng.int(ep.numItems);
        out.push({ user: t.user, end: k, item: it, label: 0 });
      }
    }
  }
  return out;
}

function batchTensors(ep: Episodes, xs: Example[], H: number) {
  const hist = xs.map((x) => positiveHistory(ep.timelines[x.user], x.end, H));
  const { items, length } = itemHistoryBatch(hist, H, ep.numItems);
  return {
    history: tf.tensor2d(items, [xs.length, H], "int32"),
    length: tf.tensor1d(length, "int32"),
    items: tf.tensor1d(Int32Array.from(xs.map((x) => x.item)), "int32"),
    labels: tf.tensor1d(Float32Array.from(xs.map((x) => x.label))),
  };
}

export function predictLogits(model: ResponseModel, ep: Episodes, xs: Example[], batchSize = 1024): Float32Array {
  const out = new Float32Array(xs.length);
  for (let i = 0; i < xs.length; i += batchSize) {
    const chunk = xs.slice(i, i + batchSize);
    const t = batchTensors(ep, chunk, model.config.historyLength);
    const z = model.logits(t.history, t.length, t.items);
    out.set(z.dataSync() as Float32Array, i);
    tf.dispose([t.history, t.length, t.items, t.labels, z]);
  }
  return out;
}

export interface ResponseTrainResult {
  model: ResponseModel;
  valAuc: number;
  trainLoss: number[]; // mean BCE per epoch
  steps: number; // optimiser steps taken
  stepsPerEpoch: number;
  seconds: number;
  stepSeconds: number; // of which the optimiser steps (the rest: examples and the validation AUC)
}

export function trainResponseModel(
  ep: Episodes,
  cfg: ResponseTrainConfig,
  features?: Float32Array[],
  onProgress?: (done: number, total: number, loss: number) => void,
): ResponseTrainResult {
  const t0 = performance.now();
  const rng = new Rng(cfg.seed);
  const H = ep.config.historyLength;
  const rc: ResponseConfig = {
    numItems: ep.numItems,
    featureDim: features ? features[0].length : 0,
    dim: cfg.dim,
    hidden: cfg.hidden,
    historyLength: H,
  };
  const model = new ResponseModel(rc, rng.seed(), features);
  const train = responseExamples(ep, "train", cfg.negatives, rng);
  if (train.length === 0) throw new Error("response model: no training interactions");
  const opt = tf.train.adam(cfg.lr);
  const tSteps = performance.now();
  const steps = Math.ceil(train.length / cfg.batchSize);
  const trainLoss: number[] = [];
  const maxSteps = cfg.maxSteps ?? Number.POSITIVE_INFINITY;
  let taken = 0; // optimiser steps, over all epochs
  for (let e = 0; e < cfg.epochs && taken < maxSteps; e++) {
    rng.shuffle(train);
    let sum = 0;
    let s = 0;
    for (; s < steps && taken < maxSteps; s++, taken++) {
      const chunk = train.slice(s * cfg.batchSize, (s + 1) * cfg.batchSize);
      const t = batchTensors(ep, chunk, H);
      const loss = opt.minimize(
        () => tf.losses.sigmoidCrossEntropy(t.labels, model.logits(t.history, t.length, t.items)) as tf.Scalar,
        true,
        model.variables(),
      )!;
      const l = (loss.dataSync() as Float32Array)[0];
      sum += l;
      tf.dispose([t.history, t.length, t.items, t.labels, loss]);
      onProgress?.(taken + 1, cfg.epochs * steps, l);
    }
    trainLoss.push(sum / s);
  }
  opt.dispose();
  const stepSeconds = (performance.now() - tSteps) / 1000;
  const val = responseExamples(ep, "val", cfg.negatives, new Rng(cfg.seed + 7));
  const valAuc = val.length
    ? auc(
        predictLogits(model, ep, val),
        val.map((x) => x.label),
      )
    : NaN;
  return { model, valAuc, trainLoss, steps: taken, stepsPerEpoch: steps, seconds: (performance.now() - t0) / 1000, stepSeconds };
}
