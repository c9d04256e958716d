// Item feature vectors (default d = 32) for the codebook.
//
// Method: one truncated PCA (randomized SVD) over a sparse item x (users ∪ content tokens) matrix.
//  - Interaction block: item i, user u -> a weight from the rating (0.5..1.5 on the rating scale; labels: 1 click,
//    0.25 exposure), columns scaled by 1/sqrt(user activity) so heavy users do not dominate, row L2-normalised.
//    PCA of this block is a spectral embedding of the item co-occurrence graph: items consumed by the same users land
//    close together (the classic LSA / PureSVD recommender factorisation, cheap and deterministic, no iterations to tune).
//  - Content block: genres, tags and categorical attributes (decade, key=value; tags and attributes seen on >= 2
//    items) as IDF-weighted one-hots, each group row-normalised and weighted 0.6 / 0.25 / 0.15.
//  - The blocks are mixed by weight (sqrt(w) and sqrt(1 - w), so w is the share of squared norm), the matrix is
//    column-centred implicitly and its top-d principal component scores are taken, then every row is L2-normalised.
// Items with neither interactions nor content get the zero vector (they still get a SID; collisions resolve them).
// When the dataset supplies its own vectors they are used instead: PCA-projected to d if wider, L2-normalised.
import type { Dataset } from "../data/dataset";
import { centred, columnMeans, csrOperator, type Csr, dense, truncatedPca } from "./linalg";

export interface FeatureOptions {
  dim: number;
  seed: number;
  /** Share of the content block (genres, tags) in each item row; default 0.5 when content exists, ignored if not. */
  contentWeight?: number;
  /** Tags on fewer items than this are dropped as noise. */
  minTagItems?: number;
}

export interface ItemFeatures {
  dim: number;
  vectors: Float32Array[]; // one per item, L2-normalised (or zero)
  source: "supplied" | "interactions" | "interactions+content" | "content";
  explainedVariance: number; // share of the (centred) matrix's variance the d components keep
}

export function itemFeatures(dataset: Dataset, options: FeatureOptions): ItemFeatures {
  const { dim, seed } = options;
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`features: dim must be a positive integer, got ${dim}`);
  const n = dataset.items.length;
  if (dataset.itemFeatures) return suppliedFeatures(dataset.itemFeatures, dim, seed);

  // Column layout: users first, then content tokens.
  const nUsers = dataset.users.length;
  const tokenIndex = new Map<string, number>();
  const df = new Map<string, number>();
  const itemTokens: string[][] = dataset.items.map((it) => [
    ...new Set(it.genres.map((g) => `g:${g.toLowerCase()}`)),
    ...new Set(it.tags.map((t) => `t:${t.toLowerCase()}`)),
    ...attributeTokens(it.attributes),
  ]);
  for (const toks of itemTokens) for (const t of toks) df.set(t, (df.get(t) ?? 0) + 1);
  const minTag = options.minTagItems ?? 2;
  for (const toks of itemTokens) {
    for (const t of toks) {
      if (!tokenIndex.has(t) && (t.startsWith("g:") || df.get(t)! >= minTag)) tokenIndex.set(t, tokenIndex.size); // rare tags/attributes: noise
    }
  }
  const hasContent = tokenIndex.size > 0;
  const hasInteractions = dataset.interactions.length > 0;
  const w = hasContent ? (hasInteractions ? (options.contentWeight ?? 0.5) : 1) : 0;
  if (w < 0 || w > 1) throw new Error(`features: contentWeight must be in [0, 1], got ${w}`);

  // Interaction block: weights per (item, user), repeats summed, scaled by 1/sqrt(user activity). Built with a
  // counting sort by item into typed arrays, so tens of millions of ratings need no per-item maps.
  const xs = dataset.interactions;
  const userDeg = new Float64Array(nUsers);
  for (const x of xs) userDeg[x.user]++;
  const scale = dataset.ratingScale;
  const cfStart = new Int32Array(n + 1);
  for (const x of xs) cfStart[x.item + 1]++;
  for (let i = 0; i < n; i++) cfStart[i + 1] += cfStart[i];
  const cursor = cfStart.slice(0, n);
  const cfUser = new Int32Array(xs.length);
  const cfValue = new Float64Array(xs.length);
  for (const x of xs) {
    const v = scale ? 0.5 + (x.rating - scale.min) / Math.max(scale.max - scale.min, 1e-9) : x.rating > 0 ? 1 : 0.25;
    const p = cursor[x.item]++;
    cfUser[p] = x.user;
    cfValue[p] = v / Math.sqrt(userDeg[x.user]);
  }

  // Content tokens per item: [column, value] with the group weights.
  const content = (i: number): [number, number][] => {
    const row: [number, number][] = [];
    // Genres, tags and attributes each normalised; genres weighted most (curated), tags next (free text), then
    // categorical attributes (decade, brand, ...), which mostly tell apart items that are otherwise alike.
    for (const [prefix, share] of [["g:", 0.6], ["t:", 0.25], ["a:", 0.15]] as const) {
      const toks = itemTokens[i].filter((t) => t.startsWith(prefix) && tokenIndex.has(t));
      const idf = toks.map((t) => Math.log(1 + n / df.get(t)!));
      let norm = 0;
      for (const x of idf) norm += x * x;
      const k = Math.sqrt(w * share) / (Math.sqrt(norm) || 1);
      toks.forEach((t, j) => row.push([nUsers + tokenIndex.get(t)!, idf[j] * k]));
    }
    return row;
  };

  const indptr = new Int32Array(n + 1);
  const cap = (w < 1 ? xs.length : 0) + (w > 0 ? itemTokens.reduce((s, t) => s + t.length, 0) : 0);
  const indices = new Int32Array(cap);
  const values = new Float64Array(cap);
  let nnz = 0;
  for (let i = 0; i < n; i++) {
    if (w < 1) {
      // This item's users in order, repeats merged, then the row scaled to norm sqrt(1 - w).
      const order = Array.from({ length: cfStart[i + 1] - cfStart[i] }, (_, j) => cfStart[i] + j).sort((p, q) => cfUser[p] - cfUser[q]);
      const first = nnz;
      for (const p of order) {
        if (nnz > first && indices[nnz - 1] === cfUser[p]) values[nnz - 1] += cfValue[p];
        else (indices[nnz] = cfUser[p]), (values[nnz++] = cfValue[p]);
      }
      let norm = 0;
      for (let p = first; p < nnz; p++) norm += values[p] * values[p];
      const k = Math.sqrt(1 - w) / (Math.sqrt(norm) || 1);
      for (let p = first; p < nnz; p++) values[p] *= k;
    }
    if (w > 0) for (const [c, v] of content(i)) (indices[nnz] = c), (values[nnz++] = v);
    indptr[i + 1] = nnz;
  }
  const a: Csr = { rows: n, cols: nUsers + tokenIndex.size, indptr, indices: indices.subarray(0, nnz), values: values.subarray(0, nnz) };
  const mean = columnMeans(a);
  const op = centred(csrOperator(a), mean);
  const { scores, variance } = truncatedPca(op, dim, seed);
  // Total variance of the centred matrix = ||A||² - n||μ||², for the explained share.
  let total = 0;
  for (let p = 0; p < a.values.length; p++) total += a.values[p] ** 2;
  for (let c = 0; c < a.cols; c++) total -= n * mean[c] ** 2;
  const vectors = rowsNormalised((i, j) => scores.data[i * dim + j], n, dim);
  const source = w === 0 ? "interactions" : w === 1 ? "content" : "interactions+content";
  return { dim, vectors, source, explainedVariance: total > 0 ? variance.reduce((s, x) => s + x, 0) / total : 0 };
}

