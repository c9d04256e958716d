// Writes test/fixtures/tiny.onnx: logits = x · W + b, y = LogSoftmax(logits), x float32 [batch, 4] -> y [batch, 3].
// The weights are fixed so tests can check ORT's answer against a reference computed by hand.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { codebookToJson, createCodebook, type Codebook } from "../core/codebook";
import { manifestVersion, parseManifest, servingTensors, type Manifest } from "../core/manifest";
import { sha256Hex } from "../core/sha256";
import { Rng } from "../core/rng";
import { GraphBuilder } from "./export/onnx-builder";

export const TINY_W = [
  [0.5, -1.0, 0.25],
  [1.5, 0.0, -0.5],
  [-0.75, 2.0, 1.0],
  [0.1, 0.2, 0.3],
];
export const TINY_B = [0.05, -0.1, 0.2];

export function tinyModel(): Uint8Array {
  const g = new GraphBuilder("tiny");
  const x = g.input("x", "float32", ["batch", 4]);
  const w = g.initializer("W", Float32Array.from(TINY_W.flat()), [4, 3]);
  const b = g.initializer("b", Float32Array.from(TINY_B), [3]);
  const logits = g.op("Add", [g.op("MatMul", [x, w]), b]);
  g.op("LogSoftmax", [logits], { axis: -1 }, ["y"]);
  g.output("y", "float32", ["batch", 3]);
  return g.toBytes();
}

export interface HpnFixtureShape {
  historyLength: number;
  levels: number;
  vocab: number;
  dModel: number;
  seed: number;
}
export const HPN_FIXTURE: HpnFixtureShape = { historyLength: 8, levels: 3, vocab: 16, dModel: 8, seed: 7 };
export const FIXTURE_FEATURE_DIM = 4;

/** A seeded codebook matching the fixture's shape (L = 3, V = 16, d = 4), for catalog writes in tests. */
export function fixtureCodebook(seed = 11): Codebook {
  const rng = new Rng(seed);
  const { levels, vocab } = HPN_FIXTURE;
  const scales = [1, 0.3, 0.1]; // coarse to fine: each level quantises a smaller residual
  const centroids = scales.map((scale) => Float32Array.from({ length: vocab * FIXTURE_FEATURE_DIM }, () => rng.normal() * scale));
  return createCodebook(levels, vocab, FIXTURE_FEATURE_DIM, centroids);
}

/**
 * A stand-in with the HPN's serving contract (sids int64 [batch, H, L], length int64 [batch] -> logprobs float32
 * [batch, L, V]) but a trivial body: logprobs = LogSoftmax(tanh(Σ_{h<length, l} E[sids] + b) · W). Worker tests use it
 * to exercise the serving path with a model whose outputs depend on the history, independent of training.
 * With `beta0`, a popularity-prior variant: the same log-probs plus "beta" [batch] = beta0 + 0.25·Σ_d h.
 */
