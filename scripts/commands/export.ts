// `hsrl export`: checkpoint (or --random HPN) -> hpn.fp32.onnx, hpn.int8.onnx, manifest.json, parity.json.
import { copyFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Command, Option } from "commander";
import { DATASET_FORMATS } from "../data/dataset";
import { loadDataset } from "../data/load";
import { initBackend } from "../model/backend";
import { type CheckpointPrior, checkpointPrior, loadHpnCheckpoint } from "../model/checkpoint";
import { DEFAULT_HPN_CONFIG, Hpn, type HpnConfig } from "../model/hpn";
import { exportHpn } from "../export/export";
import { datasetHeldOut, randomHeldOut } from "../export/heldout";
import type { HeldOutHistories } from "../export/parity";
import { loadCodebookFile, readSidTokens } from "../sids/table";
import { signedInt, num } from "./flags";

export function register(program: Command): void {
  program
    .command("export")
    .description("export an HPN checkpoint to fp32 + int8 ONNX with a manifest and a parity report")
    .option("--checkpoint <dir>", "HPN checkpoint dir (hpn.json + hpn.weights.bin)")
    .requiredOption("--out <dir>", "output directory")
    .option("--codebook <file>", "codebook.json the SIDs were built with (recorded in the manifest)")
    .option("--histories <n>", "held-out histories for the parity check", signedInt("histories"), 1000)
    .option("--data <path>", "dataset for held-out histories (test split) and NDCG@10; needs --format and --sid-table")
    .addOption(new Option("--format <format>", "dataset format").choices(DATASET_FORMATS))
    .option("--sid-table <file>", "SID table JSON: [{id, tokens|sid}] for the dataset's items")
    .addOption(new Option("--serve <variant>", "which file the manifest serves").choices(["int8", "fp32"]).default("int8"))
    .option("--random", "export a randomly initialised HPN (no checkpoint)")
    .option("--levels <n>", "L (with --random)", signedInt("levels"), 3)
    .option("--vocab <n>", "V (with --random)", signedInt("vocab"), 64)
    .option("--history-length <n>", "H (with --random)", signedInt("history-length"), DEFAULT_HPN_CONFIG.historyLength)
    .option("--d-model <n>", "d_model (with --random)", signedInt("d-model"), DEFAULT_HPN_CONFIG.dModel)
    .option("--heads <n>", "attention heads (with --random)", signedInt("heads"), DEFAULT_HPN_CONFIG.heads)
    .option("--layers <n>", "transformer layers (with --random)", signedInt("layers"), DEFAULT_HPN_CONFIG.layers)
    .option("--ff <n>", "feed-forward width (with --random)", signedInt("ff"), DEFAULT_HPN_CONFIG.ff)
    .option("--tau <x>", "head temperature (with --random)", num("tau"), DEFAULT_HPN_CONFIG.tau)
    .option("--no-residual", "ablation: every head reads c_0 (with --random)")
    .option("--seed <n>", "seed for --random weights and random histories", signedInt("seed"), 1)
    .option("--created-at <iso>", "fixed created_at (reproducible manifests)")
    .action(async (o) => {
      await initBackend();
      let hpn: Hpn;
      let training: { dataset: string; seed: number } & Record<string, unknown>;
      let evaluation: Record<string, unknown> | undefined;
      let prior: CheckpointPrior | null = null;
      if (o.random) {
        if (o.checkpoint) throw new Error("export: give either --checkpoint or --random, not both");
        const config: HpnConfig = {
          levels: o.levels,
          vocab: o.vocab,
          historyLength: o.historyLength,
          dModel: o.dModel,
          heads: o.heads,
          layers: o.layers,
          ff: o.ff,
          dropout: DEFAULT_HPN_CONFIG.dropout,
          tau: o.tau,
          residual: o.residual,
        };
        hpn = new Hpn(config, o.seed);
        training = { dataset: "none (random init)", seed: o.seed };
      } else {
        if (!o.checkpoint) throw new Error("export: --checkpoint <dir> is required (or --random)");
        const loaded = loadHpnCheckpoint(o.checkpoint);
        hpn = loaded.hpn;
        prior = checkpointPrior(loaded.meta);
        const t = (loaded.meta.training ?? {}) as Record<string, unknown>;
        training = { ...t, dataset: String(t.dataset ?? loaded.meta.dataset ?? "unknown"), seed: Number(t.seed ?? loaded.meta.seed ?? 0) };
        if (loaded.meta.evaluation && typeof loaded.meta.evaluation === "object")
          evaluation = loaded.meta.evaluation as Record<string, unknown>;
      }
      const { levels: L, vocab: V, historyLength: H } = hpn.config;
      const codebook = o.codebook ? loadCodebookFile(o.codebook) : null;

      let heldOut: HeldOutHistories;
      if (o.data) {
        if (!o.format || !o.sidTable) throw new Error("export: --data needs --format and --sid-table");
        const dataset = loadDataset(o.data, o.format, { seed: o.seed });
        const tokens = readSidTokens(
          o.sidTable,
          dataset.items.map((it) => it.id),
          L,
          codebook?.version,
        );
        heldOut = datasetHeldOut(dataset, tokens, { levels: L, historyLength: H, histories: o.histories });
      } else {
        heldOut = randomHeldOut({ levels: L, vocab: V, historyLength: H, histories: o.histories, seed: o.seed });
      }

      const { manifest, parity, sizes } = await exportHpn({
        hpn,
        outDir: o.out,
        heldOut,
        codebook,
        codebookPath: codebook ? "codebook.json" : undefined,
        prior,
        training,
        evaluation,
        serve: o.serve,
        createdAt: o.createdAt,
        progress: process.stderr.isTTY,
      });
      // The codebook travels beside the model, so the directory is complete for publishing.
      if (o.codebook && resolve(o.codebook) !== resolve(join(o.out, "codebook.json")))
        copyFileSync(o.codebook, join(o.out, "codebook.json"));
      const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
      console.log(
        `wrote ${o.out}/{hpn.fp32.onnx, hpn.int8.onnx, manifest.json, parity.json${codebook ? ", codebook.json" : ""}}  version ` +
          `${manifest.version}`,
      );
      console.log(`sizes: fp32 ${kb(sizes.fp32)}, int8 ${kb(sizes.int8)} (${(100 * sizes.ratio).toFixed(1)}% of fp32)`);
      console.log(`parity on ${parity.histories} histories (${parity.source}; ${parity.coldHistories} cold):`);
      console.log(
        `  fp32 vs tfjs: max |Δ log-prob| ${parity.fp32.maxAbsDiff.toExponential(2)} (<= ${parity.fp32.tolerance}: ` +
          `${parity.fp32.pass ? "ok" : "FAIL"})`,
      );
      console.log(
        `  int8 vs fp32: max |Δ| ${parity.int8.maxAbsDiffVsFp32.toExponential(2)}, top-10 overlap ` +
          `${parity.int8.top10Overlap.toFixed(4)} over ${parity.catalogItems} items (target >= ${parity.int8.target}: ` +
          `${parity.int8.pass ? "ok" : "BELOW"})`,
      );
      if (parity.beta)
        console.log(
          `  beta (popularity prior): fp32 vs tfjs max |Δ| ${parity.beta.fp32MaxAbsDiff.toExponential(2)}, int8 vs fp32 ` +
            `${parity.beta.int8MaxAbsDiffVsFp32.toExponential(2)} (${parity.beta.pass ? "ok" : "FAIL"})`,
        );
      if (parity.ndcg10)
        console.log(
          `  NDCG@10: tfjs ${parity.ndcg10.tfjs.toFixed(4)}, fp32 ${parity.ndcg10.fp32.toFixed(4)}, int8 ` +
            `${parity.ndcg10.int8.toFixed(4)} (Δ ${parity.ndcg10.deltaInt8VsFp32.toExponential(2)})`,
        );
      hpn.dispose();
    });
}
