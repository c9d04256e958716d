// k-means for the codebook: k-means++ seeding, balanced Lloyd iterations (capacity-constrained assignment), and
// residual quantisation over L levels. Distances are computed in blocks of Float32Array rows by the kernel pool.
//
// Balance shapes the CENTROIDS only: training assigns points under a capacity of ceil(m/V · capacityFactor) per cluster
// (points in order of their nearest distance, each to its nearest cluster with room left), so every centroid is pulled
// to a share of the data. The final assignment of every item is then the plain nearest centroid — exactly what
// encodeSid computes — so the balance reported is the one the SIDs really have.
import { createCodebook, type Codebook } from "../../core/codebook";
import type { Progress } from "../util/progress";
import { Rng } from "../../core/rng";
import { type KernelPool, sharedF32, sharedI32 } from "./pool";

export interface KmeansOptions {
  size: number; // V
  iterations: number; // Lloyd iterations at most
  balanced: boolean;
  capacityFactor: number; // cluster cap = ceil(m / V * capacityFactor) during balanced training
  maxTrainPoints: number; // centroids are trained on a seeded sample of at most this many rows
  tolerance: number; // stop iterating when fewer than tolerance * m rows change cluster
  seed: number;
}

export const DEFAULT_KMEANS: Omit<KmeansOptions, "size" | "seed"> = {
  iterations: 20,
  balanced: true,
  capacityFactor: 1.0,
  maxTrainPoints: 0, // 0 = max(64 * V, 32768): more rows per centroid barely move the centroids (faiss uses 39..256)
  tolerance: 0.001, // stop when fewer than this share of training rows change cluster
};

export const MAX_CODEBOOK_SIZE = 1024;

/**
 * Default V from catalog size: the power of two nearest sqrt(n) (levels 1-2 then give ~n cells), within 16..256, and
 * at least enough that the V^L cells outnumber the items 16 times (past 1M items at L 3), so collisions stay rare.
 */
export function defaultCodebookSize(items: number, levels = 3): number {
  const n = Math.max(items, 1);
  const v = Math.min(256, Math.max(16, 2 ** Math.round(Math.log2(Math.sqrt(n)))));
  const capacity = 2 ** Math.ceil(Math.log2((16 * n) ** (1 / levels)));
  return Math.min(MAX_CODEBOOK_SIZE, Math.max(v, capacity));
}

export interface LevelStats {
  iterations: number;
  trainMaxClusterShare: number; // largest cluster's share in the (balanced or plain) training assignment
  repaired: number; // centroids moved because no training row had them nearest
  trainRows: number;
  trainSeconds: number;
  encodeSeconds: number; // nearest-centroid assignment of all items at this level
}

/** Seeded sample of min(n, max) distinct row indices, ascending. */
function sampleRows(n: number, max: number, rng: Rng): Int32Array {
  if (n <= max) return Int32Array.from({ length: n }, (_, i) => i);
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < max; i++) {
    const j = i + rng.int(n - i);
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx.slice(0, max).sort();
}

/** k-means++: first centre uniform, then each next one drawn with probability proportional to D(x)². */
export function kmeansPlusPlus(x: Float32Array, m: number, d: number, v: number, rng: Rng): Float32Array {
  const c = new Float32Array(v * d);
  const minD = new Float64Array(m).fill(Infinity);
  let pick = rng.int(m);
  for (let k = 0; k < v; k++) {
    c.set(x.subarray(pick * d, pick * d + d), k * d);
    let total = 0;
    for (let i = 0; i < m; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) {
        const t = x[i * d + j] - c[k * d + j];
        s += t * t;
      }
      if (s < minD[i]) minD[i] = s;
      total += minD[i];
    }
    if (k + 1 < v) pick = total > 0 ? rng.weighted(minD, total) : rng.int(m); // all points covered: any point
  }
  return c;
}

/**
 * Capacity-constrained assignment: rows in order of their nearest distance claim their nearest cluster with room;
 * a row whose nearest is full takes the nearest one that still has room. dist is m x v.
 */
