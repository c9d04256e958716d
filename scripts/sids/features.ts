// Item feature vectors (default d = 32) for the codebook.
//
// Method: one truncated PCA (randomized SVD) over a sparse item x (users ∪ content tokens) matrix.
//  - Interaction block: item i, user u -> a weight from the rating (0.5..1.5 on the rating scale; labels: 1 click,
//    0.25 exposure), columns scaled by 1/sqrt(user activity) so heavy users do not dominate, row L2-normalised.
//    PCA of this block is a spectral embedding of the item co-occurrence graph: items consumed by the same users land
//    close together (the classic LSA / PureSVD recommender factorisation, cheap and deterministic, no iterations to tune).
//  - Content block: genres, tags and categorical attributes (decade, key=value; tags and attributes seen on >= 2
//    items) as IDF-weighted one-hots, each group row-normalised and weighted 0.6 / 0.25 / 0.15 (core/item-encoder).
//  - The blocks are mixed by weight (sqrt(w) and sqrt(1 - w), so w is the share of squared norm), the matrix is
//    column-centred implicitly, and each item's vector is its centred row projected on the top-d principal directions
//    V, L2-normalised: features = unit((row − μ)·V). Being linear, the same formula gives a NEW item (content only, no
//    ratings yet) its vector: the returned encoder holds what core/item-encoder needs for that.
// Items with neither interactions nor content get the zero vector (they still get a SID; collisions resolve them).
// When the dataset supplies its own vectors they are used instead: PCA-projected to d if wider, L2-normalised.
import {
  contentRow,
  contentTokens,
  itemEncoderVersion,
  type ItemEncoder,
  projectRow,
  unitFloat32,
  withPopularity,
} from "../../core/item-encoder";
import { isPositive, type Dataset } from "../data/dataset";
import { centred, columnMeans, csrOperator, type Csr, type Dense, dense, denseToCsr, truncatedPca } from "./linalg";

export interface FeatureOptions {
  dim: number;
  seed: number;
  /** Share of the content block (genres, tags, attributes) in each item row; default 0.5 when content exists. */
  contentWeight?: number;
  /** Tags and attribute values on fewer items than this are dropped as noise. */
  minTagItems?: number;
}

export interface ItemFeatures {
  dim: number;
  vectors: Float32Array[]; // one per item, L2-normalised (or zero)
  source: "supplied" | "interactions" | "interactions+content" | "content";
  explainedVariance: number; // share of the (centred) matrix's variance the d components keep
  encoder: ItemEncoder; // features for new items, in the same space (core/item-encoder)
}

export function itemFeatures(dataset: Dataset, options: FeatureOptions): ItemFeatures {
  const { dim, seed } = options;
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`features: dim must be a positive integer, got ${dim}`);
  const n = dataset.items.length;
  if (dataset.itemFeatures) return suppliedFeatures(dataset.itemFeatures, dim, seed);

  // Column layout: users first, then content tokens (genres always; tags and attributes on >= minTagItems items).
  const nUsers = dataset.users.length;
  const itemTokens = dataset.items.map(contentTokens);
  const df = new Map<string, number>();
  for (const toks of itemTokens) for (const t of toks) df.set(t, (df.get(t) ?? 0) + 1);
  const minTag = options.minTagItems ?? 2;
  const vocab: string[] = [];
  const tokenIndex = new Map<string, number>();
  for (const toks of itemTokens) {
    for (const t of toks) {
      if (!tokenIndex.has(t) && (t.startsWith("g:") || df.get(t)! >= minTag)) {
        tokenIndex.set(t, vocab.length);
        vocab.push(t);
      }
    }
  }
  const idf = vocab.map((t) => Math.log(1 + n / df.get(t)!));
  const hasContent = vocab.length > 0;
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

  const column = (t: string) => {
    const c = tokenIndex.get(t);
    return c === undefined ? undefined : { column: nUsers + c, idf: idf[c] };
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
    if (w > 0) {
      const row = contentRow(itemTokens[i], column, w);
      for (let p = 0; p < row.columns.length; p++) (indices[nnz] = row.columns[p]), (values[nnz++] = row.values[p]);
    }
    indptr[i + 1] = nnz;
  }
  const a: Csr = { rows: n, cols: nUsers + vocab.length, indptr, indices: indices.subarray(0, nnz), values: values.subarray(0, nnz) };
  const mean = columnMeans(a);
  const { components, variance } = truncatedPca(centred(csrOperator(a), mean), dim, seed);
  const meanV = meanTimes(mean, components);
  const vectors = projectRows(a, components, meanV);
  // Total variance of the centred matrix = ||A||² - n||μ||², for the explained share.
  let total = 0;
  for (let p = 0; p < a.values.length; p++) total += a.values[p] ** 2;
  for (let c = 0; c < a.cols; c++) total -= n * mean[c] ** 2;
  const source = w === 0 ? "interactions" : w === 1 ? "content" : "interactions+content";
  const encoderBody = {
    kind: "content" as const,
    dim,
    contentWeight: w,
    tokens: vocab,
    idf,
    components: Array.from(components.data.subarray(nUsers * dim)),
    meanV: Array.from(meanV),
  };
  return {
    dim,
    vectors,
    source,
    explainedVariance: total > 0 ? variance.reduce((s, x) => s + x, 0) / total : 0,
    encoder: { ...encoderBody, version: itemEncoderVersion(encoderBody) },
  };
}

