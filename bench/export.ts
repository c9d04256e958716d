// Model-only latency of one session.run (B = 1, H = 50) in onnxruntime-web (Node build, wasm, 1 thread), fp32 vs
// int8, for the embedded default model (model/default) when present, else a random HPN of the default architecture
// (L 3, V 64, H 50, d 32, 2 layers; also forced with BENCH_RANDOM_HPN=1).
// onnxruntime-node is not installed on this machine (its install downloads CUDA files), so no native ratio here.
import { existsSync, readFileSync } from "node:fs";
import { parseManifest } from "../core/manifest";
import { buildHpnOnnx } from "../scripts/export/hpn-graph";
import { randomHeldOut } from "../scripts/export/heldout";
import { ortSession, runHpnOnnx } from "../scripts/export/ort";
import { initBackend } from "../scripts/model/backend";
import { DEFAULT_HPN_CONFIG, Hpn } from "../scripts/model/hpn";

function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { runs: s.length, mean: s.reduce((a, b) => a + b, 0) / s.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), min: s[0] };
}

export default async function benchExport(opts: { runs?: number; warmup?: number } = {}): Promise<Record<string, unknown>> {
  const runs = opts.runs ?? 500;
  const warmup = opts.warmup ?? 50;
  await initBackend();
  let config = { ...DEFAULT_HPN_CONFIG, levels: 3, vocab: 64 };
  let models: { fp32: Uint8Array; int8: Uint8Array; source: string };
  const dir = "model/default";
  if (existsSync(`${dir}/manifest.json`) && !process.env.BENCH_RANDOM_HPN) {
    const m = parseManifest(JSON.parse(readFileSync(`${dir}/manifest.json`, "utf8")), `${dir}/manifest.json`);
    config = { ...config, levels: m.levels, vocab: m.vocab, historyLength: m.historyLength };
    models = {
      fp32: readFileSync(`${dir}/${m.files.fp32.path}`),
      int8: readFileSync(`${dir}/${m.files.int8.path}`),
      source: `${dir} (embedded default ${m.version})`,
    };
  } else {
    const hpn = new Hpn(config, 1);
    const w = hpn.getWeights();
    models = { fp32: buildHpnOnnx(config, w, "fp32"), int8: buildHpnOnnx(config, w, "int8"), source: "random HPN L3 V64 H50 d32" };
    hpn.dispose();
  }
  const H = config.historyLength;
  const L = config.levels;
  const inputs = randomHeldOut({ levels: L, vocab: config.vocab, historyLength: H, histories: 64, seed: 5 });
  const out: Record<string, unknown> = {
    model: models.source,
    batch: 1,
    historyLength: H,
    threads: 1,
    runtime: "onnxruntime-web 1.30 (Node, wasm)",
  };
  for (const variant of ["fp32", "int8"] as const) {
    const t0 = performance.now();
    const session = await ortSession(models[variant]);
    const createMs = performance.now() - t0;
    const ms: number[] = [];
    for (let i = 0; i < warmup + runs; i++) {
      const b = 1 + (i % 63); // full histories (length > 0), varied
      const sids = inputs.sids.subarray(b * H * L, (b + 1) * H * L);
      const length = inputs.length.subarray(b, b + 1);
      const s = performance.now();
      await runHpnOnnx(session, sids, length, H, L);
      if (i >= warmup) ms.push(performance.now() - s);
    }
    await session.release();
    out[variant] = { bytes: models[variant].length, sessionCreateMs: createMs, runMs: stats(ms) };
  }
  return out;
}
