// `hsrl train`: dataset -> SIDs (a given sid-table.json, or built here) -> response model (simulator) -> HSRL (HPN +
// multi-level critic, BC warm start then A2C) for one seed -> checkpoint dir readable by `hsrl export --checkpoint`:
//   <out>/hpn.json + hpn.weights.bin   the actor (meta.training, meta.evaluation for the manifest)
//   <out>/critic.json + .weights.bin   the critic
//   <out>/response/                    the simulator's response model
//   <out>/sids/                        codebook.json, sid-table.json, ... (when built here)
//   <out>/train-log.json, curves-reward.svg
// Resume: --resume picks up <out>/progress/ (saved every --checkpoint-every steps).
import fs from "node:fs";
import path from "node:path";
import { Command } from "commander";
import type { Dataset } from "../data/dataset";
import { loadDataset } from "../data/load";
import { initBackend } from "../model/backend";
import { saveHpnCheckpoint } from "../model/checkpoint";
import { buildSids } from "../sids/build";
import { writeSidArtifacts } from "../sids/artifacts";
import { itemFeatures, positivesPerItem } from "../sids/features";
import { trainPolicy, type StepLog } from "../learn/a2c";
import type { HpnActor } from "../learn/actors";
import { hasCheckpoint, loadCheckpoint, saveCheckpoint } from "../learn/checkpoint";
import { evaluationStarts, offlineMetrics, runEpisodes } from "../learn/evaluate";
import { buildWorld, defaultExperimentConfig, makeLearner, trainContext, writeJson, type ExperimentConfig, type SidInputs } from "../learn/experiment";
import { ActorPolicy } from "../learn/policies";
import { progressBar } from "../learn/progress";
import { lineChart } from "../learn/report";
import { ResponseClickModel } from "../learn/simulator";
import { sidTokensForItems } from "./export";
import { int, num } from "./flags";

/** Flags shared by train / evaluate / pipeline. */
export function addLearningOptions(c: Command): Command {
  return c
    .requiredOption("--data <path>", "dataset path (a directory for MovieLens formats, a spec for synthetic)")
    .requiredOption("--format <format>", "movielens | ml-100k | ml-1m | csv | synthetic")
    .requiredOption("--out <dir>", "output directory")
    .option("--seed <n>", "seed (everything is reproducible from it)", int("seed"), 1)
    .option("--steps <n>", "gradient steps per learned policy", int("steps"), 600)
    .option("--batch <n>", "batch size (users per RL step, examples per BC step)", int("batch"), 64)
    .option("--warm-start <x>", "share of the steps spent on behaviour cloning before A2C", num("warm-start"), 0.3)
    .option("--bc-weight <x>", "weight of the BC auxiliary loss during A2C", num("bc-weight"), 0.5)
    .option("--actor-lr <x>", "actor learning rate", num("actor-lr"), 1e-3)
    .option("--critic-lr <x>", "critic learning rate", num("critic-lr"), 1e-3)
    .option("--entropy <x>", "entropy bonus coefficient", num("entropy"), 0.1)
    .option("--gamma <x>", "discount", num("gamma"), 0.9)
    .option("--slate <n>", "slate size K", int("slate"), 10)
    .option("--history <n>", "history length H", int("history"), 50)
    .option("--levels <n>", "SID levels L (when SIDs are built here)", int("levels"), 3)
    .option("--vocab <n>", "codebook size V (when SIDs are built here; default from catalog size)", int("vocab"))
    .option("--positive <x>", "rated data: positive iff rating >= this", num("positive"), 4)
    .option("--sid-popularity <w>", "share of the SID features given to item popularity (log positives; 0 = none)", num("sid-popularity"), 0.5)
    .option("--response-epochs <n>", "response model epochs", int("response-epochs"), 3)
    .option("--hpn-loss <kind>", 'HPN losses over "catalog" (log π of the catalog policy) or "tokens" (per-level NLL)', "catalog")
    .option("--threads <n>", "tfjs-wasm threads", int("threads"), 1);
}

