import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseManifest } from "../../core/manifest";
import { scoreItems, scoreSid, topK } from "../../core/score";
import { exportHpn } from "../../scripts/export/export";
import { buildHpnOnnx, quantizeInt8 } from "../../scripts/export/hpn-graph";
import { generateSynthetic, parseSyntheticSpec } from "../../scripts/data/synthetic";
import { datasetHeldOut, randomHeldOut } from "../../scripts/export/heldout";
import { checkParity } from "../../scripts/export/parity";
import { ortSession, runHpnOnnx, runHpnOnnxOutputs } from "../../scripts/export/ort";
import { initBackend, tf } from "../../scripts/model/backend";
import { Hpn, type HpnConfig } from "../../scripts/model/hpn";

const config: HpnConfig = {
  levels: 3,
  vocab: 32,
  historyLength: 12,
  dModel: 32,
  heads: 4,
  layers: 2,
  ff: 64,
  dropout: 0.1,
  tau: 0.8,
  residual: true,
};
let dir: string;

beforeAll(async () => {
  await initBackend();
  dir = mkdtempSync(join(tmpdir(), "hpn-export-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("score", () => {
  it("sums per-level log-probs of the SID tokens and ranks stably", () => {
    const lp = [0, -1, -2, /* level 1 */ -3, -4, -5]; // L = 2, V = 3
    expect(scoreSid(lp, 2, 3, [1, 2])).toBe(-6);
    expect(scoreSid(lp, 2, 3, [3, 0])).toBe(-Infinity);
    expect(Array.from(scoreItems(lp, 2, 3, [0, 0, 2, 2, 1, 0]))).toEqual([-3, -7, -4]);
    expect(topK([1, 3, 3, 2], 3)).toEqual([1, 2, 3]);
  });
});

describe("quantizeInt8", () => {
  it("is symmetric per output channel and restores within half a step", () => {
    const w = Float32Array.from([0.5, -2, 0.01, -0.25, 1, 0]); // [2, 3]
    const { q, scale } = quantizeInt8(w, 2, 3, 1);
    expect(scale.length).toBe(3);
    expect(Math.max(...Array.from(q).map(Math.abs))).toBe(127);
    for (let i = 0; i < 6; i++) expect(Math.abs(q[i] * scale[i % 3] - w[i])).toBeLessThanOrEqual(scale[i % 3] / 2 + 1e-9);
  });
});

describe("export", () => {
  it("writes fp32 + int8 ONNX matching the tfjs forward pass, a smaller int8 file and a valid manifest", async () => {
    const hpn = new Hpn(config, 42);
    const heldOut = randomHeldOut({ levels: 3, vocab: 32, historyLength: 12, histories: 200, catalogSize: 500, seed: 3 });
    const { manifest, parity, sizes } = await exportHpn({
      hpn,
      outDir: dir,
      heldOut,
      codebook: null,
      training: { dataset: "test", seed: 42 },
    });
    expect(parity.fp32.maxAbsDiff).toBeLessThanOrEqual(1e-4);
    expect(parity.fp32.allFinite && parity.int8.allFinite).toBe(true);
    expect(parity.coldHistories).toBeGreaterThan(0);
    expect(parity.int8.maxAbsDiffVsFp32).toBeGreaterThan(0); // it really is quantised...
    expect(parity.int8.maxAbsDiffVsFp32).toBeLessThan(0.05); // ...and close
    expect(parity.int8.top10Overlap).toBeGreaterThan(0.8);
    expect(sizes.int8).toBeLessThan(0.5 * sizes.fp32);
    expect(statSync(join(dir, "hpn.int8.onnx")).size).toBe(sizes.int8);
    const onDisk = parseManifest(JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")));
    expect(onDisk).toEqual(manifest);
    expect(manifest.serving).toBe("hpn.int8.onnx");
    expect(manifest.inputs.map((t) => [t.name, t.dtype, t.shape])).toEqual([
      ["sids", "int64", ["batch", 12, 3]],
      ["length", "int64", ["batch"]],
    ]);
    expect(manifest.outputs[0].shape).toEqual(["batch", 3, 32]);
    expect(() => parseManifest({ ...manifest, serving: "other.onnx" })).toThrow(/serving/);
    expect(() => parseManifest({ ...manifest, version: "xyz" })).toThrow(/version/);
    hpn.dispose();
  });

  it("cold user and arbitrary padding content give the same finite output in ONNX as in tfjs; batch is dynamic", async () => {
    const hpn = new Hpn({ ...config, residual: false }, 7);
    const session = await ortSession(buildHpnOnnx(hpn.config, hpn.getWeights(), "fp32"));
    const { historyLength: H, levels: L, vocab: V } = hpn.config;
    for (const B of [1, 3]) {
      const sids = new Int32Array(B * H * L).map((_, i) => (i * 7) % V);
      const length = Int32Array.from({ length: B }, (_, b) => (b === 0 ? 0 : b * 4));
      const ort = await runHpnOnnx(session, sids, length, H, L);
      const ref = tf.tidy(() =>
        hpn.forward(tf.tensor3d(sids, [B, H, L], "int32"), tf.tensor1d(length, "int32"), false).logProbs.dataSync(),
      );
      expect(ort.length).toBe(B * L * V);
      expect(ort.every(Number.isFinite)).toBe(true);
      for (let i = 0; i < ort.length; i++) expect(Math.abs(ort[i] - ref[i])).toBeLessThanOrEqual(1e-4);
    }
    // A cold user's output does not depend on what the padding rows hold.
    const a = await runHpnOnnx(session, new Int32Array(H * L), Int32Array.of(0), H, L);
    const b = await runHpnOnnx(session, new Int32Array(H * L).fill(5), Int32Array.of(0), H, L);
    expect(Array.from(b)).toEqual(Array.from(a));
    await session.release();
    hpn.dispose();
  });

  it("rejects weights that do not match the config", () => {
    const hpn = new Hpn(config, 1);
    const w = hpn.getWeights();
    delete w["head.1.w"];
    expect(() => buildHpnOnnx(config, w, "int8")).toThrow(/no weight "head.1.w"/);
    hpn.dispose();
  });
});

describe("export with a popularity prior", () => {
  it("adds beta = b + w·c_0 as a second output, declares it in the manifest, and checks its parity", async () => {
    const hpn = new Hpn(config, 7);
    const w = Array.from({ length: config.dModel }, (_, i) => Math.sin(i) / 4);
    const prior = { w, b: 0.3, stats: { mean: 1.2, sd: 0.8 } };
    const heldOut = randomHeldOut({ levels: 3, vocab: 32, historyLength: 12, histories: 60, catalogSize: 200, seed: 4 });
    const out = join(dir, "prior");
    const { manifest, parity } = await exportHpn({ hpn, outDir: out, heldOut, codebook: null, prior, training: { dataset: "t", seed: 7 } });
    expect(manifest.prior).toEqual({ output: "beta", mean: 1.2, sd: 0.8 });
    expect(manifest.outputs.map((t) => [t.name, t.shape])).toEqual([
      ["logprobs", ["batch", 3, 32]],
      ["beta", ["batch"]],
    ]);
    expect(parity.beta?.pass).toBe(true);
    expect(parity.beta!.fp32MaxAbsDiff).toBeLessThanOrEqual(1e-4);
    // β moves with the history (it reads c_0), and the graph's β is the reference's for a cold user
    const session = await ortSession(readFileSync(join(out, "hpn.fp32.onnx")));
    const { H, L } = { H: config.historyLength, L: config.levels };
    const sids = Int32Array.from({ length: 2 * H * L }, (_, i) => (i * 7) % config.vocab);
    const { beta } = await runHpnOnnxOutputs(session, sids, Int32Array.of(0, H), H, L);
    const c0 = tf.tidy(() =>
      hpn
        .forward(tf.tensor3d(sids, [2, H, L], "int32"), tf.tensor1d([0, H], "int32"), false)
        .contexts.slice([0, 0, 0], [2, 1, config.dModel])
        .arraySync(),
    ) as number[][][];
    const want = c0.map(([c]) => prior.b + c.reduce((a, x, i) => a + x * w[i], 0));
    expect(beta![0]).toBeCloseTo(want[0], 4);
    expect(beta![1]).toBeCloseTo(want[1], 4);
    expect(Math.abs(beta![0] - beta![1])).toBeGreaterThan(1e-3);
    await session.release();
    // a manifest cannot declare a beta output without a prior, nor a prior without one
    expect(() => parseManifest({ ...manifest, prior: null })).toThrow(/beta output/);
    expect(() => parseManifest({ ...manifest, outputs: manifest.outputs.slice(0, 1) })).toThrow(/beta output/);
    hpn.dispose();
  });
});

describe("held-out histories from a dataset", () => {
  it("uses the test split's next positives as targets and reports the NDCG@10 change", async () => {
    const dataset = generateSynthetic(parseSyntheticSpec("items=300,users=60,interactions=3000", 2));
    const L = config.levels;
    const sidTokens = Int32Array.from({ length: dataset.items.length * L }, (_, i) => ((i * 2654435761) % config.vocab) >>> 0);
    const heldOut = datasetHeldOut(dataset, sidTokens, { levels: L, historyLength: config.historyLength, histories: 150 });
    expect(heldOut.length.length).toBeLessThanOrEqual(150);
    expect(heldOut.targets!.every((t) => t >= 0 && t < dataset.items.length)).toBe(true);
    const hpn = new Hpn(config, 5);
    const w = hpn.getWeights();
    const report = await checkParity(hpn, buildHpnOnnx(config, w, "fp32"), buildHpnOnnx(config, w, "int8"), heldOut);
    expect(report.fp32.pass).toBe(true);
    expect(report.ndcg10).not.toBeNull();
    expect(report.ndcg10!.histories).toBe(heldOut.length.length);
    expect(Math.abs(report.ndcg10!.tfjs - report.ndcg10!.fp32)).toBeLessThan(1e-3);
    expect(() => datasetHeldOut(dataset, sidTokens.subarray(3), { levels: L, historyLength: 12, histories: 10 })).toThrow(/SID tokens/);
    hpn.dispose();
  });
});

describe("the committed default model (model/default)", () => {
  const root = join(__dirname, "../../model/default");
  it("has a valid manifest whose files match their sha256, fits in 2 MB, and serves a cold user", async () => {
    const manifest = parseManifest(JSON.parse(readFileSync(join(root, "manifest.json"), "utf8")), "model/default/manifest.json");
    for (const f of [manifest.files.fp32, manifest.files.int8]) {
      const bytes = readFileSync(join(root, f.path));
      expect(bytes.length).toBe(f.bytes);
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(f.sha256);
    }
    expect(manifest.quantization).toBe("int8");
    expect(manifest.files.int8.bytes).toBeLessThan(0.5 * manifest.files.fp32.bytes);
    const codebook = JSON.parse(readFileSync(join(root, "codebook.json"), "utf8"));
    expect(codebook.version).toBe(manifest.codebook?.version);
    expect(codebook.dim).toBe(manifest.featureDim);
    const total = readdirSync(root).reduce((n, f) => n + statSync(join(root, f)).size, 0);
    expect(total).toBeLessThanOrEqual(2 * 1024 * 1024);
    const { historyLength: H, levels: L, vocab: V } = manifest;
    const session = await ortSession(readFileSync(join(root, manifest.serving)));
    const out = await runHpnOnnx(session, new Int32Array(H * L), Int32Array.of(0), H, L);
    expect(out.length).toBe(L * V);
    expect(out.every(Number.isFinite)).toBe(true);
    await session.release();
  });
});
