// `hsrl default-model`: rebuilds the embedded default (export/default-model.ts) into model/default/.
import type { Command } from "commander";
import { buildDefaultModel } from "../export/default-model";
import { initBackend } from "../model/backend";
import { nonNegativeInt } from "./flags";
import { progressBar } from "./progress-bar";

interface DefaultModelFlags {
  out: string;
  work: string;
  data: string;
  steps: number;
  histories: number;
  episodes: number;
  seed: number;
  createdAt?: string;
}

export function register(program: Command): void {
  program
    .command("default-model")
    .description(
      "build the embedded default model (synthetic catalog -> content SIDs -> HSRL with the popularity prior -> int8 ONNX) into model/default/",
    )
    .option("--out <dir>", "where the committed default lives", "model/default")
    .option("--work <dir>", "intermediate files (SID artifacts, checkpoint)", "runs/default-model")
    .option("--data <spec>", "synthetic spec (see hsrl sids)", "synthetic")
    .option("--steps <n>", "training steps (BC warm start + A2C)", nonNegativeInt("steps"), 300)
    .option("--episodes <n>", "simulator episodes for the manifest's evaluation", nonNegativeInt("episodes"), 200)
    .option("--histories <n>", "held-out histories for the parity check", nonNegativeInt("histories"), 1000)
    .option("--seed <n>", "seed for data, SIDs, init and training", nonNegativeInt("seed"), 1)
    .option("--created-at <iso>", "fixed created_at (default: now)")
    .action(async (o: DefaultModelFlags) => {
      const t0 = performance.now();
      await initBackend();
      const bar = progressBar();
      const { manifest, parity, sizes } = await buildDefaultModel({ ...o, progress: bar.progress }).finally(() => bar.stop());
      console.log(`default model ${manifest.version} in ${o.out}/ (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
      console.log(`  sizes: fp32 ${sizes.fp32} B, int8 ${sizes.int8} B (${(100 * sizes.ratio).toFixed(1)}%)`);
      console.log(
        `  parity (${parity.histories} test-split histories): fp32 max |Δ| ${parity.fp32.maxAbsDiff.toExponential(2)}, int8 max ` +
          `|Δ| ${parity.int8.maxAbsDiffVsFp32.toExponential(2)}, top-10 overlap ${parity.int8.top10Overlap.toFixed(4)}`,
      );
      if (parity.ndcg10)
        console.log(
          `  test NDCG@10: fp32 ${parity.ndcg10.fp32.toFixed(4)}, int8 ${parity.ndcg10.int8.toFixed(4)} (Δ ` +
            `${parity.ndcg10.deltaInt8VsFp32.toExponential(2)})`,
        );
    });
}