/** Positive interactions per item (rated data: rating >= threshold; binary data: label 1). */
export function positivesPerItem(dataset: Dataset, threshold: number): Float64Array {
  const n = new Float64Array(dataset.items.length);
  for (const x of dataset.interactions) if (isPositive(x.rating, dataset.ratingScale, threshold)) n[x.item]++;
  return n;
}

/**
 * Features with the popularity coordinate (core/item-encoder withPopularity) appended: weight is its share of each
 * vector's squared norm; mean and sd of log(1 + positives) are taken over `statsItems` (default all items). The encoder
 * carries the coordinate, so a new item is encoded as one with no positives.
 */
export function addPopularity(f: ItemFeatures, positives: Float64Array, weight: number, statsItems?: number[]): ItemFeatures {
  if (!(weight > 0 && weight < 1)) throw new Error(`popularity weight must be in (0, 1), got ${weight}`);
  if (positives.length !== f.vectors.length) throw new Error(`popularity: ${positives.length} counts for ${f.vectors.length} items`);
  const idx = statsItems ?? f.vectors.map((_, i) => i);
  const x = Array.from(positives, (c) => Math.log1p(c));
  const mean = idx.reduce((a, i) => a + x[i], 0) / idx.length;
  const sd = Math.sqrt(idx.reduce((a, i) => a + (x[i] - mean) ** 2, 0) / idx.length) || 1;
  const popularity = { weight, mean, sd };
  const { version: _old, ...body } = f.encoder;
  const encoderBody = { ...body, popularity } as Omit<ItemEncoder, "version">;
  return {
    ...f,
    dim: f.dim + 1,
    vectors: f.vectors.map((v, i) => withPopularity(v, positives[i], popularity)),
    encoder: { ...encoderBody, version: itemEncoderVersion(encoderBody) } as ItemEncoder,
  };
}

function suppliedFeatures(supplied: Float32Array[], dim: number, seed: number): ItemFeatures {
  const n = supplied.length;
  const width = supplied[0]?.length ?? 0;
  supplied.forEach((v, i) => {
    if (v.length !== width) throw new Error(`features: supplied vector of item ${i} has ${v.length} values, expected ${width}`);
  });
  if (width <= dim) {
    // Narrow enough: the vectors themselves, normalised (views into one buffer: cheap for a million items).
    const flat = new Float32Array(n * width);
    const vectors = supplied.map((v, i) => unitFloat32(v, flat.subarray(i * width, (i + 1) * width)));
    const body = { kind: "vector" as const, dim: width, width, components: null, meanV: new Array(width).fill(0) };
    return { dim: width, vectors, source: "supplied", explainedVariance: 1, encoder: { ...body, version: itemEncoderVersion(body) } };
  }
  const x = dense(n, width);
  supplied.forEach((v, i) => x.data.set(v, i * width));
  const a = denseToCsr(x);
  const mean = columnMeans(a);
  const { components, variance } = truncatedPca(centred(csrOperator(a), mean), dim, seed);
  const meanV = meanTimes(mean, components);
  let total = 0;
  for (let p = 0; p < a.values.length; p++) total += (a.values[p] - mean[p % width]) ** 2;
  const body = { kind: "vector" as const, dim, width, components: Array.from(components.data), meanV: Array.from(meanV) };
  return {
    dim,
    vectors: projectRows(a, components, meanV),
    source: "supplied",
    explainedVariance: variance.reduce((s, x) => s + x, 0) / (total || 1),
    encoder: { ...body, version: itemEncoderVersion(body) },
  };
}

/** μ·V (d values). */
function meanTimes(mean: Float64Array, v: Dense): Float64Array {
  const out = new Float64Array(v.cols);
  for (let c = 0; c < v.rows; c++) for (let j = 0; j < v.cols; j++) out[j] += mean[c] * v.data[c * v.cols + j];
  return out;
}

/** unit((row − μ)·V) for every row, with core's arithmetic; rows are views into ONE Float32Array (cheap at 1M items). */
function projectRows(a: Csr, v: Dense, meanV: Float64Array): Float32Array[] {
  const d = v.cols;
  const flat = new Float32Array(a.rows * d);
  const tmp = new Float64Array(d);
  const out: Float32Array[] = new Array(a.rows);
  for (let i = 0; i < a.rows; i++) {
    const s = a.indptr[i],
      e = a.indptr[i + 1];
    projectRow(a.indices.subarray(s, e), a.values.subarray(s, e), v.data, d, meanV, tmp);
    out[i] = unitFloat32(tmp, flat.subarray(i * d, i * d + d));
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