export function balancedAssign(dist: Float32Array, m: number, v: number, cap: number, labels: Int32Array): void {
  const best = new Int32Array(m);
  const bestD = new Float64Array(m);
  nearestAssign(dist, m, v, best, bestD);
  const order = Int32Array.from({ length: m }, (_, i) => i).sort((a, b) => bestD[a] - bestD[b] || a - b);
  const count = new Int32Array(v);
  for (const i of order) {
    let k = best[i];
    if (count[k] >= cap) {
      let bd = Infinity;
      for (let q = 0, o = i * v; q < v; q++) if (count[q] < cap && dist[o + q] < bd) (bd = dist[o + q]), (k = q);
    }
    labels[i] = k;
    count[k]++;
  }
}

/** Each row's nearest cluster (lowest index on ties) into labels, and optionally its distance into bestD. */
function nearestAssign(dist: Float32Array, m: number, v: number, labels: Int32Array, bestD?: Float64Array): void {
  for (let i = 0; i < m; i++) {
    let b = 0,
      bd = Infinity;
    for (let k = 0, o = i * v; k < v; k++) if (dist[o + k] < bd) (bd = dist[o + k]), (b = k);
    labels[i] = b;
    if (bestD) bestD[i] = bd;
  }
}

/** Trains one level's V centroids on the rows of x (n x d). */
export async function trainLevel(
  x: Float32Array,
  n: number,
  d: number,
  options: KmeansOptions,
  pool: KernelPool,
  onIter?: (iter: number) => void,
): Promise<{ centroids: Float32Array; stats: LevelStats }> {
  const { size: v, seed } = options;
  const rng = new Rng(seed);
  const rows = sampleRows(n, options.maxTrainPoints || Math.max(64 * v, 32_768), rng);
  const m = rows.length;
  const s = sharedF32(m * d);
  for (let i = 0; i < m; i++) s.set(x.subarray(rows[i] * d, rows[i] * d + d), i * d);

  const c = kmeansPlusPlus(s, m, d, v, rng);
  const dist = sharedF32(m * v);
  const labels = new Int32Array(m).fill(-1);
  const next = new Int32Array(m);
  const cap = Math.max(1, Math.ceil((m / v) * options.capacityFactor));
  let iter = 0;
  for (; iter < options.iterations; iter++) {
    await pool.distances(s, d, m, c, v, dist);
    if (options.balanced) balancedAssign(dist, m, v, cap, next);
    else nearestAssign(dist, m, v, next);
    let changed = 0;
    for (let i = 0; i < m; i++) if (next[i] !== labels[i]) changed++;
    labels.set(next);
    updateCentroids(s, m, d, v, labels, dist, c);
    onIter?.(iter + 1);
    if (changed <= options.tolerance * m) {
      iter++;
      break;
    }
  }
  const count = new Int32Array(v);
  for (let i = 0; i < m; i++) count[labels[i]]++;
  const repaired = await repairEmpty(s, m, d, v, c, dist, pool);
  return {
    centroids: c,
    stats: { iterations: iter, trainMaxClusterShare: Math.max(...count) / m, repaired, trainRows: m, trainSeconds: 0, encodeSeconds: 0 },
  };
}

/**
 * The final assignment is by nearest centroid, and a centroid shaped by capacities can end up nearest to no row (it
 * held the overflow of its neighbours). Such a centroid is moved onto the row farthest from its nearest centroid,
 * which then is its own; repeated until every centroid is nearest to some training row. Returns how many were moved.
 */
async function repairEmpty(
  s: Float32Array,
  m: number,
  d: number,
  v: number,
  c: Float32Array,
  dist: Float32Array,
  pool: KernelPool,
): Promise<number> {
  let moved = 0;
  const labels = new Int32Array(m);
  for (let round = 0; round < 20; round++) {
    await pool.distances(s, d, m, c, v, dist);
    nearestAssign(dist, m, v, labels);
    const count = new Int32Array(v);
    for (let i = 0; i < m; i++) count[labels[i]]++;
    const empty: number[] = [];
    for (let k = 0; k < v; k++) if (count[k] === 0) empty.push(k);
    if (empty.length === 0 || m < v) break;
    // Farthest rows first (ties by index), one per empty centroid; a row is only taken from a cluster that keeps others.
    const order = Int32Array.from({ length: m }, (_, i) => i).sort((a, b) => dist[b * v + labels[b]] - dist[a * v + labels[a]] || a - b);
    let next = 0;
    for (const k of empty) {
      while (next < m && (count[labels[order[next]]] <= 1 || dist[order[next] * v + labels[order[next]]] === 0)) next++;
      if (next >= m) break;
      const i = order[next++];
      count[labels[i]]--;
      c.set(s.subarray(i * d, i * d + d), k * d);
      moved++;
    }
  }
  return moved;
}

