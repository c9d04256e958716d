// `hsrl sids`: dataset -> item features -> balanced residual k-means codebook -> SID table, report and D1 seed.
import { type Command, Option } from "commander";
import { DATASET_FORMATS } from "../data/dataset";
import { formatSkipped, isDatasetFormat, loadDataset } from "../data/load";
import { buildSids } from "../sids/build";
import { positivesPerItem } from "../sids/features";
import { fraction, intIn, num } from "./flags";
import { writeSidArtifacts } from "../sids/artifacts";
import { progressBar } from "./progress-bar";

export function register(program: Command): void {
  program
    .command("sids")
    .description("build item features, a balanced residual k-means codebook and the invertible SID table")
    .requiredOption("--data <path>", "dataset directory or file; for synthetic a spec like items=2000,users=600 (or 'synthetic')")
    .addOption(new Option("--format <format>", "dataset format").choices(DATASET_FORMATS).makeOptionMandatory())
    .requiredOption("--out <dir>", "output directory: codebook.json, item-encoder.json, sid-table.json, sid-table.sql, sid-report.json/.md")
    .option("--items <file>", "csv format: item file (id + vector columns, or id + attribute columns)")
    .option("--levels <n>", "codebook levels L", intIn("levels", 1, 8), 3)
    .option("--size <n>", "codes per level V (default: from catalog size, so V^L >= 16 x items)", intIn("size", 16, 1024))
    .option("--dim <n>", "item feature dimension d", intIn("dim", 2, 1024), 32)
    .option("--iterations <n>", "k-means iterations per level", intIn("iterations", 1, 1000), 20)
    .option("--threads <n>", "worker threads for the distance kernels (0 = one per core)", intIn("threads", 0, 64))
    .option("--skip-bad-rows", "skip malformed data rows (counted in the summary) instead of failing", false)
    .option("--no-plain", "skip the plain (unbalanced) RQ comparison")
    .option(
      "--popularity <w>",
      "share of each SID feature vector given to item popularity (log positives; 0 = content-only, the default)",
      fraction("popularity"),
      0,
    )
    .option("--positive <x>", "rated data: an interaction is positive when its rating is at least this", num("positive"), 4)
    .option("--seed <n>", "seed for sampling, k-means++ and PCA", intIn("seed", 0, 2 ** 31 - 1), 1)
    .action(async (o) => {
      if (!isDatasetFormat(o.format)) throw new Error(`unknown --format ${o.format}`);
      const t0 = performance.now();
      const dataset = loadDataset(o.data, o.format, {
        seed: o.seed,
        itemsFile: o.items,
        skipMalformed: o.skipBadRows,
        onSkipped: (r) => console.error(formatSkipped(r)),
      });
      console.error(
        `${dataset.name}: ${dataset.items.length} items, ${dataset.users.length} users, ${dataset.interactions.length} ` +
          `interactions (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
      );

      const bar = progressBar(); // a bar with ETA per stage on a TTY, one line per finished stage otherwise
      const result = await buildSids(dataset, {
        levels: o.levels,
        size: o.size,
        dim: o.dim,
        seed: o.seed,
        iterations: o.iterations,
        threads: o.threads,
        plainRq: o.plain,
        popularity: o.popularity > 0 ? { weight: o.popularity, positives: positivesPerItem(dataset, o.positive) } : undefined,
        progress: bar.progress,
      }).finally(() => bar.stop());
      const { files } = writeSidArtifacts(o.out, dataset, result);
      const r = result.report;
      const pct = (xs: number[]) => xs.map((x) => `${(100 * x).toFixed(1)}%`).join(" / ");
      console.log(
        [
          `SIDs for ${r.items} items: L=${r.levels}, V=${r.codebookSize}, d=${r.dim}, codebook ${r.codebookVersion} ` +
            `(${r.seconds.toFixed(1)} s)`,
          `  collisions before resolution: ${pct([r.collisionRateBeforeResolution])} of items (max collision index ` +
            `${r.maxCollisionIndex}); after: ${r.collisions}`,
          `  utilization per level: ${pct(r.utilization)}; max cluster share: ${pct(r.maxClusterShare)}`,
          `  reconstruction error per level: ${r.reconstructionError.map((x) => x.toFixed(4)).join(" / ")}` +
            (r.plainRqReconstructionError ? ` (plain RQ: ${r.plainRqReconstructionError.map((x) => x.toFixed(4)).join(" / ")})` : ""),
          ...files.map((f) => `  wrote ${f}`),
        ].join("\n"),
      );
    });
}