export function experimentConfigFrom(o: Record<string, any>): ExperimentConfig {
  const cfg = defaultExperimentConfig();
  cfg.train = { ...cfg.train, steps: o.steps, batchSize: o.batch, warmStartFraction: o.warmStart, bcWeight: o.bcWeight, actorLr: o.actorLr, criticLr: o.criticLr, entropyCoef: o.entropy, gamma: o.gamma, seed: o.seed };
  if (o.hpnLoss !== "catalog" && o.hpnLoss !== "tokens") throw new Error(`--hpn-loss must be "catalog" or "tokens", got "${o.hpnLoss}"`);
  cfg.hpnLoss = o.hpnLoss;
  if (!(o.sidPopularity >= 0 && o.sidPopularity < 1)) throw new Error(`--sid-popularity must be in [0, 1), got ${o.sidPopularity}`);
  cfg.sidPopularity = o.sidPopularity;
  cfg.sim = { ...cfg.sim, slateSize: o.slate, historyLength: o.history };
  cfg.hpn = { ...cfg.hpn, historyLength: o.history };
  cfg.response = { ...cfg.response, epochs: o.responseEpochs, seed: o.seed };
  cfg.episodes = { positiveThreshold: o.positive, historyLength: o.history, seed: o.seed };
  if (!(o.warmStart >= 0 && o.warmStart <= 1)) throw new Error(`--warm-start must be in [0, 1], got ${o.warmStart}`);
  if (o.steps < 1 || o.batch < 1 || o.slate < 1 || o.history < 1) throw new Error("--steps, --batch, --slate and --history must be >= 1");
  return cfg;
}

/** SIDs for a dataset from a sid-table.json, or built now (artifacts written to <dir>). Also item features. */
export async function sidsFor(dataset: Dataset, o: { sidTable?: string; levels: number; vocab?: number; seed: number; sidPopularity: number; positive: number }, dir: string): Promise<{ sids: SidInputs; features: Float32Array[]; codebookPath?: string; sidTablePath: string }> {
  if (o.sidTable) {
    const codebookPath = path.join(path.dirname(o.sidTable), "codebook.json");
    const cb = fs.existsSync(codebookPath) ? (JSON.parse(fs.readFileSync(codebookPath, "utf8")) as { size: number; levels: number; version: string }) : null;
    const levels = cb?.levels ?? o.levels;
    const sidTokens = sidTokensForItems(o.sidTable, dataset.items.map((it) => it.id), levels);
    const vocab = cb?.size ?? Math.max(...sidTokens) + 1;
    const features = itemFeatures(dataset, { dim: 32, seed: o.seed }).vectors;
    return { sids: { sidTokens, levels, vocab, codebookVersion: cb?.version }, features, codebookPath: cb ? codebookPath : undefined, sidTablePath: o.sidTable };
  }
  const w = o.sidPopularity;
  const popularity = w > 0 ? { weight: w, positives: positivesPerItem(dataset, o.positive) } : undefined;
  const built = await buildSids(dataset, { levels: o.levels, size: o.vocab, dim: 32, seed: o.seed, plainRq: false, popularity });
  writeSidArtifacts(dir, dataset, built);
  const L = o.levels;
  const sidTokens = new Int32Array(dataset.items.length * L);
  built.table.forEach((e) => sidTokens.set(e.sid, e.item * L));
  return {
    sids: { sidTokens, levels: L, vocab: built.codebook.size, codebookVersion: built.codebook.version },
    features: built.unitVectors,
    codebookPath: path.join(dir, "codebook.json"),
    sidTablePath: path.join(dir, "sid-table.json"),
  };
}

export interface TrainOutcome {
  outDir: string;
  dataset: Dataset; // as loaded for training, so a caller need not load it again
  sids: SidInputs;
  codebookPath?: string;
  sidTablePath: string;
  responseAuc: number;
  evaluation: Record<string, unknown>;
  msPerStep: { bc: number; rl: number };
}

