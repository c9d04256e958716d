// HPN checkpoints: <dir>/hpn.json ({config, seed, weights index, ...extra}) + <dir>/hpn.weights.bin (float32 LE,
// the weights concatenated in the index order). A trainer may add its own fields to hpn.json through `extra`.
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { Hpn, hpnWeightShapes, validateHpnConfig, type HpnConfig, type NamedWeights } from "./hpn";

export interface HpnCheckpointMeta {
  format: "hsrl-hpn-checkpoint/1";
  config: HpnConfig;
  seed: number;
  weights: { name: string; shape: number[]; offset: number; length?: number }[]; // in float32 values; length defaults to the shape's size
  [extra: string]: unknown;
}

export function saveHpnCheckpoint(dir: string, hpn: Hpn, extra: Record<string, unknown> = {}): void {
  mkdirSync(dir, { recursive: true });
  const weights = hpn.getWeights();
  const index: HpnCheckpointMeta["weights"] = [];
  let offset = 0;
  for (const [name] of hpnWeightShapes(hpn.config)) {
    const w = weights[name];
    index.push({ name, shape: w.shape, offset, length: w.data.length });
    offset += w.data.length;
  }
  const flat = new Float32Array(offset);
  for (const e of index) flat.set(weights[e.name].data, e.offset);
  const meta: HpnCheckpointMeta = { ...extra, format: "hsrl-hpn-checkpoint/1", config: hpn.config, seed: hpn.seed, weights: index };
  writeFileSync(join(dir, "hpn.weights.bin"), new Uint8Array(flat.buffer));
  writeFileSync(join(dir, "hpn.json"), JSON.stringify(meta, null, 2) + "\n");
}

/** Reads a checkpoint's metadata and named weights without building a model (the exporter needs only these). */
export function readHpnCheckpoint(dir: string): { meta: HpnCheckpointMeta; weights: NamedWeights } {
  const jsonPath = join(dir, "hpn.json");
  const binPath = join(dir, "hpn.weights.bin");
  if (!existsSync(jsonPath)) throw new Error(`${jsonPath}: not found (an HPN checkpoint dir holds hpn.json + hpn.weights.bin)`);
  if (!existsSync(binPath)) throw new Error(`${binPath}: not found`);
  let meta: HpnCheckpointMeta;
  try {
    meta = JSON.parse(readFileSync(jsonPath, "utf8"));
  } catch (e) {
    throw new Error(`${jsonPath}: invalid JSON (${(e as Error).message})`);
  }
  if (!meta.config || !Array.isArray(meta.weights)) throw new Error(`${jsonPath}: missing "config" or "weights" (not an HPN checkpoint?)`);
  validateHpnConfig(meta.config);
  const buf = readFileSync(binPath);
  if (buf.byteLength % 4 !== 0) throw new Error(`${binPath}: size ${buf.byteLength} is not a multiple of 4`);
  const flat = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const weights: NamedWeights = {};
  for (const e of meta.weights) {
    const n = e.length ?? e.shape.reduce((a, b) => a * b, 1);
    if (e.offset + n > flat.length) throw new Error(`${binPath}: weight "${e.name}" runs past the end of the file`);
    weights[e.name] = { shape: e.shape, data: flat.slice(e.offset, e.offset + n) };
  }
  return { meta, weights };
}

export function loadHpnCheckpoint(dir: string): { hpn: Hpn; meta: HpnCheckpointMeta } {
  const { meta, weights } = readHpnCheckpoint(dir);
  const hpn = new Hpn(meta.config, meta.seed ?? 0);
  hpn.setWeights(weights);
  return { hpn, meta };
}
