// The residual-quantisation codebook and the ONE function that turns an item feature vector into its Semantic ID.
// Imported by the offline builder (scripts/sids) and by the Worker: both must assign a new item exactly the same SID,
// so the arithmetic here is the definition (float32 residuals, float64 distance sums, lowest index wins ties).
import { sha256Hex } from "./sha256";

export interface Codebook {
  version: string; // content hash: sha256 hex of (levels, size, dim, centroid bytes), first 16 chars
  levels: number; // L
  size: number; // V codes per level
  dim: number; // d
  centroids: Float32Array[]; // centroids[l]: size*dim, row-major
}

export interface CodebookJson {
  format: "hsrl-codebook";
  version: string;
  levels: number;
  size: number;
  dim: number;
  centroids: number[][]; // per level, size*dim numbers (float32 values, exact)
}

/** Content hash of a codebook: changes iff a shape or any centroid bit changes. */
export function codebookVersion(levels: number, size: number, dim: number, centroids: Float32Array[]): string {
  const header = new TextEncoder().encode(`hsrl-codebook/v1 ${levels} ${size} ${dim}\n`);
  const bytes = new Uint8Array(header.length + levels * size * dim * 4);
  bytes.set(header);
  const view = new DataView(bytes.buffer);
  let off = header.length;
  for (const c of centroids) for (let i = 0; i < c.length; i++, off += 4) view.setFloat32(off, c[i], true);
  return sha256Hex(bytes).slice(0, 16);
}

export function createCodebook(levels: number, size: number, dim: number, centroids: Float32Array[]): Codebook {
  checkShape(levels, size, dim, centroids);
  return { version: codebookVersion(levels, size, dim, centroids), levels, size, dim, centroids };
}

function checkShape(levels: number, size: number, dim: number, centroids: ArrayLike<number>[]): void {
  for (const [name, v] of [
    ["levels", levels],
    ["size", size],
    ["dim", dim],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`codebook: ${name} must be a positive integer, got ${v}`);
  }
  if (centroids.length !== levels) throw new Error(`codebook: ${centroids.length} centroid tables for ${levels} levels`);
  centroids.forEach((c, l) => {
    if (c.length !== size * dim) throw new Error(`codebook: level ${l} has ${c.length} values, expected ${size}*${dim}`);
  });
}

/**
 * Index of the centroid nearest to x[off .. off+dim) in squared Euclidean distance; ties go to the lowest index.
 * Exported so the bulk builder uses the very same arithmetic as encodeSid.
 */
export function nearestCentroid(centroids: Float32Array, size: number, dim: number, x: ArrayLike<number>, off = 0): number {
  let best = 0;
  let bestD = Infinity;
  for (let k = 0, base = 0; k < size; k++, base += dim) {
    let d = 0;
    for (let j = 0; j < dim; j++) {
      const t = x[off + j] - centroids[base + j];
      d += t * t;
      if (d >= bestD) break; // partial sums only grow: this centroid cannot win
    }
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best;
}

/**
 * One level: the nearest of `size` centroids to the residual r[off .. off+dim), subtracted from it in place; returns
 * its index. The shared kernel of encodeSid and the offline bulk assignment (scripts/sids/kernels.ts).
 */
export function encodeLevelInPlace(centroids: Float32Array, size: number, dim: number, r: Float32Array, off: number): number {
  const k = nearestCentroid(centroids, size, dim, r, off);
  const base = k * dim;
  for (let j = 0; j < dim; j++) r[off + j] = r[off + j] - centroids[base + j]; // stored as float32: part of the definition
  return k;
}

/**
 * Encode in place: r (float32, dim values at off) is the residual, overwritten with the final residual; tokens[l] get
 * the L codes.
 */
export function encodeResidualInPlace(codebook: Codebook, r: Float32Array, off: number, tokens: Int32Array | number[], tokOff = 0): void {
  const { dim, size } = codebook;
  for (let l = 0; l < codebook.levels; l++) tokens[tokOff + l] = encodeLevelInPlace(codebook.centroids[l], size, dim, r, off);
}

/** L tokens: the nearest centroid per level on the residual, coarse to fine. */
export function encodeSid(codebook: Codebook, features: ArrayLike<number>): number[] {
  if (features.length !== codebook.dim) {
    throw new Error(`encodeSid: feature vector has ${features.length} values, codebook dim is ${codebook.dim}`);
  }
  const r = Float32Array.from(features);
  for (let j = 0; j < r.length; j++) if (!Number.isFinite(r[j])) throw new Error(`encodeSid: feature ${j} is not finite`);
  const tokens = new Array<number>(codebook.levels);
  encodeResidualInPlace(codebook, r, 0, tokens);
  return tokens;
}

/** The sum of the chosen centroids: the vector a SID stands for. */
export function decodeSid(codebook: Codebook, tokens: number[]): Float32Array {
  const out = new Float32Array(codebook.dim);
  tokens.forEach((k, l) => {
    const c = codebook.centroids[l];
    for (let j = 0; j < codebook.dim; j++) out[j] += c[k * codebook.dim + j];
  });
  return out;
}

/** "12-40-3": the items.sid column in D1 (the collision index is its own column). */
export function sidKey(tokens: number[]): string {
  return tokens.join("-");
}

export function parseSidKey(key: string): number[] {
  if (!/^\d+(-\d+)*$/.test(key)) throw new Error(`parseSidKey: "${key}" is not tokens joined by "-"`);
  return key.split("-").map(Number);
}

export function codebookToJson(codebook: Codebook): CodebookJson {
  return {
    format: "hsrl-codebook",
    version: codebook.version,
    levels: codebook.levels,
    size: codebook.size,
    dim: codebook.dim,
    // Float32 -> double -> decimal: JSON.parse gives back the same double, which is exactly the float32 again.
    centroids: codebook.centroids.map((c) => Array.from(c)),
  };
}

/** Parse and check a codebook; the stored version must match the content hash (a corrupted file is refused). */
export function codebookFromJson(json: unknown): Codebook {
  const o = (typeof json === "string" ? JSON.parse(json) : json) as Partial<CodebookJson> | null;
  if (!o || typeof o !== "object") throw new Error("codebook: not a JSON object");
  if (o.format !== "hsrl-codebook") throw new Error(`codebook: format is ${JSON.stringify(o.format)}, expected "hsrl-codebook"`);
  const { levels, size, dim } = o as CodebookJson;
  if (!Array.isArray(o.centroids)) throw new Error("codebook: centroids must be an array of arrays");
  checkShape(levels, size, dim, o.centroids);
  const centroids = o.centroids.map((c, l) => {
    const f = Float32Array.from(c);
    for (let i = 0; i < f.length; i++) {
      if (!Number.isFinite(f[i])) throw new Error(`codebook: level ${l} value ${i} is not a finite number`);
    }
    return f;
  });
  const version = codebookVersion(levels, size, dim, centroids);
  if (o.version !== undefined && o.version !== version) {
    throw new Error(`codebook: stored version ${o.version} does not match its content hash ${version}`);
  }
  return { version, levels, size, dim, centroids };
}
