// Checkpoint files: `<name>.json` (config + weight index + anything else) beside `<name>.weights.bin` (float32 LE,
// concatenated in index order). Same layout for the HPN (hpn.json + hpn.weights.bin), the critic and the response model.
import fs from "node:fs";
import path from "node:path";
import type { NamedWeights } from "./tfops";

export interface WeightIndexEntry {
  name: string;
  shape: number[];
  offset: number; // in float32 elements
}

export function saveCheckpoint(dir: string, name: string, meta: Record<string, unknown>, weights: NamedWeights): void {
  fs.mkdirSync(dir, { recursive: true });
  const index: WeightIndexEntry[] = [];
  let total = 0;
  for (const [k, w] of Object.entries(weights)) {
    index.push({ name: k, shape: w.shape, offset: total });
    total += w.data.length;
  }
  const all = new Float32Array(total);
  for (const e of index) all.set(weights[e.name].data, e.offset);
  // write-then-rename so an interrupted run never leaves a half checkpoint behind
  const bin = path.join(dir, `${name}.weights.bin`);
  const json = path.join(dir, `${name}.json`);
  fs.writeFileSync(bin + ".tmp", new Uint8Array(all.buffer));
  fs.writeFileSync(json + ".tmp", JSON.stringify({ ...meta, weights: index }, null, 1));
  fs.renameSync(bin + ".tmp", bin);
  fs.renameSync(json + ".tmp", json);
}

export function loadCheckpoint<M = Record<string, unknown>>(dir: string, name: string): { meta: M; weights: NamedWeights } {
  const json = path.join(dir, `${name}.json`);
  const bin = path.join(dir, `${name}.weights.bin`);
  if (!fs.existsSync(json)) throw new Error(`checkpoint: ${json} not found`);
  if (!fs.existsSync(bin)) throw new Error(`checkpoint: ${bin} not found`);
  const meta = JSON.parse(fs.readFileSync(json, "utf8")) as M & { weights: WeightIndexEntry[] };
  const buf = fs.readFileSync(bin);
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const weights: NamedWeights = {};
  for (const e of meta.weights) {
    const n = e.shape.reduce((a, b) => a * b, 1);
    if (e.offset + n > all.length) throw new Error(`checkpoint: ${bin} is too short for weight "${e.name}"`);
    weights[e.name] = { shape: e.shape, data: all.slice(e.offset, e.offset + n) };
  }
  return { meta, weights };
}

export function hasCheckpoint(dir: string, name: string): boolean {
  return fs.existsSync(path.join(dir, `${name}.json`)) && fs.existsSync(path.join(dir, `${name}.weights.bin`));
}
