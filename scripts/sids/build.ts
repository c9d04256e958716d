// buildSids: dataset -> item features -> balanced residual k-means codebook -> invertible SID table + report.
import { sidKey, type Codebook } from "../../core/codebook";
import type { Dataset } from "../data/dataset";
import { addPopularity, itemFeatures, type ItemFeatures } from "./features";
import type { Progress } from "../util/progress";
import { DEFAULT_KMEANS, defaultCodebookSize, MAX_CODEBOOK_SIZE, residualQuantize, type RqResult } from "./kmeans";
import { KernelPool } from "./pool";

export interface BuildOptions {
  levels: number;
  size?: number; // V; default from catalog size and L (16..1024: defaultCodebookSize)
  dim: number;
  seed: number;
  iterations?: number;
  capacityFactor?: number;
  threads?: number; // kernel pool threads; 0 = one per core, 1 = in-process
  plainRq?: boolean; // also build the unbalanced RQ for the comparison (default true)
  /** Append the popularity coordinate (core/item-encoder) with this weight, from these positives per item. */
  popularity?: { weight: number; positives: Float64Array };
  progress?: Progress;
}

export interface SidEntry {
  item: number; // dense item index
  id: string;
  sid: number[];
  collision: number; // 0, 1, 2.. among items sharing the same tokens, in item-id order
}

export interface SidReport {
  dataset: string;
  items: number;
  levels: number;
  codebookSize: number;
  dim: number;
  seed: number;
  codebookVersion: string;
  featureSource: ItemFeatures["source"];
  featureExplainedVariance: number;
  collisionRateBeforeResolution: number; // share of items that need a collision index >= 1 (n - distinct SIDs) / n
  itemsInCollidingGroups: number; // items whose tokens are shared with at least one other item
  maxCollisionIndex: number;
  collisions: number; // duplicate (sid, collision) pairs after resolution: must be 0
  utilization: number[];
  maxClusterShare: number[];
  reconstructionError: number[];
  plainRqReconstructionError: number[] | null;
  plainRqUtilization: number[] | null;
  plainRqMaxClusterShare: number[] | null;
  plainRqCollisionRate: number | null;
  trainIterations: number[];
  repairedCentroids: number[]; // per level: centroids moved because no training row had them nearest
  trainRows: number; // rows the centroids were trained on (a seeded sample when the catalog is large)
  levelSeconds: { train: number; encode: number }[];
  seconds: number;
  secondsByStage: Record<string, number>;
}

export interface BuildResult {
  codebook: Codebook;
  features: ItemFeatures; // the codebook's input (with the popularity coordinate when asked for)
  unitVectors: Float32Array[]; // the item vectors without it (what the response model reads)
  table: SidEntry[]; // in dense item order
  report: SidReport;
}

/** Natural order of external ids: numeric ids numerically, otherwise by code units (locale-independent). */
export function compareIds(a: string, b: string): number {
  const na = /^\d+$/.test(a),
    nb = /^\d+$/.test(b);
  if (na && nb) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Collision indices: items sharing tokens are numbered 0, 1, 2.. by id. Returns the index per item.
 * Token tuples are packed into one number (exact while V^L <= 2^53) and sorted, so a million items need no string keys.
 */
export function resolveCollisions(
  ids: string[],
  tokens: Int32Array,
  levels: number,
): { collision: Int32Array; distinct: number; inGroups: number } {
  const n = ids.length;
  let radix = 1;
  for (let i = 0; i < tokens.length; i++) radix = Math.max(radix, tokens[i] + 1);
  const key = new Float64Array(n);
  if (radix ** levels <= Number.MAX_SAFE_INTEGER) {
    for (let i = 0; i < n; i++) {
      let k = 0;
      for (let l = 0; l < levels; l++) k = k * radix + tokens[i * levels + l];
      key[i] = k;
    }
  } else {
    const rank = new Map<string, number>(); // too many levels to pack: rank the string keys instead
    for (let i = 0; i < n; i++) {
      const s = sidKey(Array.from(tokens.subarray(i * levels, i * levels + levels)));
      if (!rank.has(s)) rank.set(s, rank.size);
      key[i] = rank.get(s)!;
    }
  }
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => key[a] - key[b] || compareIds(ids[a], ids[b]) || a - b);
  const collision = new Int32Array(n);
  let distinct = 0;
  let inGroups = 0;
  for (let p = 0; p < n; ) {
    let q = p + 1;
    while (q < n && key[order[q]] === key[order[p]]) q++;
    for (let c = p; c < q; c++) collision[order[c]] = c - p;
    distinct++;
    if (q - p > 1) inGroups += q - p;
    p = q;
  }
  return { collision, distinct, inGroups };
}

