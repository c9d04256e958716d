// The whole comparison in one place: episodes -> response model (the simulator) -> every policy trained on the same
// data, simulator and budget -> online (simulator) and offline (test split) metrics over several seeds.
// Everything that was trained is saved under <out>/runs/, so an interrupted run resumes where it stopped.
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import type { Dataset } from "../data/dataset";
import { DEFAULT_HPN_CONFIG, type HpnConfig } from "../model/hpn";
import { MultiLevelCritic } from "../model/critic";
import { ResponseModel } from "../model/response";
import { FlatActor, HpnActor, type Actor, type HpnLoss, type HpnPrefix } from "./actors";
import { DEFAULT_TRAIN, trainPolicy, type StepLog, type TrainConfig, type TrainContext } from "./a2c";
import { hasCheckpoint, loadCheckpoint, saveCheckpoint } from "./checkpoint";
import { buildEpisodes, nextPositiveExamples, positiveHistory, type EpisodeConfig, type Episodes } from "./episodes";
import { evaluationStarts, offlineMetrics, runEpisodes, type OfflineResult, type OnlineResult } from "./evaluate";
import type { MeanCi } from "./metrics";
import { ActorPolicy, PopularPolicy, RandomPolicy, type Policy } from "./policies";
import { DEFAULT_RESPONSE_TRAIN, trainResponseModel, type ResponseTrainConfig } from "./response-trainer";
import { Rng } from "./rng";
import { DEFAULT_SIMULATOR, ResponseClickModel, type SimulatorConfig } from "./simulator";

// hsrl-ar / hpn-sl-ar: the autoregressive HPN (each level refined by the chosen token; actors.ts), with A2C + MLC or
// supervised only. It is trained and evaluated here; the ONNX contract (prefix-independent levels) cannot serve it yet.
export const POLICY_NAMES = ["random", "popular", "sl", "flat-a2c", "hsrl", "hsrl-no-residual", "hsrl-no-mlc", "hpn-sl", "hsrl-ar", "hpn-sl-ar"] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

/** Item -> SID tokens for every item; held-out items must be encoded with a codebook fitted without them. */
export interface SidInputs {
  sidTokens: Int32Array; // [N * L]
  levels: number;
  vocab: number;
  codebookVersion?: string;
}

export interface ExperimentConfig {
  episodes: Partial<EpisodeConfig>;
  response: ResponseTrainConfig;
  hpn: Omit<HpnConfig, "levels" | "vocab" | "residual">;
  train: TrainConfig;
  hpnLoss: HpnLoss; // what the HPN policies' losses normalise over (actors.ts)
  sidPopularity?: number; // the popularity coordinate's weight in the SID features (learn/sids.ts), for the report
  sim: SimulatorConfig;
  seeds: number[];
  episodesPerSeed: number;
  policies: PolicyName[];
}

export function defaultExperimentConfig(): ExperimentConfig {
  return {
    episodes: {},
    response: { ...DEFAULT_RESPONSE_TRAIN },
    hpn: { ...DEFAULT_HPN_CONFIG },
    train: { ...DEFAULT_TRAIN },
    hpnLoss: "catalog",
    sim: { ...DEFAULT_SIMULATOR },
    seeds: [1, 2, 3],
    episodesPerSeed: 500,
    policies: [...POLICY_NAMES],
  };
}

export interface PolicyReport {
  totalReward: MeanCi;
  depth: MeanCi;
  clickRate: number;
  recall10: number;
  ndcg10: number;
  newItemShare: number;
  newItemClickShare: number;
  perSeed: { seed: number; online: OnlineResult; offline: OfflineResult; trainSeconds: number }[];
}

export interface EvalReport {
  policies: Record<string, PolicyReport>;
  responseModelAUC: number;
  seconds: number;
  config: Record<string, unknown>;
  curves: Record<string, { seed: number; log: StepLog[] }[]>;
  msPerStep: Record<string, { bc: number; rl: number }>;
  levelWeights: Record<string, number[][]>;
}

export type Progress = (stage: string, done: number, total: number, info?: string) => void;