/** The `train` command as a function (the pipeline calls it directly). */
export async function runTrain(o: Record<string, any>): Promise<TrainOutcome> {
  await initBackend({ threads: o.threads || 1 });
  const t0 = performance.now();
  const cfg = experimentConfigFrom(o);
  cfg.episodes.holdoutFraction = 0; // the model to serve sees the whole catalog; held-out items are `evaluate`'s experiment
  const dataset = loadDataset(o.data, o.format, { seed: o.seed });
  const out: string = o.out;
  fs.mkdirSync(out, { recursive: true });
  const { progress, stop } = progressBar(o.progress ?? undefined);
  try {
    const { sids, features, codebookPath, sidTablePath } = await sidsFor(dataset, o as Parameters<typeof sidsFor>[1], path.join(out, "sids"));
    const world = buildWorld(dataset, cfg, out, features, progress, Boolean(o.resume));
    console.log(`response model: validation AUC ${world.responseAuc.toFixed(4)}`);
    const { actor, critic } = makeLearner("hsrl", cfg, sids, world, o.seed);
    const hpnActor = actor as HpnActor;
    const progDir = path.join(out, "progress");
    let startStep = 0;
    let prevLog: StepLog[] = [];
    if (o.resume && hasCheckpoint(progDir, "actor")) {
      const a = loadCheckpoint<{ step: number; log: StepLog[] }>(progDir, "actor");
      actor.setWeights(a.weights);
      critic!.setWeights(loadCheckpoint(progDir, "critic").weights);
      startStep = a.meta.step;
      prevLog = a.meta.log;
      console.log(`resuming at step ${startStep} from ${progDir}`);
    }
    const res = trainPolicy(
      actor,
      critic,
      trainContext(world, cfg.sim),
      cfg.train,
      (l) => progress("train hsrl", l.step + 1, cfg.train.steps, l.phase === "bc" ? `bc ${l.bcLoss.toFixed(3)}` : `R ${l.episodeReward?.toFixed(2) ?? "-"}`),
      startStep,
      {
        every: o.checkpointEvery ?? 100,
        save: (step, log) => {
          saveCheckpoint(progDir, "actor", { step, log: [...prevLog, ...log] }, actor.getWeights());
          saveCheckpoint(progDir, "critic", { step }, critic!.getWeights());
        },
      },
    );
    const log = [...prevLog, ...res.log];
    // quick evaluation of what was trained: 500 simulated episodes + test-split ranking
    const policy = new ActorPolicy("hsrl", actor);
    const online = runEpisodes(policy, new ResponseClickModel(world.response), cfg.sim, evaluationStarts(world.episodes, o.episodes ?? 500, o.seed), world.fullCatalog, world.episodes.heldOut, o.seed, 100, (d, t) => progress("simulate hsrl", d, t));
    const offline = offlineMetrics(policy, world.episodes, world.fullCatalog);
    const evaluation = { totalReward: online.totalReward, depth: online.depth, clickRate: online.clickRate, recall10: offline.recall10, ndcg10: offline.ndcg10, responseModelAUC: world.responseAuc, episodes: online.episodes };
    saveHpnCheckpoint(out, hpnActor.hpn, {
      training: { dataset: dataset.name, seed: o.seed, steps: cfg.train.steps, train: cfg.train, simulator: cfg.sim, levelWeights: res.levelWeights, msPerStep: res.msPerStep, seconds: (performance.now() - t0) / 1000 },
      evaluation,
      sids: { levels: sids.levels, vocab: sids.vocab, codebookVersion: sids.codebookVersion, sidTable: sidTablePath },
    });
    saveCheckpoint(out, "critic", { config: critic!.config }, critic!.getWeights());
    writeJson(path.join(out, "train-log.json"), log);
    fs.writeFileSync(path.join(out, "curves-reward.svg"), lineChart([{ name: "hsrl", points: log.filter((l) => l.episodeReward !== undefined).map((l) => [l.step, l.episodeReward!]) }], "HSRL training episodes: total reward (last 100)", "step", "total reward"));
    stop();
    console.log(`HSRL: total reward ${online.totalReward.mean.toFixed(2)} [${online.totalReward.ci95.map((x) => x.toFixed(2)).join(", ")}], depth ${online.depth.mean.toFixed(2)}, click rate ${online.clickRate.toFixed(3)}, Recall@10 ${offline.recall10.toFixed(4)}, NDCG@10 ${offline.ndcg10.toFixed(4)}`);
    console.log(`step time: BC ${res.msPerStep.bc.toFixed(0)} ms, RL ${res.msPerStep.rl.toFixed(0)} ms (batch ${cfg.train.batchSize}, H ${cfg.hpn.historyLength}, d ${cfg.hpn.dModel})`);
    console.log(`wrote ${out}/hpn.json + hpn.weights.bin (export with: npm run hsrl -- export --checkpoint ${out} ...) in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    critic!.dispose();
    actor.dispose();
    world.response.dispose();
    return { outDir: out, dataset, sids, codebookPath, sidTablePath, responseAuc: world.responseAuc, evaluation, msPerStep: res.msPerStep };
  } finally {
    stop();
  }
}

export function register(program: Command): void {
  addLearningOptions(program.command("train").description("train the response model and HSRL (HPN + multi-level critic, A2C) for one seed"))
    .option("--sid-table <file>", "sid-table.json from `hsrl sids` (default: build SIDs here into <out>/sids)")
    .option("--episodes <n>", "simulated episodes for the closing evaluation", int("episodes"), 500)
    .option("--checkpoint-every <n>", "save <out>/progress every n steps", int("checkpoint-every"), 100)
    .option("--resume", "continue from <out>/progress (and reuse <out>/response)")
    .action(async (o) => {
      await runTrain(o);
    });
}
