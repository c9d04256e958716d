import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../../scripts/model/backend";
import { loadHpnCheckpoint, saveHpnCheckpoint } from "../../scripts/model/checkpoint";
import { Hpn, type HpnConfig } from "../../scripts/model/hpn";
import { matMul, matMulBT } from "../../scripts/model/ops";

const config: HpnConfig = {
  levels: 3,
  vocab: 16,
  historyLength: 8,
  dModel: 16,
  heads: 2,
  layers: 2,
  ff: 32,
  dropout: 0.1,
  tau: 1,
  residual: true,
};

// Deterministic random SID histories (right-aligned; padding rows filled with junk to prove they are ignored).
function batch(B: number, seed: number, junk = 0) {
  let s = seed >>> 0;
  const rnd = () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
  const { historyLength: H, levels: L, vocab: V } = config;
  const sids = new Int32Array(B * H * L);
  const length = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    length[b] = b === 0 ? 0 : Math.floor(rnd() * (H + 1));
    for (let h = 0; h < H; h++) for (let l = 0; l < L; l++) sids[(b * H + h) * L + l] = h >= H - length[b] ? Math.floor(rnd() * V) : junk;
  }
  return { sids, length };
}

describe("Hpn", () => {
  beforeAll(async () => {
    await initBackend();
  });

  it("gives normalised, finite log-probs of shape [B, L, V] and contexts [B, L+1, d], cold user included", () => {
    const hpn = new Hpn(config, 1);
    const { sids, length } = batch(5, 7);
    const { logProbs, contexts } = hpn.forward(tf.tensor3d(sids, [5, 8, 3], "int32"), tf.tensor1d(length, "int32"), false);
    expect(logProbs.shape).toEqual([5, 3, 16]);
    expect(contexts.shape).toEqual([5, 4, 16]);
    const lp = logProbs.arraySync();
    for (const row of lp)
      for (const level of row) {
        expect(level.every(Number.isFinite)).toBe(true);
        expect(level.reduce((a, x) => a + Math.exp(x), 0)).toBeCloseTo(1, 5);
      }
    expect((contexts.dataSync() as Float32Array).every(Number.isFinite)).toBe(true);
    hpn.dispose();
  });

  it("ignores the content of padding rows and is deterministic from the seed", () => {
    const a = new Hpn(config, 3);
    const b = new Hpn(config, 3);
    const c = new Hpn(config, 4);
    const x0 = batch(4, 11, 0);
    const x1 = batch(4, 11, 9);
    const run = (m: Hpn, x: typeof x0) =>
      m.forward(tf.tensor3d(x.sids, [4, 8, 3], "int32"), tf.tensor1d(x.length, "int32"), false).logProbs.dataSync() as Float32Array;
    const r0 = run(a, x0);
    expect(Array.from(run(a, x1))).toEqual(Array.from(r0));
    expect(Array.from(run(b, x0))).toEqual(Array.from(r0));
    expect(Array.from(run(c, x0))).not.toEqual(Array.from(r0));
    [a, b, c].forEach((m) => m.dispose());
  });

  it("residual:false makes every head read c_0", () => {
    const hpn = new Hpn({ ...config, residual: false }, 2);
    const { sids, length } = batch(3, 5);
    const { contexts } = hpn.forward(tf.tensor3d(sids, [3, 8, 3], "int32"), tf.tensor1d(length, "int32"), false);
    const c = contexts.arraySync();
    for (const row of c) for (let l = 1; l < row.length; l++) expect(row[l]).toEqual(row[0]);
    hpn.dispose();
  });

  it("trains: gradients reach every weight the actor uses and a few Adam steps lower the NLL of target tokens", () => {
    const hpn = new Hpn(config, 5);
    const { sids, length } = batch(16, 13);
    const target = tf.tensor2d(
      Array.from({ length: 16 * 3 }, (_, i) => (i * 5) % 16),
      [16, 3],
      "int32",
    );
    const xs = tf.tensor3d(sids, [16, 8, 3], "int32");
    const len = tf.tensor1d(length, "int32");
    const loss = () =>
      tf.tidy(() => {
        const { logProbs } = hpn.forward(xs, len, true);
        return tf.neg(tf.sum(tf.mul(logProbs, tf.oneHot(target, 16)))).div(16) as tf.Scalar;
      });
    const { grads } = tf.variableGrads(loss, hpn.variables());
    // The last level's tok_out / LayerNorm only feed c_L (the critic's input), so the actor loss cannot reach them.
    const missing = hpn
      .variables()
      .filter((v) => !(v.name in grads))
      .map((v) => v.name.split("/")[1]);
    expect(missing.sort()).toEqual(["head.2.ln.b", "head.2.ln.g", "tok_out.2"]);
    const opt = tf.train.adam(0.01);
    const first = loss().dataSync()[0];
    for (let i = 0; i < 20; i++) opt.minimize(loss, false, hpn.variables());
    expect(loss().dataSync()[0]).toBeLessThan(first * 0.8);
    hpn.dispose();
  });

  it("round-trips weights through a checkpoint dir", () => {
    const dir = mkdtempSync(join(tmpdir(), "hpn-ckpt-"));
    try {
      const hpn = new Hpn(config, 9);
      saveHpnCheckpoint(dir, hpn, { note: "test" });
      const { hpn: back, meta } = loadHpnCheckpoint(dir);
      expect(meta.note).toBe("test");
      expect(meta.config).toEqual(config);
      const { sids, length } = batch(3, 1);
      const run = (m: Hpn) => m.forward(tf.tensor3d(sids, [3, 8, 3], "int32"), tf.tensor1d(length, "int32"), false).logProbs.dataSync();
      expect(Array.from(run(back))).toEqual(Array.from(run(hpn)));
      expect(() => back.setWeights({ ...hpn.getWeights(), extra: { shape: [1], data: new Float32Array(1) } })).toThrow(
        /unknown weight "extra"/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fast matMul has the same values and gradients as tf.matMul (2-D and batched, with bᵀ)", () => {
    const a = tf.randomNormal([2, 3, 5, 4], 0, 1, "float32", 1);
    const b = tf.randomNormal([2, 3, 4, 6], 0, 1, "float32", 2);
    const c = tf.randomNormal([2, 3, 6, 4], 0, 1, "float32", 3);
    const diff = (p: tf.Tensor, q: tf.Tensor) => tf.max(tf.abs(tf.sub(p, q))).dataSync()[0];
    const loss = (f: (x: tf.Tensor, y: tf.Tensor) => tf.Tensor) => tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.sin(f(x, y))));
    const [ga, gb] = loss(matMul)([a, b]);
    const [ra, rb] = loss((x, y) => tf.matMul(x, y))([a, b]);
    expect(diff(ga, ra) + diff(gb, rb)).toBeLessThan(1e-5);
    const [ha, hc] = loss(matMulBT)([a, c]);
    const [sa, sc] = loss((x, y) => tf.matMul(x, y, false, true))([a, c]);
    expect(diff(ha, sa) + diff(hc, sc)).toBeLessThan(1e-5);
    const x2 = tf.randomNormal([7, 3], 0, 1, "float32", 4);
    const w2 = tf.randomNormal([3, 2], 0, 1, "float32", 5);
    expect(diff(matMul(x2, w2), tf.matMul(x2, w2))).toBe(0);
  });

  it("encode(lastOnly) gives the full encoder's last row", () => {
    const hpn = new Hpn(config, 8);
    const { sids, length } = batch(6, 21);
    const xs = tf.tensor3d(sids, [6, 8, 3], "int32");
    const len = tf.tensor1d(length, "int32");
    const full = hpn.encode(xs, len, false).slice([0, 7, 0], [6, 1, 16]);
    const last = hpn.encode(xs, len, false, true);
    expect(last.shape).toEqual([6, 1, 16]);
    expect(tf.max(tf.abs(tf.sub(full, last))).dataSync()[0]).toBeLessThan(1e-5);
    hpn.dispose();
  });
});
