import { describe, expect, it } from "vitest";
import { Rng } from "../../core/rng";
import { balancedAssign, DEFAULT_KMEANS, defaultCodebookSize, kmeansPlusPlus, residualQuantize } from "../../scripts/sids/kmeans";
import { KernelPool } from "../../scripts/sids/pool";
import { encodeSid } from "../../core/codebook";

/** Skewed data: one dense blob holding 70% of the points plus a wide cloud, in d = 8. */
function skewed(n: number, seed: number): Float32Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) =>
    Float32Array.from({ length: 8 }, () => (i % 10 < 7 ? 0.05 * rng.normal() + 1 : 2 * rng.normal())),
  );
}

describe("balanced residual k-means", () => {
  const pool = new KernelPool(1);
  const opts = { ...DEFAULT_KMEANS, size: 16, seed: 3, iterations: 15 };

  it("capacity assignment never exceeds the cap and fills every cluster", () => {
    const rng = new Rng(1);
    const m = 100,
      v = 10;
    const dist = Float32Array.from({ length: m * v }, (_, p) => (p % v === 0 ? 0 : 1 + rng.next())); // all prefer 0
    const labels = new Int32Array(m);
    balancedAssign(dist, m, v, 10, labels);
    const count = new Int32Array(v);
    labels.forEach((k) => count[k]++);
    expect(Array.from(count)).toEqual(new Array(v).fill(10));
  });

  it("k-means++ picks distinct seeds spread over separated clusters", () => {
    const rng = new Rng(2);
    const x = new Float32Array(4 * 50 * 2);
    for (let i = 0; i < 200; i++) {
      const c = i % 4;
      x[i * 2] = (c % 2) * 100 + rng.normal();
      x[i * 2 + 1] = Math.floor(c / 2) * 100 + rng.normal();
    }
    const c = kmeansPlusPlus(x, 200, 2, 4, new Rng(5));
    const quadrants = new Set([0, 1, 2, 3].map((k) => `${Math.round(c[k * 2] / 100)},${Math.round(c[k * 2 + 1] / 100)}`));
    expect(quadrants.size).toBe(4);
  });

  it("balanced training spreads skewed data far better than plain k-means, and is deterministic", async () => {
    const data = skewed(3000, 1);
    const bal = await residualQuantize(data, 2, { ...opts, balanced: true }, pool);
    const plain = await residualQuantize(data, 2, { ...opts, balanced: false }, pool);
    // Level 1: the blob holds 70% of the points; balanced centroids split it.
    expect(bal.utilization[0]).toBe(1);
    expect(bal.maxClusterShare[0]).toBeLessThan(0.2);
    expect(bal.maxClusterShare[0]).toBeLessThan(plain.maxClusterShare[0] / 2);
    // Reconstruction error falls with every level, for both.
    expect(bal.reconstructionError[1]).toBeLessThan(bal.reconstructionError[0]);
    expect(plain.reconstructionError[1]).toBeLessThan(plain.reconstructionError[0]);
    const again = await residualQuantize(data, 2, { ...opts, balanced: true }, pool);
    expect(again.codebook.version).toBe(bal.codebook.version);
    expect(Array.from(again.tokens)).toEqual(Array.from(bal.tokens));
    const other = await residualQuantize(data, 2, { ...opts, balanced: true, seed: 4 }, pool);
    expect(other.codebook.version).not.toBe(bal.codebook.version);
  });

  it("the final tokens are exactly encodeSid's; two worker threads give the same codebook as one", async () => {
    const data = skewed(5000, 2);
    const one = await residualQuantize(data, 3, { ...opts, iterations: 5 }, pool);
    data.forEach((f, i) => expect(encodeSid(one.codebook, f)).toEqual(Array.from(one.tokens.subarray(i * 3, i * 3 + 3))));
    const two = new KernelPool(2);
    try {
      const par = await residualQuantize(data, 3, { ...opts, iterations: 5 }, two);
      expect(par.codebook.version).toBe(one.codebook.version);
      expect(Array.from(par.tokens)).toEqual(Array.from(one.tokens));
    } finally {
      await two.close();
    }
  });

  it("default codebook size follows the catalog size within 16..256", () => {
    expect(defaultCodebookSize(100)).toBe(16);
    expect(defaultCodebookSize(2_000)).toBe(32);
    expect(defaultCodebookSize(9_742)).toBe(128);
    expect(defaultCodebookSize(1_000_000)).toBe(256);
    // the cells outnumber the items 16 times: past 1M items at L 3 the capacity rule sets V, or a 4th level does
    expect(defaultCodebookSize(10_000_000)).toBe(1024);
    expect(defaultCodebookSize(10_000_000, 4)).toBe(256);
    for (const n of [100, 2_000, 9_742, 1_000_000, 10_000_000]) expect(defaultCodebookSize(n) ** 3).toBeGreaterThanOrEqual(16 * n);
  });
});