/** The world the learners share for one dataset: episodes, catalogs, start sampler, response model. */
export interface World {
  episodes: Episodes;
  trainCatalog: Uint8Array; // active items minus held-out ones
  fullCatalog: Uint8Array; // every item seen in the logs
  bcExamples: ReturnType<typeof nextPositiveExamples>;
  response: ResponseModel;
  responseAuc: number;
}

export function buildWorld(dataset: Dataset, cfg: ExperimentConfig, outDir: string | null, features?: Float32Array[], progress?: Progress, reuse = true): World {
  const episodes = buildEpisodes(dataset, { historyLength: cfg.hpn.historyLength, ...cfg.episodes });
  const fullCatalog = new Uint8Array(episodes.numItems);
  for (const t of episodes.timelines) for (const it of t.items) fullCatalog[it] = 1;
  const trainCatalog = fullCatalog.map((a, i) => (a && !episodes.heldOut[i] ? 1 : 0));
  const bcExamples = nextPositiveExamples(episodes, "train", true);
  let response: ResponseModel;
  let responseAuc: number;
  const rdir = outDir ? path.join(outDir, "response") : null;
  // A saved response model is reused only if it was trained on the same item features and episodes config
  // (a changed feature definition would silently feed it vectors it never saw).
  const inputs = `${featureFingerprint(features)}/${JSON.stringify(episodes.config)}/${JSON.stringify(cfg.response)}`;
  const saved = rdir && reuse && hasCheckpoint(rdir, "response") ? loadCheckpoint<{ config: ResponseModel["config"]; valAuc: number; inputs?: string }>(rdir, "response") : null;
  if (saved && saved.meta.inputs === inputs) {
    response = new ResponseModel(saved.meta.config, 0, features);
    response.setWeights(saved.weights);
    responseAuc = saved.meta.valAuc;
  } else {
    if (saved) process.stderr.write(`response model in ${rdir} was trained on other inputs: training a new one\n`);
    const r = trainResponseModel(episodes, cfg.response, features, (d, t, l) => progress?.("response model", d, t, `bce ${l.toFixed(3)}`));
    response = r.model;
    responseAuc = r.valAuc;
    if (rdir) saveCheckpoint(rdir, "response", { config: response.config, valAuc: r.valAuc, trainLoss: r.trainLoss, seconds: r.seconds, inputs }, response.getWeights());
  }
  return { episodes, trainCatalog, fullCatalog, bcExamples, response, responseAuc };
}

/** FNV-1a over the feature bytes: identifies the exact item vectors a response model was trained on. */
export function featureFingerprint(features?: Float32Array[]): string {
  if (!features) return "none";
  let h = 0x811c9dc5;
  for (const f of features) {
    const b = new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
    for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 16777619) >>> 0;
  }
  return `${features.length}x${features[0]?.length ?? 0}:${h.toString(16)}`;
}

