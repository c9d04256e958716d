// `hsrl default-model`: the embedded default the Worker starts with, rebuilt from nothing but the seed:
//   synthetic catalog + logs (seeded) -> SIDs (same as `hsrl sids --data synthetic --format synthetic --popularity 0 --no-plain`)
//   -> supervised HPN (next-positive SID tokens, scripts/learn/supervised.ts) -> export (fp32 + int8, parity, manifest)
//   -> <out>/{manifest.json, hpn.int8.onnx, hpn.fp32.onnx, parity.json} + the SID artifacts but sid-table.json
//      (codebook.json, item-encoder.json, sid-table.sql, sid-report.json/.md)
// Intermediate files (SID artifacts, checkpoint) go to --work. Default --out is model/default/: model/ itself still holds
// the serving fixture the worker tests are written against, until the lead switches the Worker over.
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Command } from "commander";
import { generateSynthetic, parseSyntheticSpec } from "../data/synthetic";
import { exportHpn } from "../export/export";
import { datasetHeldOut } from "../export/heldout";
import { buildEpisodes, nextPositiveExamples } from "../learn/episodes";
import { ActorPolicy, PopularPolicy } from "../learn/policies";
import { HpnActor } from "../learn/actors";
import { offlineMetrics } from "../learn/evaluate";
import { DEFAULT_SUPERVISED, trainSupervised } from "../learn/supervised";
import { initBackend } from "../model/backend";
import { saveHpnCheckpoint } from "../model/checkpoint";
import { DEFAULT_HPN_CONFIG, Hpn, type HpnConfig } from "../model/hpn";
import { writeSidArtifacts } from "../sids/artifacts";
import { buildSids } from "../sids/build";
import { int } from "./flags";

export function register(program: Command): void {
  program
    .command("default-model")
    .description("build the embedded default model (synthetic catalog -> SIDs -> supervised HPN -> int8 ONNX) into model/")
    .option("--out <dir>", "where the committed default lives", "model/default")
    .option("--work <dir>", "intermediate files (SID artifacts, checkpoint)", "runs/default-model")
    .option("--data <spec>", "synthetic spec (see hsrl sids)", "synthetic")
    .option("--steps <n>", "supervised training steps", int("steps"), DEFAULT_SUPERVISED.steps)
    .option("--histories <n>", "held-out histories for the parity check", int("histories"), 1000)
    .option("--seed <n>", "seed for data, SIDs, init and training", int("seed"), 1)
    .option("--created-at <iso>", "fixed created_at (default: now)")
    .action(async (o) => {
      const t0 = performance.now();
      await initBackend();
      const spec = parseSyntheticSpec(o.data, o.seed);
      const dataset = generateSynthetic(spec);
      console.error(`${dataset.name}: ${dataset.items.length} items, ${dataset.users.length} users, ${dataset.interactions.length} interactions`);

      // The `sids` command's defaults (L 3, d 32, 20 iterations; V from the catalog size), without the popularity coordinate or the plain-RQ comparison, in-process.
      const sidsDir = join(o.work, "sids");
      const build = await buildSids(dataset, { levels: 3, dim: 32, seed: o.seed, iterations: 20, plainRq: false });
      writeSidArtifacts(sidsDir, dataset, build);
      const { codebook } = build;
      const L = codebook.levels;
      const sidTokens = new Int32Array(dataset.items.length * L);
      for (const e of build.table) sidTokens.set(e.sid, e.item * L);
      console.error(`SIDs: L=${L}, V=${codebook.size}, codebook ${codebook.version}, ${build.report.collisionRateBeforeResolution.toFixed(3)} collision rate`);

      const config: HpnConfig = { ...DEFAULT_HPN_CONFIG, levels: L, vocab: codebook.size };
      const ep = buildEpisodes(dataset, { historyLength: config.historyLength, holdoutFraction: 0 });
      const train = nextPositiveExamples(ep, "train", false);
      const hpn = new Hpn(config, o.seed);
      const sup = { ...DEFAULT_SUPERVISED, steps: o.steps, seed: o.seed };
      const result = trainSupervised(hpn, train, sidTokens, sup, process.stderr.isTTY);
      // Offline next-positive metrics on the test split, by the learning code's rules (learn/evaluate.ts).
      const catalog = new Uint8Array(dataset.items.length).fill(1);
      const hpnTest = offlineMetrics(new ActorPolicy("hpn-sl", new HpnActor(hpn, sidTokens)), ep, catalog);
      const popular = offlineMetrics(new PopularPolicy(ep.trainPositiveCount), ep, catalog);
      console.error(`trained ${sup.steps} steps (${result.msPerStep.toFixed(0)} ms/step): loss ${result.losses[0].toFixed(3)} -> ${result.losses.at(-1)!.toFixed(3)}; test Recall@10 ${hpnTest.recall10.toFixed(4)}, NDCG@10 ${hpnTest.ndcg10.toFixed(4)} (popular: ${popular.recall10.toFixed(4)}, ${popular.ndcg10.toFixed(4)})`);

      const training = {
        dataset: dataset.name,
        seed: o.seed,
        method: "supervised next-positive SID-token NLL (all positions)",
        steps: sup.steps,
        batchSize: sup.batchSize,
        lr: sup.lr,
        trainExamples: train.length,
        finalLoss: result.losses.at(-1),
        msPerStep: result.msPerStep,
        command: `npm run hsrl -- default-model --data ${o.data} --steps ${o.steps} --seed ${o.seed}`,
      };
      const evaluation = { offlineTest: { "hpn-sl": hpnTest, popular } };
      saveHpnCheckpoint(join(o.work, "checkpoint"), hpn, { training, evaluation });

      const heldOut = datasetHeldOut(dataset, sidTokens, { levels: L, historyLength: config.historyLength, histories: o.histories });
      const { manifest, parity, sizes } = await exportHpn({
        hpn, outDir: o.out, heldOut, codebook, codebookPath: "codebook.json", training, evaluation, createdAt: o.createdAt,
        progress: process.stderr.isTTY,
      });
      // Every SID artifact travels with the model (codebook, item encoder, D1 seed, report) except sid-table.json:
      // it repeats sid-table.sql's content and would take the directory past the 2 MB budget.
      mkdirSync(o.out, { recursive: true });
      for (const f of readdirSync(sidsDir)) if (f !== "sid-table.json") copyFileSync(join(sidsDir, f), join(o.out, f));
      console.log(`default model ${manifest.version} in ${o.out}/ (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
      console.log(`  sizes: fp32 ${sizes.fp32} B, int8 ${sizes.int8} B (${(100 * sizes.ratio).toFixed(1)}%)`);
      console.log(`  parity (${parity.histories} test-split histories): fp32 max |Δ| ${parity.fp32.maxAbsDiff.toExponential(2)}, int8 max |Δ| ${parity.int8.maxAbsDiffVsFp32.toExponential(2)}, top-10 overlap ${parity.int8.top10Overlap.toFixed(4)}`);
      if (parity.ndcg10) console.log(`  test NDCG@10: fp32 ${parity.ndcg10.fp32.toFixed(4)}, int8 ${parity.ndcg10.int8.toFixed(4)} (Δ ${parity.ndcg10.deltaInt8VsFp32.toExponential(2)})`);
      hpn.dispose();
    });
}
