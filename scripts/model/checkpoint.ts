// Checkpoints: `<name>.json` (metadata + weight index) beside `<name>.weights.bin` (float32 LE, the weights
// concatenated in index order). One writer for every model (HPN, critic, flat head, response model): the .bin, then
// the .json, each written then renamed, so an interrupted run leaves the previous checkpoint readable, never half a one.
import fs from "node:fs";
import path from "node:path";
import { writeFileAtomic } from "../util/files";
import { Hpn, hpnWeightShapes, validateHpnConfig, type HpnConfig } from "./hpn";
import type { NamedWeights } from "./tfops";
import type { PopularityStats } from "../../core/popularity-prior";

export interface WeightIndexEntry {
  name: string;
  shape: number[];
  offset: number; // in float32 values
  length?: number; // defaults to the shape's size
}

export function saveCheckpoint(dir: string, name: string, meta: Record<string, unknown>, weights: NamedWeights): void {
  const index: WeightIndexEntry[] = [];
  let total = 0;
  for (const [k, w] of Object.entries(weights)) {
    index.push({ name: k, shape: w.shape, offset: total });
    total += w.data.length;
  }
  const all = new Float32Array(total);
  for (const e of index) all.set(weights[e.name].data, e.offset);
  // the index (json) is renamed last: a reader that finds it finds the bytes it describes
  writeFileAtomic(path.join(dir, `${name}.weights.bin`), new Uint8Array(all.buffer));
  writeFileAtomic(path.join(dir, `${name}.json`), JSON.stringify({ ...meta, weights: index }, null, 1));
}

export function loadCheckpoint<M = Record<string, unknown>>(dir: string, name: string): { meta: M; weights: NamedWeights } {
  const json = path.join(dir, `${name}.json`);
  const bin = path.join(dir, `${name}.weights.bin`);
  if (!fs.existsSync(json)) throw new Error(`${json}: not found (a checkpoint holds ${name}.json + ${name}.weights.bin)`);
  if (!fs.existsSync(bin)) throw new Error(`${bin}: not found`);
  let meta: M & { weights: WeightIndexEntry[] };
  try {
    meta = JSON.parse(fs.readFileSync(json, "utf8"));
  } catch (e) {
    throw new Error(`${json}: invalid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(meta.weights)) throw new Error(`${json}: missing "weights" (not a checkpoint?)`);
  const buf = fs.readFileSync(bin);
  if (buf.byteLength % 4 !== 0) throw new Error(`${bin}: size ${buf.byteLength} is not a multiple of 4`);
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const weights: NamedWeights = {};
  for (const e of meta.weights) {
    const n = e.length ?? e.shape.reduce((a, b) => a * b, 1);
    if (e.offset + n > all.length) throw new Error(`${bin}: weight "${e.name}" runs past the end of the file`);
    weights[e.name] = { shape: e.shape, data: all.slice(e.offset, e.offset + n) };
  }
  return { meta, weights };
}

export function hasCheckpoint(dir: string, name: string): boolean {
  return fs.existsSync(path.join(dir, `${name}.json`)) && fs.existsSync(path.join(dir, `${name}.weights.bin`));
}

// The HPN's checkpoint is `hpn.json` + `hpn.weights.bin`, what `hsrl export --checkpoint <dir>` reads. A trainer adds
// its own fields (training, evaluation, sids) through `extra`.
export const HPN_CHECKPOINT_FORMAT = "hsrl-hpn-checkpoint/1";

export interface HpnCheckpointMeta {
  format: typeof HPN_CHECKPOINT_FORMAT;
  config: HpnConfig;
  seed: number;
  [extra: string]: unknown;
}

/** The learned popularity prior a checkpoint's meta carries (train-hsrl.ts writes it), or null without one. */
export interface CheckpointPrior {
  w: number[];
  b: number;
  stats: PopularityStats;
}
export function checkpointPrior(meta: HpnCheckpointMeta): CheckpointPrior | null {
  const p = meta.popularityPrior as Partial<CheckpointPrior> | null | undefined;
  if (!p) return null;
  if (!Array.isArray(p.w) || typeof p.b !== "number" || !p.stats) throw new Error("hpn.json: popularityPrior needs w, b and stats");
  return { w: p.w, b: p.b, stats: p.stats };
}

export function saveHpnCheckpoint(dir: string, hpn: Hpn, extra: Record<string, unknown> = {}): void {
  const all = hpn.getWeights();
  const ordered: NamedWeights = {}; // the order of hpnWeightShapes, whatever getWeights returns
  for (const [name] of hpnWeightShapes(hpn.config)) ordered[name] = all[name];
  saveCheckpoint(dir, "hpn", { ...extra, format: HPN_CHECKPOINT_FORMAT, config: hpn.config, seed: hpn.seed }, ordered);
}

/** Reads a checkpoint's metadata and named weights without building a model (the exporter needs only these). */
export function readHpnCheckpoint(dir: string): { meta: HpnCheckpointMeta; weights: NamedWeights } {
  const { meta, weights } = loadCheckpoint<HpnCheckpointMeta>(dir, "hpn");
  if (!meta.config) throw new Error(`${path.join(dir, "hpn.json")}: missing "config" (not an HPN checkpoint?)`);
  validateHpnConfig(meta.config);
  return { meta, weights };
}

export function loadHpnCheckpoint(dir: string): { hpn: Hpn; meta: HpnCheckpointMeta } {
  const { meta, weights } = readHpnCheckpoint(dir);
  const hpn = new Hpn(meta.config, meta.seed ?? 0);
  hpn.setWeights(weights);
  return { hpn, meta };
}