export function trainContext(world: World, sim: SimulatorConfig): TrainContext {
  const ep = world.episodes;
  const H = ep.config.historyLength;
  const users = ep.timelines.filter((t) => t.trainEnd > 0).map((t) => t.user);
  return {
    clickModel: new ResponseClickModel(world.response),
    sim,
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

/** A fresh actor (+ critic) and its training mode for a learned policy. */
export function makeLearner(name: PolicyName, cfg: ExperimentConfig, sids: SidInputs, world: World, seed: number): { actor: Actor; critic: MultiLevelCritic | null; mode: TrainConfig["mode"] } {
  const hpnCfg: HpnConfig = { ...cfg.hpn, levels: sids.levels, vocab: sids.vocab, residual: name !== "hsrl-no-residual" };
  const d = cfg.hpn.dModel;
  const hpnActor = (prefix: HpnPrefix = "expected") => HpnActor.create(hpnCfg, seed, sids.sidTokens, { loss: cfg.hpnLoss, prefix, catalog: world.trainCatalog });
  const critic = (contexts: number) => new MultiLevelCritic({ dim: d, contexts, hidden: [256, 64] }, seed + 17);
  switch (name) {
    case "hsrl-ar":
      return { actor: hpnActor("chosen"), critic: critic(sids.levels + 1), mode: "a2c" };
    case "hpn-sl-ar":
      return { actor: hpnActor("chosen"), critic: null, mode: "supervised" };
    case "hsrl":
    case "hsrl-no-residual":
      return { actor: hpnActor(), critic: critic(sids.levels + 1), mode: "a2c" };
    case "hsrl-no-mlc":
      return { actor: hpnActor(), critic: critic(1), mode: "a2c" };
    case "hpn-sl":
      return { actor: hpnActor(), critic: null, mode: "supervised" };
    case "flat-a2c":
      return { actor: FlatActor.create(hpnCfg, seed, sids.sidTokens, world.trainCatalog), critic: critic(1), mode: "a2c" };
    case "sl":
      return { actor: FlatActor.create(hpnCfg, seed, sids.sidTokens, world.trainCatalog), critic: null, mode: "supervised" };
    default:
      throw new Error(`no learner for policy "${name}"`);
  }
}

interface TrainedRun {
  actor: Actor;
  log: StepLog[];
  seconds: number;
  msPerStep: { bc: number; rl: number };
  levelWeights?: number[];
}

/** Trains (or loads from <runDir>) one learned policy. */
export function trainOrLoad(name: PolicyName, cfg: ExperimentConfig, sids: SidInputs, world: World, seed: number, runDir: string | null, progress?: Progress): TrainedRun {
  const { actor, critic, mode } = makeLearner(name, cfg, sids, world, seed);
  // reuse a saved policy only if it was trained on these SIDs, this simulator and this config
  const simulator = world.response.getWeights().itemEmb.data;
  const inputs = `${featureFingerprint([Float32Array.from(sids.sidTokens)])}/${featureFingerprint([simulator])}/${JSON.stringify(cfg.train)}/${JSON.stringify(cfg.hpn)}/${cfg.hpnLoss}`;
  const saved = runDir && hasCheckpoint(runDir, "actor") ? loadCheckpoint<{ log: StepLog[]; seconds: number; msPerStep: { bc: number; rl: number }; levelWeights?: number[]; inputs?: string }>(runDir, "actor") : null;
  if (saved && saved.meta.inputs === inputs) {
    const { meta, weights } = saved;
    actor.setWeights(weights);
    critic?.dispose();
    return { actor, log: meta.log, seconds: meta.seconds, msPerStep: meta.msPerStep, levelWeights: meta.levelWeights };
  }
  const t0 = performance.now();
  const tc: TrainConfig = { ...cfg.train, mode, seed: seed * 1000 + POLICY_NAMES.indexOf(name) };
  const res = trainPolicy(actor, critic, trainContext(world, cfg.sim), tc, (l) =>
    progress?.(`train ${name} seed ${seed}`, l.step + 1, tc.steps, l.phase === "bc" ? `bc ${l.bcLoss.toFixed(3)}` : `R ${l.episodeReward?.toFixed(2) ?? "-"}`),
  );
  const seconds = (performance.now() - t0) / 1000;
  critic?.dispose();
  if (runDir) saveCheckpoint(runDir, "actor", { policy: name, seed, log: res.log, seconds, msPerStep: res.msPerStep, levelWeights: res.levelWeights, inputs }, actor.getWeights());
  return { actor, log: res.log, seconds, msPerStep: res.msPerStep, levelWeights: res.levelWeights };
}

export function runExperiment(dataset: Dataset, sids: SidInputs, cfg: ExperimentConfig, outDir: string | null, features?: Float32Array[], progress?: Progress): EvalReport {
  const t0 = performance.now();
  if (sids.sidTokens.length !== dataset.items.length * sids.levels) {
    throw new Error(`experiment: SID table has ${sids.sidTokens.length / sids.levels} items, dataset has ${dataset.items.length}`);
  }
  const world = buildWorld(dataset, cfg, outDir, features, progress);
  const clickModel = new ResponseClickModel(world.response);
  const report: EvalReport = {
    policies: {},
    responseModelAUC: world.responseAuc,
    seconds: 0,
    config: {},
    curves: {},
    msPerStep: {},
    levelWeights: {},
  };
  const perSeed = new Map<string, PolicyReport["perSeed"]>();
  for (const seed of cfg.seeds) {
    const starts = evaluationStarts(world.episodes, cfg.episodesPerSeed, seed);
    for (const name of cfg.policies) {
      let policy: Policy;
      let trained: TrainedRun | null = null;
      if (name === "random") policy = new RandomPolicy(world.episodes.numItems, new Rng(seed * 7 + 1));
      else if (name === "popular") policy = new PopularPolicy(world.episodes.trainPositiveCount);
      else {
        trained = trainOrLoad(name, cfg, sids, world, seed, outDir ? path.join(outDir, "runs", `seed-${seed}`, name) : null, progress);
        policy = new ActorPolicy(name, trained.actor);
      }
      const online = runEpisodes(policy, clickModel, cfg.sim, starts, world.fullCatalog, world.episodes.heldOut, seed * 101 + 5, 100, (d, t) =>
        progress?.(`simulate ${name} seed ${seed}`, d, t),
      );
      const offline = offlineMetrics(policy, world.episodes, world.fullCatalog);
      if (!perSeed.has(name)) perSeed.set(name, []);
      perSeed.get(name)!.push({ seed, online, offline, trainSeconds: trained?.seconds ?? 0 });
      if (trained) {
        (report.curves[name] ??= []).push({ seed, log: trained.log });
        report.msPerStep[name] = trained.msPerStep;
        if (trained.levelWeights) (report.levelWeights[name] ??= []).push(trained.levelWeights);
        trained.actor.dispose();
      }
    }
  }
  for (const [name, runs] of perSeed) report.policies[name] = aggregate(runs);
  report.seconds = (performance.now() - t0) / 1000;
  report.config = {
    dataset: dataset.name,
    users: dataset.users.length,
    items: dataset.items.length,
    interactions: dataset.interactions.length,
    heldOutItems: world.episodes.heldOut.reduce((a, b) => a + b, 0),
    positiveRate: world.episodes.positiveRate,
    episodes: world.episodes.config,
    split: "per user, time-ordered: last testFraction test, valFraction before it validation, rest train",
    sids: { levels: sids.levels, vocab: sids.vocab, codebookVersion: sids.codebookVersion, popularityWeight: cfg.sidPopularity ?? 0 },
    response: cfg.response,
    hpn: cfg.hpn,
    train: cfg.train,
    hpnLoss: cfg.hpnLoss,
    simulator: cfg.sim,
    seeds: cfg.seeds,
    episodesPerSeed: cfg.episodesPerSeed,
    backend: tf.getBackend(),
  };
  world.response.dispose();
  return report;
}

function aggregate(runs: PolicyReport["perSeed"]): PolicyReport {
  // The CI is over all episodes of all seeds pooled (so it includes the spread between seeds' trained policies);
  // per-seed numbers are kept beside it.
  const mean = (f: (r: PolicyReport["perSeed"][number]) => number) => runs.reduce((a, r) => a + f(r), 0) / runs.length;
  const pooled = (k: "totalReward" | "depth"): MeanCi => {
    const n = runs.reduce((a, r) => a + r.online.episodes, 0);
    const m = runs.reduce((a, r) => a + r.online[k].mean * r.online.episodes, 0) / n;
    // per-seed variance back from its CI half-width: sd² = (h / 1.96)² · n_i
    const v = runs.reduce((a, r) => {
      const sd2 = ((r.online[k].ci95[1] - r.online[k].mean) / 1.96) ** 2 * r.online.episodes;
      return a + r.online.episodes * (sd2 + (r.online[k].mean - m) ** 2);
    }, 0) / n;
    const h = 1.96 * Math.sqrt(v / n);
    return { mean: m, ci95: [m - h, m + h] };
  };
  return {
    totalReward: pooled("totalReward"),
    depth: pooled("depth"),
    clickRate: mean((r) => r.online.clickRate),
    recall10: mean((r) => r.offline.recall10),
    ndcg10: mean((r) => r.offline.ndcg10),
    newItemShare: mean((r) => r.online.newItemShare),
    newItemClickShare: mean((r) => r.online.newItemClickShare),
    perSeed: runs,
  };
}

export function writeJson(file: string, x: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(x, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 1) + "\n");
}