/** Centroid = mean of its rows; an empty cluster is re-seeded at the row farthest from its own centroid. */
function updateCentroids(s: Float32Array, m: number, d: number, v: number, labels: Int32Array, dist: Float32Array, c: Float32Array): void {
  const sum = new Float64Array(v * d);
  const count = new Int32Array(v);
  for (let i = 0; i < m; i++) {
    const k = labels[i];
    count[k]++;
    for (let j = 0; j < d; j++) sum[k * d + j] += s[i * d + j];
  }
  const taken = new Uint8Array(m);
  for (let k = 0; k < v; k++) {
    if (count[k] > 0) {
      for (let j = 0; j < d; j++) c[k * d + j] = sum[k * d + j] / count[k];
      continue;
    }
    let far = -1,
      farD = -1;
    for (let i = 0; i < m; i++) {
      const di = dist[i * v + labels[i]];
      if (!taken[i] && di > farD) (farD = di), (far = i);
    }
    if (far < 0) continue; // fewer rows than clusters: keep the old centre
    taken[far] = 1;
    c.set(s.subarray(far * d, far * d + d), k * d);
  }
}

export interface RqResult {
  codebook: Codebook;
  tokens: Int32Array; // n x levels, the nearest-centroid (encodeSid) assignment
  reconstructionError: number[]; // after each level: Σ‖residual‖² / Σ‖x − mean‖²
  utilization: number[]; // share of the V codes used at each level
  maxClusterShare: number[]; // largest code's share of items at each level
  levelStats: LevelStats[];
}

/** Residual quantisation: level l's codebook is trained on the residuals left by the nearest assignment at l-1. */
export async function residualQuantize(
  features: Float32Array[],
  levels: number,
  options: KmeansOptions,
  pool: KernelPool,
  progress?: Progress,
): Promise<RqResult> {
  const n = features.length;
  if (n === 0) throw new Error("kmeans: no items");
  const d = features[0].length;
  const v = options.size;
  if (!Number.isInteger(v) || v < 2) throw new Error(`kmeans: codebook size must be an integer >= 2, got ${v}`);
  const r = sharedF32(n * d);
  features.forEach((f, i) => r.set(f, i * d));
  const tokens = sharedI32(n * levels);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += r[i * d + j] / n;
  let totalVar = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) totalVar += (r[i * d + j] - mean[j]) ** 2;

  const centroids: Float32Array[] = [];
  const out: Omit<RqResult, "codebook" | "tokens"> = { reconstructionError: [], utilization: [], maxClusterShare: [], levelStats: [] };
  const rng = new Rng(options.seed);
  const label = options.balanced ? "balanced" : "plain";
  for (let l = 0; l < levels; l++) {
    const t0 = performance.now();
    const { centroids: c, stats } = await trainLevel(r, n, d, { ...options, seed: rng.seed() }, pool, (it) =>
      progress?.(`${label} level ${l + 1}/${levels}`, it, options.iterations),
    );
    // early stop: close the stage's bar
    if (stats.iterations < options.iterations) progress?.(`${label} level ${l + 1}/${levels}`, stats.iterations, stats.iterations);
    const t1 = performance.now();
    await pool.encodeLevel(r, d, n, c, v, tokens, levels, l, (done, total) =>
      progress?.(`${label} encode ${l + 1}/${levels}`, done, total),
    );
    stats.trainSeconds = (t1 - t0) / 1000;
    stats.encodeSeconds = (performance.now() - t1) / 1000;
    centroids.push(c);
    const count = new Int32Array(v);
    for (let i = 0; i < n; i++) count[tokens[i * levels + l]]++;
    let err = 0;
    for (let p = 0; p < n * d; p++) err += r[p] * r[p];
    out.reconstructionError.push(totalVar > 0 ? err / totalVar : 0);
    out.utilization.push(count.filter((x) => x > 0).length / v);
    out.maxClusterShare.push(Math.max(...count) / n);
    out.levelStats.push(stats);
  }
  return { codebook: createCodebook(levels, v, d, centroids), tokens, ...out };
}
