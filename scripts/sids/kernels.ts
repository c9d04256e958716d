// The hot loops of the codebook build, shared by the main thread and the pool workers (one implementation, so the
// result never depends on how many threads ran). Rows are d-float blocks of one flat Float32Array.
import { nearestCentroid } from "../../core/codebook";

/** out[i * v + k] = squared distance of row i to centroid k, for rows start..end (out holds every row). */
export function distanceBlock(x: Float32Array, d: number, start: number, end: number, c: Float32Array, v: number, out: Float32Array): void {
  for (let i = start, o = start * v; i < end; i++, o += v) {
    const xo = i * d;
    for (let k = 0, co = 0; k < v; k++, co += d) {
      let s = 0;
      for (let j = 0; j < d; j++) {
        const t = x[xo + j] - c[co + j];
        s += t * t;
      }
      out[o + k] = s;
    }
  }
}

/**
 * One residual-quantisation level for rows start..end, exactly as encodeSid does it: nearest centroid (core's
 * nearestCentroid), token written to tokens[i * levels + level], residual updated in place as float32.
 */
export function encodeBlock(r: Float32Array, d: number, start: number, end: number, c: Float32Array, v: number, tokens: Int32Array, levels: number, level: number): void {
  for (let i = start; i < end; i++) {
    const off = i * d;
    const k = nearestCentroid(c, v, d, r, off);
    tokens[i * levels + level] = k;
    const base = k * d;
    for (let j = 0; j < d; j++) r[off + j] = r[off + j] - c[base + j];
  }
}
