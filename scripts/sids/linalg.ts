// Small dense/sparse linear algebra for item features: a CSR matrix, products with tall dense blocks, Gram-Schmidt,
// a Jacobi eigen-solver for tiny symmetric matrices, and randomized truncated PCA (Halko et al. 2011) on top of them.
import { Rng } from "../../core/rng";

/** Sparse rows x cols matrix in CSR form. */
export interface Csr {
  rows: number;
  cols: number;
  indptr: Int32Array; // rows + 1
  indices: Int32Array;
  values: Float64Array;
}

/** A dense rows x k matrix, row-major. */
export interface Dense {
  rows: number;
  cols: number;
  data: Float64Array;
}

export function dense(rows: number, cols: number): Dense {
  return { rows, cols, data: new Float64Array(rows * cols) };
}

/** The linear operator PCA needs: A·X (X: cols x k) and Aᵀ·Y (Y: rows x k). */
export interface Operator {
  rows: number;
  cols: number;
  mul(x: Dense): Dense;
  mulT(y: Dense): Dense;
}

export function csrOperator(a: Csr): Operator {
  return {
    rows: a.rows,
    cols: a.cols,
    mul(x) {
      const k = x.cols;
      const out = dense(a.rows, k);
      for (let i = 0; i < a.rows; i++) {
        const o = i * k;
        for (let p = a.indptr[i]; p < a.indptr[i + 1]; p++) {
          const v = a.values[p],
            b = a.indices[p] * k;
          for (let j = 0; j < k; j++) out.data[o + j] += v * x.data[b + j];
        }
      }
      return out;
    },
    mulT(y) {
      const k = y.cols;
      const out = dense(a.cols, k);
      for (let i = 0; i < a.rows; i++) {
        const o = i * k;
        for (let p = a.indptr[i]; p < a.indptr[i + 1]; p++) {
          const v = a.values[p],
            b = a.indices[p] * k;
          for (let j = 0; j < k; j++) out.data[b + j] += v * y.data[o + j];
        }
      }
      return out;
    },
  };
}

/** A dense matrix as CSR with every entry stored (the values are shared, not copied). */
export function denseToCsr(a: Dense): Csr {
  const indptr = new Int32Array(a.rows + 1);
  const indices = new Int32Array(a.rows * a.cols);
  for (let i = 0; i < a.rows; i++) {
    indptr[i + 1] = (i + 1) * a.cols;
    for (let j = 0; j < a.cols; j++) indices[i * a.cols + j] = j;
  }
  return { rows: a.rows, cols: a.cols, indptr, indices, values: a.data };
}

/** The column-centred operator (A - 1·μᵀ) without forming it: PCA instead of plain SVD. */
export function centred(a: Operator, mean: Float64Array): Operator {
  return {
    rows: a.rows,
    cols: a.cols,
    mul(x) {
      const out = a.mul(x);
      const k = x.cols;
      const mx = new Float64Array(k); // μᵀ·X
      for (let c = 0; c < a.cols; c++) for (let j = 0; j < k; j++) mx[j] += mean[c] * x.data[c * k + j];
      for (let i = 0; i < a.rows; i++) for (let j = 0; j < k; j++) out.data[i * k + j] -= mx[j];
      return out;
    },
    mulT(y) {
      const out = a.mulT(y);
      const k = y.cols;
      const s = new Float64Array(k); // 1ᵀ·Y
      for (let i = 0; i < a.rows; i++) for (let j = 0; j < k; j++) s[j] += y.data[i * k + j];
      for (let c = 0; c < a.cols; c++) for (let j = 0; j < k; j++) out.data[c * k + j] -= mean[c] * s[j];
      return out;
    },
  };
}

export function columnMeans(a: Csr): Float64Array {
  const m = new Float64Array(a.cols);
  for (let p = 0; p < a.indptr[a.rows]; p++) m[a.indices[p]] += a.values[p];
  for (let c = 0; c < a.cols; c++) m[c] /= a.rows;
  return m;
}

/** Orthonormalise the columns in place (modified Gram-Schmidt, two passes for stability). Zero columns stay zero. */
export function orthonormalise(q: Dense): Dense {
  const { rows: n, cols: k, data } = q;
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < k; j++) {
      for (let p = 0; p < j; p++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += data[i * k + j] * data[i * k + p];
        for (let i = 0; i < n; i++) data[i * k + j] -= dot * data[i * k + p];
      }
      let norm = 0;
      for (let i = 0; i < n; i++) norm += data[i * k + j] ** 2;
      norm = Math.sqrt(norm);
      const inv = norm > 1e-12 ? 1 / norm : 0;
      for (let i = 0; i < n; i++) data[i * k + j] *= inv;
    }
  }
  return q;
}

