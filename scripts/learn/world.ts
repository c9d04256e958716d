// The world every learner of one dataset shares: episodes split by time, the training and full catalogs, the
// next-positive examples behaviour cloning reads, and the user-response model the simulator runs on (trained here, or
// reused from <dir>/response when it was trained on the same inputs).
import path from "node:path";
import { popularityPrior } from "../../core/popularity-prior";
import type { Dataset } from "../data/dataset";
import { hasCheckpoint, loadCheckpoint, saveCheckpoint } from "../model/checkpoint";
import { ResponseModel } from "../model/response";
import type { NamedWeights } from "../model/tfops";
import type { Progress } from "../util/progress";
import type { Rng } from "../../core/rng";
import type { TrainContext } from "./a2c";
import { buildEpisodes, nextPositiveExamples, positiveHistory, type Episodes } from "./episodes";
import type { ExperimentConfig } from "./config";
import { simulatorConfig } from "./config";
import { trainResponseModel } from "./response-trainer";
import { ResponseClickModel } from "./simulator";

export interface World {
  episodes: Episodes;
  trainCatalog: Uint8Array; // active items minus held-out ones
  fullCatalog: Uint8Array; // every item seen in the logs
  bcExamples: ReturnType<typeof nextPositiveExamples>;
  prior: Float32Array; // g(pop_i) from train-split positives; held-out items at the catalog's prior (core/popularity-prior)
  response: ResponseModel | null; // null when built without a simulator (supervised-only learners)
  responseAuc: number;
}

export interface WorldOptions {
  dir?: string | null; // where the response model is saved and looked for (<dir>/response)
  features?: Float32Array[]; // item vectors the response model reads
  progress?: Progress;
  reuse?: boolean; // reuse a saved response model trained on the same inputs (default true)
  simulator?: boolean; // train (or load) the response model (default true)
  response?: ResponseSnapshot; // use this response model (a job worker gets its parent's): nothing trained or loaded
}

/** A response model as plain data (what a job worker is handed). */
export interface ResponseSnapshot {
  config: ResponseModel["config"];
  weights: NamedWeights;
  valAuc: number;
}

export function buildWorld(dataset: Dataset, cfg: ExperimentConfig, o: WorldOptions = {}): World {
  const episodes = buildEpisodes(dataset, { ...cfg.episodes, historyLength: cfg.historyLength, seed: cfg.seed });
  const fullCatalog = new Uint8Array(episodes.numItems);
  for (const t of episodes.timelines) for (const it of t.items) fullCatalog[it] = 1;
  const trainCatalog = fullCatalog.map((a, i) => (a && !episodes.heldOut[i] ? 1 : 0));
  const bcExamples = nextPositiveExamples(episodes, "train", true);
  const prior = popularityPrior(episodes.trainPositiveCount, trainCatalog);
  if (o.simulator === false) return { episodes, trainCatalog, fullCatalog, bcExamples, prior, response: null, responseAuc: NaN };
  if (o.response) {
    const response = new ResponseModel(o.response.config, 0, o.features);
    response.setWeights(o.response.weights);
    return { episodes, trainCatalog, fullCatalog, bcExamples, prior, response, responseAuc: o.response.valAuc };
  }

  const responseCfg = { ...cfg.response, seed: cfg.seed };
  const rdir = o.dir ? path.join(o.dir, "response") : null;
  // A saved response model is reused only if it was trained on the same item features and episodes config
  // (a changed feature definition would silently feed it vectors it never saw).
  const inputs = `${featureFingerprint(o.features)}/${JSON.stringify(episodes.config)}/${JSON.stringify(responseCfg)}`;
  const saved =
    rdir && o.reuse !== false && hasCheckpoint(rdir, "response")
      ? loadCheckpoint<{ config: ResponseModel["config"]; valAuc: number; inputs?: string }>(rdir, "response")
      : null;
  if (saved && saved.meta.inputs === inputs) {
    const response = new ResponseModel(saved.meta.config, 0, o.features);
    response.setWeights(saved.weights);
    return { episodes, trainCatalog, fullCatalog, bcExamples, prior, response, responseAuc: saved.meta.valAuc };
  }
  if (saved) process.stderr.write(`response model in ${rdir} was trained on other inputs: training a new one\n`);
  const r = trainResponseModel(episodes, responseCfg, o.features, (d, t, l) => o.progress?.("response model", d, t, `bce ${l.toFixed(3)}`));
  if (rdir)
    saveCheckpoint(
      rdir,
      "response",
      { config: r.model.config, valAuc: r.valAuc, trainLoss: r.trainLoss, seconds: r.seconds, inputs },
      r.model.getWeights(),
    );
  return { episodes, trainCatalog, fullCatalog, bcExamples, prior, response: r.model, responseAuc: r.valAuc };
}

/** FNV-1a over the feature bytes: identifies the exact item vectors a model was trained on. */
export function featureFingerprint(features?: Float32Array[]): string {
  if (!features) return "none";
  let h = 0x811c9dc5;
  for (const f of features) {
    const b = new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
    for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 16777619) >>> 0;
  }
  return `${features.length}x${features[0]?.length ?? 0}:${h.toString(16)}`;
}

/** What the trainer reads: the simulator, the training catalog, BC examples, and where training episodes start. */
export function trainContext(world: World, cfg: ExperimentConfig): TrainContext {
  const ep = world.episodes;
  const H = cfg.historyLength;
  const users = ep.timelines.filter((t) => t.trainEnd > 0).map((t) => t.user);
  return {
    clickModel: world.response ? new ResponseClickModel(world.response) : null,
    sim: simulatorConfig(cfg),
    catalog: world.trainCatalog,
    bcExamples: world.bcExamples,
    starts: {
      // training episodes start from the end of the user's train split (no held-out items in view)
      sample: (rng: Rng) => {
        const u = users[rng.int(users.length)];
        const t = ep.timelines[u];
        return { user: u, history: positiveHistory(t, t.trainEnd, H, ep.heldOut) };
      },
    },
  };
}
