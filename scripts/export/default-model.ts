// The embedded default the Worker starts with, rebuilt from nothing but the seed:
//   synthetic catalog + logs (seeded) -> SIDs (as `hsrl sids --data synthetic --format synthetic --popularity 0 --no-plain`)
//   -> HSRL through the one training path (learner.ts: policy hsrl with the experiment defaults: BC warm start, on-policy
//      A2C on the simulator, per-item credit, learned popularity prior) -> export (fp32 + int8 + beta, parity, manifest)
//   -> <out>/{manifest.json, hpn.int8.onnx, hpn.fp32.onnx, parity.json} + the SID artifacts but sid-table.json
//      (codebook.json, item-encoder.json, sid-table.sql, sid-report.json/.md)
// Intermediate files (SID artifacts, checkpoint) go to <work>.
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { generateSynthetic, parseSyntheticSpec } from "../data/synthetic";
import { defaultExperimentConfig, type ExperimentConfig } from "../learn/config";
import { disposeLearner, evaluateLearner, trainLearner } from "../learn/learner";
import type { HpnActor } from "../learn/actors";
import { ActorPolicy, PopularPolicy } from "../learn/policies";
import { learnedPrior } from "../learn/train-hsrl";
import { buildWorld } from "../learn/world";
import { saveHpnCheckpoint } from "../model/checkpoint";
import { writeSidArtifacts, writeSidTablePriors } from "../sids/artifacts";
import { buildSids } from "../sids/build";
import { tableTokens } from "../sids/table";
import type { Progress } from "../util/progress";
import { exportHpn, type ExportResult } from "./export";
import { datasetHeldOut } from "./heldout";

export interface DefaultModelOptions {
  out: string;
  work: string;
  data: string; // synthetic spec
  steps: number;
  histories: number; // held-out histories for the parity check
  episodes: number; // simulator episodes for the manifest's evaluation
  seed: number;
  createdAt?: string;
  progress?: Progress;
  log?: (line: string) => void;
}

export async function buildDefaultModel(o: DefaultModelOptions): Promise<ExportResult> {
  const log = o.log ?? ((line: string) => console.error(line));
  const dataset = generateSynthetic(parseSyntheticSpec(o.data, o.seed));
  log(`${dataset.name}: ${dataset.items.length} items, ${dataset.users.length} users, ${dataset.interactions.length} interactions`);

  // The `sids` command's defaults (L 3, d 32, 20 iterations; V from the catalog size), without the popularity
  // coordinate or the plain-RQ comparison.
  const sidsDir = join(o.work, "sids");
  const build = await buildSids(dataset, { levels: 3, dim: 32, seed: o.seed, iterations: 20, plainRq: false });
  writeSidArtifacts(sidsDir, dataset, build);
  const { codebook } = build;
  const L = codebook.levels;
  const sids = {
    sidTokens: tableTokens(build.table, dataset.items.length, L),
    levels: L,
    vocab: codebook.size,
    codebookVersion: codebook.version,
  };
  log(
    `SIDs: L=${L}, V=${codebook.size}, codebook ${codebook.version}, ${build.report.collisionRateBeforeResolution.toFixed(3)} ` +
      `collision rate`,
  );

  // The current method (the defaults of `hsrl evaluate`'s hsrl policy): content SIDs, BC warm start then on-policy A2C
  // against the simulator, per-item credit, the learned popularity prior β(s)·g(pop). Only the budget is small.
  const base = defaultExperimentConfig();
  const cfg: ExperimentConfig = { ...base, seed: o.seed, episodes: { holdoutFraction: 0 }, train: { ...base.train, steps: o.steps } };
  const world = buildWorld(dataset, cfg, { features: build.unitVectors });
  log(`response model: validation AUC ${world.responseAuc.toFixed(4)}`);
  // streamSeed: the seed itself, so the build depends on nothing but it
  const trained = trainLearner({ name: "hsrl", seed: o.seed, dir: null, streamSeed: o.seed, progress: o.progress }, cfg, sids, world);
  const actor = trained.actor as HpnActor;
  const hpn = actor.hpn;
  const rewards = trained.log.filter((l) => l.episodeReward !== undefined).map((l) => l.episodeReward!);
  // Offline next-positive metrics on the test split, over every item of the catalog; a short online evaluation.
  const catalog = new Uint8Array(dataset.items.length).fill(1);
  const run = (policy: Parameters<typeof evaluateLearner>[0]) =>
    evaluateLearner(policy, cfg, world, { seed: o.seed, episodes: o.episodes, catalog });
  const hsrl = run(new ActorPolicy("hsrl", actor));
  const popular = run(new PopularPolicy(world.episodes.trainPositiveCount));
  const summary = (e: typeof hsrl) => ({ ...e.offline, totalReward: e.online?.totalReward.mean, clickRate: e.online?.clickRate });
  log(
    `trained ${o.steps} steps (BC ${trained.msPerStep.bc.toFixed(0)} ms/step, RL ${trained.msPerStep.rl.toFixed(0)} ms/step); ` +
      `total reward ${hsrl.online?.totalReward.mean.toFixed(3)} (popular ${popular.online?.totalReward.mean.toFixed(3)}) over ` +
      `${o.episodes} episodes; test NDCG@10 ${hsrl.offline.ndcg10.toFixed(4)} (popular ${popular.offline.ndcg10.toFixed(4)})`,
  );

  const prior = learnedPrior(actor, world, dataset);
  const training = {
    dataset: dataset.name,
    seed: o.seed,
    method: "HSRL: content SIDs, BC warm start + on-policy A2C on the simulator, per-item credit, learned popularity prior",
    steps: o.steps,
    train: cfg.train,
    simulator: cfg.sim,
    levelWeights: trained.levelWeights,
    finalEpisodeReward: rewards.at(-1),
    msPerStep: trained.msPerStep,
    command: `npm run hsrl -- default-model --data ${o.data} --steps ${o.steps} --seed ${o.seed}`,
  };
  const evaluation = {
    episodes: o.episodes,
    responseModelAUC: world.responseAuc,
    test: { hsrl: summary(hsrl), popular: summary(popular) },
  };
  const priorMeta = prior?.meta ?? null;
  saveHpnCheckpoint(join(o.work, "checkpoint"), hpn, { popularityPrior: priorMeta, training, evaluation });
  // the catalog's priors: every trained item's g from its training counts (the D1 seed carries them)
  if (prior) writeSidTablePriors(join(sidsDir, "sid-table.sql"), prior.of, prior.meta.stats);

  const heldOut = datasetHeldOut(dataset, sids.sidTokens, { levels: L, historyLength: hpn.config.historyLength, histories: o.histories });
  const result = await exportHpn({
    hpn,
    outDir: o.out,
    heldOut,
    codebook,
    codebookPath: "codebook.json",
    prior: priorMeta,
    training,
    evaluation,
    createdAt: o.createdAt,
    progress: process.stderr.isTTY,
  });
  // Every SID artifact travels with the model (codebook, item encoder, D1 seed, report) except sid-table.json:
  // it repeats sid-table.sql's content and would take the directory past the 2 MB budget.
  mkdirSync(o.out, { recursive: true });
  for (const f of readdirSync(sidsDir)) if (f !== "sid-table.json") copyFileSync(join(sidsDir, f), join(o.out, f));
  disposeLearner(trained);
  world.response?.dispose();
  return result;
}