/** Eigen-decomposition of a small symmetric k x k matrix (cyclic Jacobi). Returns eigenvalues descending. */
export function symmetricEigen(a: Float64Array, k: number): { values: Float64Array; vectors: Float64Array } {
  const m = Float64Array.from(a);
  const v = new Float64Array(k * k);
  for (let i = 0; i < k; i++) v[i * k + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < k; p++) for (let q = p + 1; q < k; q++) off += m[p * k + q] ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < k; p++) {
      for (let q = p + 1; q < k; q++) {
        const apq = m[p * k + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (m[q * k + q] - m[p * k + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1),
          s = t * c;
        for (let r = 0; r < k; r++) {
          const mrp = m[r * k + p],
            mrq = m[r * k + q];
          m[r * k + p] = c * mrp - s * mrq;
          m[r * k + q] = s * mrp + c * mrq;
        }
        for (let r = 0; r < k; r++) {
          const mpr = m[p * k + r],
            mqr = m[q * k + r];
          m[p * k + r] = c * mpr - s * mqr;
          m[q * k + r] = s * mpr + c * mqr;
        }
        for (let r = 0; r < k; r++) {
          const vrp = v[r * k + p],
            vrq = v[r * k + q];
          v[r * k + p] = c * vrp - s * vrq;
          v[r * k + q] = s * vrp + c * vrq;
        }
      }
    }
  }
  const order = Array.from({ length: k }, (_, i) => i).sort((x, y) => m[y * k + y] - m[x * k + x]);
  const values = Float64Array.from(order, (i) => m[i * k + i]);
  const vectors = new Float64Array(k * k); // column j = eigenvector of values[j]
  order.forEach((src, j) => {
    for (let r = 0; r < k; r++) vectors[r * k + j] = v[r * k + src];
  });
  return { values, vectors };
}

/**
 * Top-d principal directions of the rows of A (A's columns already centred by the caller if wanted): randomized range
 * finder with power iterations, then an exact eigen-decomposition in the small subspace. Returns V (cols x d, column j
 * = direction j, unit length) and the variance along each. Signs are fixed (largest-magnitude entry of each direction
 * positive) so the result depends only on the seed.
 */
export function truncatedPca(
  a: Operator,
  d: number,
  seed: number,
  powerIters = 4,
  oversample = 10,
): { components: Dense; variance: Float64Array } {
  const k = Math.min(d + oversample, a.rows, a.cols);
  const rng = new Rng(seed);
  const omega = dense(a.cols, k);
  for (let i = 0; i < omega.data.length; i++) omega.data[i] = rng.normal();
  let q = orthonormalise(a.mul(omega));
  for (let it = 0; it < powerIters; it++) q = orthonormalise(a.mul(orthonormalise(a.mulT(q))));
  // B = Qᵀ A (k x cols); BBᵀ = U Σ² Uᵀ; the right singular vectors are V = Bᵀ U Σ⁻¹.
  const bt = a.mulT(q); // cols x k = Bᵀ
  const bbt = new Float64Array(k * k);
  for (let c = 0; c < a.cols; c++) {
    for (let i = 0; i < k; i++) {
      const x = bt.data[c * k + i];
      if (x === 0) continue;
      for (let j = 0; j < k; j++) bbt[i * k + j] += x * bt.data[c * k + j];
    }
  }
  const { values, vectors } = symmetricEigen(bbt, k);
  const dd = Math.min(d, k);
  const v = dense(a.cols, d);
  for (let j = 0; j < dd; j++) {
    const sigma = Math.sqrt(Math.max(values[j], 0));
    if (sigma < 1e-12) continue; // no variance left along this direction: keep it zero
    let big = 0;
    for (let c = 0; c < a.cols; c++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += bt.data[c * k + p] * vectors[p * k + j];
      s /= sigma;
      v.data[c * d + j] = s;
      if (Math.abs(s) > Math.abs(big)) big = s;
    }
    if (big < 0) for (let c = 0; c < a.cols; c++) v.data[c * d + j] *= -1;
  }
  return { components: v, variance: values.slice(0, dd) };
}
