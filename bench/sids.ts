// SID build at scale: 1,000,000 synthetic item vectors (d = 32, a skewed mixture of 2,000 Gaussian clusters), L = 3,
// V = 256, balanced residual k-means on all cores, through the real buildSids path (supplied item vectors).
// Reports seconds per stage and peak memory (max RSS of the process, worker threads included). Targets: <= 180 s, <= 2 GB.
import { availableParallelism } from "node:os";
import { encodeSid } from "../core/codebook";
import type { Dataset, ItemMeta } from "../scripts/data/dataset";
import { Rng } from "../core/rng";
import { buildSids } from "../scripts/sids/build";

export function syntheticVectors(n: number, d: number, clusters: number, seed: number): Float32Array[] {
  const rng = new Rng(seed);
  const centres = Array.from({ length: clusters }, () => Float32Array.from({ length: d }, () => rng.normal()));
  const weight = Float64Array.from({ length: clusters }, () => Math.exp(1.2 * rng.normal())); // skewed cluster sizes
  const cum = new Float64Array(clusters);
  weight.reduce((s, w, i) => (cum[i] = s + w), 0);
  const total = cum[clusters - 1];
  const out: Float32Array[] = new Array(n);
  const flat = new Float32Array(n * d); // views into one buffer: a million small buffers would cost ~3x the memory
  for (let i = 0; i < n; i++) {
    const u = rng.next() * total;
    let lo = 0,
      hi = clusters - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    const c = centres[lo];
    const v = (out[i] = flat.subarray(i * d, i * d + d));
    for (let j = 0; j < d; j++) v[j] = c[j] + 0.35 * rng.normal();
  }
  return out;
}

export default async function benchSids(opts: { items?: number; threads?: number } = {}): Promise<Record<string, unknown>> {
  const n = opts.items ?? Number(process.env.BENCH_SIDS_ITEMS ?? 1_000_000);
  const d = 32,
    levels = 3,
    size = 256;
  const t0 = performance.now();
  const vectors = syntheticVectors(n, d, 2_000, 1);
  const items: ItemMeta[] = Array.from({ length: n }, (_, i) => ({ id: String(i + 1), title: "", genres: [], tags: [], attributes: {} }));
  const dataset: Dataset = { name: `bench:${n}`, users: [], items, interactions: [], ratingScale: null, itemFeatures: vectors };
  const generateSeconds = (performance.now() - t0) / 1000;

  let lastStage = "";
  const t1 = performance.now();
  const build = await buildSids(dataset, {
    levels,
    size,
    dim: d,
    seed: 1,
    threads: opts.threads ?? 0,
    plainRq: false,
    progress: (stage) => {
      if (stage !== lastStage) process.stderr.write(`  ${stage} (${((performance.now() - t1) / 1000).toFixed(1)} s)\n`);
      lastStage = stage;
    },
  });
  const buildSeconds = (performance.now() - t1) / 1000;

  // Spot check: the shared encoder reproduces 10,000 built SIDs.
  const rng = new Rng(2);
  let mismatches = 0;
  const t2 = performance.now();
  for (let s = 0; s < 10_000; s++) {
    const e = build.table[rng.int(n)];
    const sid = encodeSid(build.codebook, build.features.vectors[e.item]);
    if (sid.some((t, l) => t !== e.sid[l])) mismatches++;
  }
  const encodeMicros = ((performance.now() - t2) * 1000) / 10_000;
  const r = build.report;
  return {
    items: n,
    dim: d,
    levels,
    codebookSize: size,
    threads: opts.threads || availableParallelism(),
    generateSeconds: +generateSeconds.toFixed(2),
    buildSeconds: +buildSeconds.toFixed(2),
    secondsByStage: r.secondsByStage,
    levelSeconds: r.levelSeconds,
    trainIterations: r.trainIterations,
    trainRows: r.trainRows,
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    targets: { seconds: 180, peakRssMB: 2048 },
    collisionRateBeforeResolution: r.collisionRateBeforeResolution,
    collisions: r.collisions,
    utilization: r.utilization,
    maxClusterShare: r.maxClusterShare,
    reconstructionError: r.reconstructionError,
    encodeSidMicros: +encodeMicros.toFixed(2),
    encodeMismatches: mismatches,
  };
}