export function hpnFixture(
  shape: HpnFixtureShape = HPN_FIXTURE,
  codebook: Codebook = fixtureCodebook(),
  fileName = "hpn-fixture.onnx",
  beta0: number | null = null,
): { bytes: Uint8Array; manifest: Manifest } {
  const { historyLength: H, levels: L, vocab: V, dModel: d } = shape;
  const rng = new Rng(shape.seed);
  const randn = (n: number, scale: number) => Float32Array.from({ length: n }, () => rng.normal() * scale);
  const g = new GraphBuilder("hpn-fixture");
  const sids = g.input("sids", "int64", ["batch", H, L]);
  const length = g.input("length", "int64", ["batch"]);
  const emb = g.op("Gather", [g.initializer("E", randn(V * d, 0.5), [V, d]), sids], { axis: 0 }); // [B, H, L, d]
  // Valid positions are the last `length` of H (right-aligned): mask[b, h] = h >= H - length[b].
  const positions = g.initializer(
    "positions",
    BigInt64Array.from({ length: H }, (_, h) => BigInt(h)),
    [1, H],
  );
  const first = g.op("Sub", [g.ints([H]), g.op("Unsqueeze", [length, g.ints([1])])]); // [B, 1]
  const mask = g.op("Cast", [g.op("GreaterOrEqual", [positions, first])], { to: 1 }); // float [B, H]
  const masked = g.op("Mul", [emb, g.op("Unsqueeze", [mask, g.ints([2, 3])])]);
  const pooled = g.op("ReduceSum", [masked, g.ints([1, 2])], { keepdims: 0 }); // [B, d]
  const h = g.op("Tanh", [g.op("Add", [pooled, g.initializer("b", randn(d, 0.5), [d])])]);
  const logits = g.op("MatMul", [h, g.initializer("W", randn(d * L * V, 1.0), [d, L * V])]);
  g.op("LogSoftmax", [g.op("Reshape", [logits, g.ints([-1, L, V])])], { axis: -1 }, ["logprobs"]);
  g.output("logprobs", "float32", ["batch", L, V]);
  if (beta0 !== null) {
    const sum = g.op("ReduceSum", [h, g.ints([1])], { keepdims: 0 }); // [B]
    const scaled = g.op("Mul", [sum, g.initializer("beta_w", Float32Array.of(0.25), [])]);
    g.op("Add", [scaled, g.initializer("beta_b", Float32Array.of(beta0), [])], {}, ["beta"]);
    g.output("beta", "float32", ["batch"]);
  }
  const bytes = g.toBytes();
  const file = { path: fileName, sha256: sha256Hex(bytes), bytes: bytes.length };
  const config = { fixture: true, ...shape, ...(beta0 !== null ? { beta0 } : {}) };
  const manifest = parseManifest({
    format: "hsrl-manifest/1",
    version: manifestVersion([bytes], config),
    created_at: "2026-01-01T00:00:00.000Z",
    levels: L,
    vocab: V,
    historyLength: H,
    dModel: d,
    featureDim: codebook.dim,
    hpn: { heads: 1, layers: 1, ff: 1, tau: 1, residual: false },
    ...servingTensors(H, L, V, beta0 !== null),
    ...(beta0 !== null ? { prior: { output: "beta", mean: 1, sd: 0.5 } } : {}),
    quantization: "fp32",
    serving: file.path,
    files: { fp32: file, int8: file }, // a fixture: one fp32 file stands for both
    codebook: { version: codebook.version },
    training: { dataset: "fixture", seed: shape.seed },
    evaluation: { note: "test fixture with the serving contract; not a trained model" },
  });
  return { bytes, manifest };
}

// A hand-assembled wasm module exporting add(i32, i32) -> i32: tests use it to check that other WebAssembly keeps
// working while and after ORT initialises.
export const ADD_WASM = Uint8Array.from([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00, // magic, version 1
  0x01,
  0x07,
  0x01,
  0x60,
  0x02,
  0x7f,
  0x7f,
  0x01,
  0x7f, // type section: (i32, i32) -> i32
  0x03,
  0x02,
  0x01,
  0x00, // function section: one function of type 0
  0x07,
  0x07,
  0x01,
  0x03,
  0x61,
  0x64,
  0x64,
  0x00,
  0x00, // export "add" = function 0
  0x0a,
  0x09,
  0x01,
  0x07,
  0x00,
  0x20,
  0x00,
  0x20,
  0x01,
  0x6a,
  0x0b, // code: local.get 0, local.get 1, i32.add
]);

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv[2] ?? "test/fixtures";
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "tiny.onnx"), tinyModel());
  writeFileSync(join(dir, "add.wasm"), ADD_WASM);
  const codebook = fixtureCodebook();
  writeFileSync(join(dir, "codebook.json"), `${JSON.stringify(codebookToJson(codebook))}\n`);
  // Two models with the same shape and codebook but different weights: a "current" and a "next" for promotion tests.
  // A third, "prior", is "current" with a popularity prior's beta output.
  for (const [name, seed, beta0] of [
    ["hpn-fixture", HPN_FIXTURE.seed, null],
    ["hpn-fixture-next", HPN_FIXTURE.seed + 1, null],
    ["hpn-fixture-prior", HPN_FIXTURE.seed, 2],
  ] as const) {
    const hpn = hpnFixture({ ...HPN_FIXTURE, seed }, codebook, `${name}.onnx`, beta0);
    writeFileSync(join(dir, `${name}.onnx`), hpn.bytes);
    writeFileSync(join(dir, `${name}.manifest.json`), `${JSON.stringify(hpn.manifest, null, 2)}\n`);
  }
  console.log(
    `wrote ${dir}/{tiny.onnx, add.wasm, codebook.json, hpn-fixture{,-next,-prior}.onnx, hpn-fixture{,-next,-prior}.manifest.json}`,
  );
}
