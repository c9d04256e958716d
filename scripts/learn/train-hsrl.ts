// `hsrl train` as a function (the pipeline calls it too): dataset -> SIDs (a given sid-table.json, or built into
// <out>/sids) -> response model (the simulator) -> HSRL (HPN + multi-level critic: BC warm start, then A2C) for one
// seed, through the one training path (learner.ts) -> a checkpoint dir that `hsrl export --checkpoint` reads:
//   <out>/hpn.json + hpn.weights.bin   the actor (meta.training, meta.evaluation for the manifest)
//   <out>/actor.*, critic.*            the learner's finished run (reused by a rerun on the same inputs)
//   <out>/progress/                    saved every checkpointEvery steps; `resume` continues from it
//   <out>/response/                    the simulator's response model
//   <out>/sids/                        codebook.json, sid-table.json, ... (when built here)
//   <out>/train-log.json, curves-reward.svg
import fs from "node:fs";
import path from "node:path";
import type { Dataset } from "../data/dataset";
import { type CheckpointPrior, saveHpnCheckpoint } from "../model/checkpoint";
import { datasetSids, type SidInputs, type SidSource } from "../sids/table";
import { writeJson } from "../util/files";
import type { Progress } from "../util/progress";
import type { HpnActor } from "./actors";
import { popularityStats } from "../../core/popularity-prior";
import type { ExperimentConfig } from "./config";
import { disposeLearner, evaluateLearner, trainLearner } from "./learner";
import { ActorPolicy } from "./policies";
import { lineChart } from "./report";
import { buildWorld, type World } from "./world";

export interface TrainHsrlOptions {
  dataset: Dataset;
  out: string;
  cfg: ExperimentConfig; // its episodes' holdoutFraction is forced to 0: the model to serve sees the whole catalog
  sids: SidSource;
  episodes: number; // simulated episodes for the closing evaluation
  resume?: boolean;
  checkpointEvery?: number;
  progress?: Progress;
  log?: (line: string) => void;
}

export interface TrainOutcome {
  outDir: string;
  sids: SidInputs;
  codebookPath?: string;
  sidTablePath: string;
  responseAuc: number;
  evaluation: Record<string, unknown>;
  msPerStep: { bc: number; rl: number };
  // with a learned prior: its checkpoint meta and g per item id, for the SID table the catalog loads (pipeline.ts)
  priors: LearnedPrior | null;
}

/** A trained actor's popularity prior: β's weights with the statistics g uses, and g per item id for the catalog. */
export interface LearnedPrior {
  meta: CheckpointPrior;
  of: (id: string) => number | null; // from the run's training counts; null: no counts, the catalog's prior
}

/** The learned prior of a trained actor (null without one), as the checkpoint and the SID table carry it. */
export function learnedPrior(actor: HpnActor, world: World, dataset: Dataset): LearnedPrior | null {
  const weights = actor.priorWeights();
  if (!weights) return null;
  const stats = popularityStats(world.episodes.trainPositiveCount, world.trainCatalog);
  const indexOf = new Map(dataset.items.map((it, i) => [it.id, i]));
  return {
    meta: { b: weights.b.data[0], w: Array.from(weights.w.data), stats },
    of: (id) => {
      const i = indexOf.get(id);
      return i !== undefined && world.trainCatalog[i] ? world.prior[i] : null;
    },
  };
}

export async function trainHsrl(o: TrainHsrlOptions): Promise<TrainOutcome> {
  const t0 = performance.now();
  const log = o.log ?? console.log;
  const cfg: ExperimentConfig = { ...o.cfg, episodes: { ...o.cfg.episodes, holdoutFraction: 0 } };
  const { dataset, out } = o;
  fs.mkdirSync(out, { recursive: true });
  const { sids, features, codebookPath, sidTablePath } = await datasetSids(dataset, o.sids, path.join(out, "sids"));
  const world = buildWorld(dataset, cfg, { dir: out, features, progress: o.progress, reuse: Boolean(o.resume) });
  log(`response model: validation AUC ${world.responseAuc.toFixed(4)}`);
  const trained = trainLearner(
    { name: "hsrl", seed: cfg.seed, dir: out, resume: o.resume, checkpointEvery: o.checkpointEvery, progress: o.progress },
    cfg,
    sids,
    world,
  );
  const { online, offline } = evaluateLearner(new ActorPolicy("hsrl", trained.actor), cfg, world, {
    seed: cfg.seed,
    episodes: o.episodes,
    progress: o.progress,
  });
  const evaluation = {
    totalReward: online!.totalReward,
    depth: online!.depth,
    clickRate: online!.clickRate,
    recall10: offline.recall10,
    ndcg10: offline.ndcg10,
    responseModelAUC: world.responseAuc,
    episodes: online!.episodes,
  };
  // The learned popularity prior travels in the checkpoint's meta; the export turns it into the graph's "beta" output
  // and the manifest's prior (checkpointPrior).
  const priors = learnedPrior(trained.actor as HpnActor, world, dataset);
  saveHpnCheckpoint(out, (trained.actor as HpnActor).hpn, {
    popularityPrior: priors ? { ...priors.meta, newItemPrior: 0 } : null,
    training: {
      dataset: dataset.name,
      seed: cfg.seed,
      steps: cfg.train.steps,
      train: cfg.train,
      simulator: cfg.sim,
      levelWeights: trained.levelWeights,
      msPerStep: trained.msPerStep,
      seconds: (performance.now() - t0) / 1000,
    },
    evaluation,
    sids: { levels: sids.levels, vocab: sids.vocab, codebookVersion: sids.codebookVersion, sidTable: sidTablePath },
  });
  writeJson(path.join(out, "train-log.json"), trained.log);
  const curve = trained.log.filter((l) => l.episodeReward !== undefined).map((l): [number, number] => [l.step, l.episodeReward!]);
  fs.writeFileSync(
    path.join(out, "curves-reward.svg"),
    lineChart([{ name: "hsrl", points: curve }], "HSRL training episodes: total reward (last 100)", "step", "total reward"),
  );
  log(
    `HSRL: total reward ${online!.totalReward.mean.toFixed(2)} [${online!.totalReward.ci95.map((x) => x.toFixed(2)).join(", ")}], ` +
      `depth ${online!.depth.mean.toFixed(2)}, click rate ${online!.clickRate.toFixed(3)}, Recall@10 ` +
      `${offline.recall10.toFixed(4)}, NDCG@10 ${offline.ndcg10.toFixed(4)}`,
  );
  log(
    `step time: BC ${trained.msPerStep.bc.toFixed(0)} ms, RL ${trained.msPerStep.rl.toFixed(0)} ms (batch ${cfg.train.batchSize}, ` +
      `H ${cfg.historyLength}, d ${cfg.hpn.dModel})`,
  );
  log(
    `wrote ${out}/hpn.json + hpn.weights.bin (export with: npm run hsrl -- export --checkpoint ${out} ...) in ` +
      `${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
  disposeLearner(trained);
  world.response?.dispose();
  return {
    outDir: out,
    sids,
    codebookPath,
    sidTablePath,
    responseAuc: world.responseAuc,
    evaluation,
    msPerStep: trained.msPerStep,
    priors,
  };
}