function suppliedFeatures(supplied: Float32Array[], dim: number, seed: number): ItemFeatures {
  const n = supplied.length;
  const width = supplied[0]?.length ?? 0;
  supplied.forEach((v, i) => {
    if (v.length !== width) throw new Error(`features: supplied vector of item ${i} has ${v.length} values, expected ${width}`);
  });
  if (width <= dim) {
    return { dim: width, vectors: rowsNormalised((i, j) => supplied[i][j], n, width), source: "supplied", explainedVariance: 1 };
  }
  const m = dense(n, width);
  supplied.forEach((v, i) => m.data.set(v, i * width));
  const a: Csr = {
    rows: n,
    cols: width,
    indptr: Int32Array.from({ length: n + 1 }, (_, i) => i * width),
    indices: Int32Array.from({ length: n * width }, (_, p) => p % width),
    values: m.data,
  };
  const mean = columnMeans(a);
  const { scores, variance } = truncatedPca(centred(csrOperator(a), mean), dim, seed);
  let total = 0;
  for (let p = 0; p < a.values.length; p++) total += (a.values[p] - mean[p % width]) ** 2;
  return { dim, vectors: rowsNormalised((i, j) => scores.data[i * dim + j], n, dim), source: "supplied", explainedVariance: variance.reduce((s, x) => s + x, 0) / (total || 1) };
}

/**
 * Content tokens from item attributes: a numeric year becomes its decade; short string values become key=value.
 * (Like tags, a token must occur on >= minTagItems items to be used, so ids and free text drop out.)
 */
function attributeTokens(attributes: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "year" && typeof value === "number" && Number.isFinite(value)) out.push(`a:decade=${Math.floor(value / 10) * 10}`);
    else if (typeof value === "string" && value.length > 0 && value.length <= 40) out.push(`a:${key.toLowerCase()}=${value.toLowerCase()}`);
  }
  return out;
}

/** Unit rows as views into ONE Float32Array (a million separate small buffers would cost ~3x the memory). */
function rowsNormalised(at: (i: number, j: number) => number, n: number, d: number): Float32Array[] {
  const flat = new Float32Array(n * d);
  const out: Float32Array[] = new Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += at(i, j) ** 2;
    const inv = s > 1e-24 ? 1 / Math.sqrt(s) : 0;
    const v = flat.subarray(i * d, i * d + d);
    for (let j = 0; j < d; j++) v[j] = at(i, j) * inv;
    out[i] = v;
  }
  return out;
}

/** Mean cosine similarity over pairs (vectors are unit or zero, so cosine = dot). */
export function meanCosine(vectors: Float32Array[], pairs: [number, number][]): number {
  let s = 0;
  for (const [a, b] of pairs) {
    let dot = 0;
    for (let j = 0; j < vectors[a].length; j++) dot += vectors[a][j] * vectors[b][j];
    s += dot;
  }
  return s / Math.max(pairs.length, 1);
}
