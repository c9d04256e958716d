// The embedded default the Worker starts with, rebuilt from nothing but the seed:
//   synthetic catalog + logs (seeded) -> SIDs (as `hsrl sids --data synthetic --format synthetic --popularity 0 --no-plain`)
//   -> supervised HPN through the one training path (learner.ts: policy hpn-sl, SASRec-style all-positions
//      SID-token NLL, no simulator) -> export (fp32 + int8, parity, manifest)
//   -> <out>/{manifest.json, hpn.int8.onnx, hpn.fp32.onnx, parity.json} + the SID artifacts but sid-table.json
//      (codebook.json, item-encoder.json, sid-table.sql, sid-report.json/.md)
// Intermediate files (SID artifacts, checkpoint) go to <work>.
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { generateSynthetic, parseSyntheticSpec } from "../data/synthetic";
import { defaultExperimentConfig, type ExperimentConfig } from "../learn/config";
import { evaluateLearner, trainLearner } from "../learn/learner";
import type { HpnActor } from "../learn/actors";
import { ActorPolicy, PopularPolicy } from "../learn/policies";
import { buildWorld } from "../learn/world";
import { saveHpnCheckpoint } from "../model/checkpoint";
import { writeSidArtifacts } from "../sids/artifacts";
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
  seed: number;
  createdAt?: string;
  progress?: Progress;
  log?: (line: string) => void;
}

// The supervised recipe: all-positions BC (about H times more targets per step at the cost of one), no clipping.
const SUPERVISED = { batchSize: 64, actorLr: 2e-3 };

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

  const base = defaultExperimentConfig();
  const cfg: ExperimentConfig = {
    ...base,
    seed: o.seed,
    episodes: { holdoutFraction: 0 },
    hpnLoss: "tokens",
    train: { ...base.train, steps: o.steps, ...SUPERVISED, gradClip: Infinity, bcPositions: "all" },
  };
  const world = buildWorld(dataset, cfg, { simulator: false });
  // streamSeed: the seed itself, the stream this default has always been trained on
  const trained = trainLearner({ name: "hpn-sl", seed: o.seed, dir: null, streamSeed: o.seed, progress: o.progress }, cfg, sids, world);
  const hpn = (trained.actor as HpnActor).hpn;
  const losses = trained.log.map((l) => l.bcLoss);
  // Offline next-positive metrics on the test split, over every item of the catalog.
  const catalog = new Uint8Array(dataset.items.length).fill(1);
  const hpnTest = evaluateLearner(new ActorPolicy("hpn-sl", trained.actor), cfg, world, { seed: o.seed, episodes: 0, catalog }).offline;
  const popular = evaluateLearner(new PopularPolicy(world.episodes.trainPositiveCount), cfg, world, {
    seed: o.seed,
    episodes: 0,
    catalog,
  }).offline;
  log(
    `trained ${o.steps} steps (${trained.msPerStep.bc.toFixed(0)} ms/step): loss ${losses[0].toFixed(3)} -> ` +
      `${losses.at(-1)!.toFixed(3)}; test Recall@10 ${hpnTest.recall10.toFixed(4)}, NDCG@10 ${hpnTest.ndcg10.toFixed(4)} ` +
      `(popular: ${popular.recall10.toFixed(4)}, ${popular.ndcg10.toFixed(4)})`,
  );

  const training = {
    dataset: dataset.name,
    seed: o.seed,
    method: "supervised next-positive SID-token NLL (all positions)",
    steps: o.steps,
    batchSize: SUPERVISED.batchSize,
    lr: SUPERVISED.actorLr,
    trainExamples: world.bcExamples.length,
    finalLoss: losses.at(-1),
    msPerStep: trained.msPerStep.bc,
    command: `npm run hsrl -- default-model --data ${o.data} --steps ${o.steps} --seed ${o.seed}`,
  };
  const evaluation = { offlineTest: { "hpn-sl": hpnTest, popular } };
  saveHpnCheckpoint(join(o.work, "checkpoint"), hpn, { training, evaluation });

  const heldOut = datasetHeldOut(dataset, sids.sidTokens, { levels: L, historyLength: hpn.config.historyLength, histories: o.histories });
  const result = await exportHpn({
    hpn,
    outDir: o.out,
    heldOut,
    codebook,
    codebookPath: "codebook.json",
    training,
    evaluation,
    createdAt: o.createdAt,
    progress: process.stderr.isTTY,
  });
  // Every SID artifact travels with the model (codebook, item encoder, D1 seed, report) except sid-table.json:
  // it repeats sid-table.sql's content and would take the directory past the 2 MB budget.
  mkdirSync(o.out, { recursive: true });
  for (const f of readdirSync(sidsDir)) if (f !== "sid-table.json") copyFileSync(join(sidsDir, f), join(o.out, f));
  trained.actor.dispose();
  return result;
}