/** Duplicate full SIDs (tokens + collision index) in a table: the check that resolution worked. */
export function countDuplicateSids(table: SidEntry[]): number {
  const keys = table.map((e) => `${sidKey(e.sid)}#${e.collision}`).sort();
  let dup = 0;
  for (let i = 1; i < keys.length; i++) if (keys[i] === keys[i - 1]) dup++;
  return dup;
}

export async function buildSids(dataset: Dataset, options: BuildOptions): Promise<BuildResult> {
  const t0 = performance.now();
  const stage: Record<string, number> = {};
  const lap = (name: string, since: number) => ((stage[name] = (performance.now() - since) / 1000), performance.now());
  const n = dataset.items.length;
  if (n === 0) throw new Error(`${dataset.name}: no items`);
  const size = options.size ?? defaultCodebookSize(n, options.levels);
  if (!Number.isInteger(size) || size < 16 || size > MAX_CODEBOOK_SIZE)
    throw new Error(`codebook size must be an integer in 16..${MAX_CODEBOOK_SIZE}, got ${size}`);
  if (!Number.isInteger(options.levels) || options.levels < 1 || options.levels > 8)
    throw new Error(`levels must be an integer in 1..8, got ${options.levels}`);

  let t = performance.now();
  options.progress?.("features", 0, 1);
  const base = itemFeatures(dataset, { dim: options.dim, seed: options.seed });
  const features = options.popularity ? addPopularity(base, options.popularity.positives, options.popularity.weight) : base;
  options.progress?.("features", 1, 1);
  t = lap("features", t);

  const pool = new KernelPool(options.threads ?? (n >= 50_000 ? 0 : 1));
  const km = {
    ...DEFAULT_KMEANS,
    size,
    seed: options.seed,
    iterations: options.iterations ?? DEFAULT_KMEANS.iterations,
    capacityFactor: options.capacityFactor ?? DEFAULT_KMEANS.capacityFactor,
  };
  let rq: RqResult;
  let plain: RqResult | null = null;
  try {
    rq = await residualQuantize(features.vectors, options.levels, { ...km, balanced: true }, pool, options.progress);
    t = lap("balancedRq", t);
    if (options.plainRq ?? true) {
      plain = await residualQuantize(features.vectors, options.levels, { ...km, balanced: false }, pool, options.progress);
      t = lap("plainRq", t);
    }
  } finally {
    await pool.close();
  }

  const ids = dataset.items.map((it) => it.id);
  const L = options.levels;
  const { collision, distinct, inGroups } = resolveCollisions(ids, rq.tokens, L);
  const table: SidEntry[] = ids.map((id, i) => ({
    item: i,
    id,
    sid: Array.from(rq.tokens.subarray(i * L, i * L + L)),
    collision: collision[i],
  }));
  // Count what resolution left: duplicate full SIDs (tokens + collision index). Checked, not assumed.
  const duplicates = countDuplicateSids(table);
  t = lap("collisions", t);

  const report: SidReport = {
    dataset: dataset.name,
    items: n,
    levels: L,
    codebookSize: size,
    dim: features.dim,
    seed: options.seed,
    codebookVersion: rq.codebook.version,
    featureSource: features.source,
    featureExplainedVariance: round(features.explainedVariance),
    collisionRateBeforeResolution: round((n - distinct) / n),
    itemsInCollidingGroups: inGroups,
    maxCollisionIndex: collision.reduce((m, c) => Math.max(m, c), 0),
    collisions: duplicates,
    utilization: rq.utilization.map((x) => round(x)),
    maxClusterShare: rq.maxClusterShare.map((x) => round(x)),
    reconstructionError: rq.reconstructionError.map((x) => round(x)),
    plainRqReconstructionError: plain ? plain.reconstructionError.map((x) => round(x)) : null,
    plainRqUtilization: plain ? plain.utilization.map((x) => round(x)) : null,
    plainRqMaxClusterShare: plain ? plain.maxClusterShare.map((x) => round(x)) : null,
    plainRqCollisionRate: plain ? round((n - resolveCollisions(ids, plain.tokens, L).distinct) / n) : null,
    trainIterations: rq.levelStats.map((s) => s.iterations),
    repairedCentroids: rq.levelStats.map((s) => s.repaired),
    trainRows: rq.levelStats[0].trainRows,
    levelSeconds: rq.levelStats.map((s) => ({ train: round(s.trainSeconds, 3), encode: round(s.encodeSeconds, 3) })),
    seconds: round((performance.now() - t0) / 1000, 3),
    secondsByStage: Object.fromEntries(Object.entries(stage).map(([k, v]) => [k, round(v, 3)])),
  };
  return { codebook: rq.codebook, features, unitVectors: base.vectors, table, report };
}

function round(x: number, digits = 6): number {
  return Number(x.toFixed(digits));
}
