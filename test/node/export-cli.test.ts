import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseManifest } from "../../core/manifest";
import { parseHeldOut } from "../../core/promotion";

const tsx = join("node_modules", ".bin", "tsx");
const hsrl = (...args: string[]) => spawnSync(tsx, ["scripts/cli.ts", ...args], { encoding: "utf8", timeout: 60_000 });
const dir = mkdtempSync(join(tmpdir(), "hsrl-export-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("hsrl export (CLI)", () => {
  it("exports a random HPN with a synthetic dataset's test split: files, manifest, parity with NDCG", () => {
    const sids = join(dir, "sids");
    const s = hsrl(
      "sids",
      "--data",
      "items=300,users=60,interactions=3000",
      "--format",
      "synthetic",
      "--out",
      sids,
      "--size",
      "16",
      "--seed",
      "2",
    );
    expect(s.status, s.stderr).toBe(0);
    const out = join(dir, "model");
    const r = hsrl(
      "export",
      "--random",
      "--levels",
      "3",
      "--vocab",
      "16",
      "--history-length",
      "10",
      "--d-model",
      "16",
      "--heads",
      "2",
      "--ff",
      "32",
      "--seed",
      "4",
      "--out",
      out,
      "--codebook",
      join(sids, "codebook.json"),
      "--data",
      "items=300,users=60,interactions=3000",
      "--format",
      "synthetic",
      "--sid-table",
      join(sids, "sid-table.json"),
      "--histories",
      "100",
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/fp32 vs tfjs: max \|Δ log-prob\| .* ok/);
    expect(r.stdout).toMatch(/NDCG@10: tfjs/);
    const manifest = parseManifest(JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")));
    const codebook = JSON.parse(readFileSync(join(out, "codebook.json"), "utf8"));
    expect(manifest.codebook).toEqual({ version: codebook.version, path: "codebook.json" });
    expect(manifest.featureDim).toBe(codebook.dim);
    const parity = JSON.parse(readFileSync(join(out, "parity.json"), "utf8"));
    expect(parity.ndcg10.histories).toBeGreaterThan(0);
    expect(parity.sizes.int8).toBe(manifest.files.int8.bytes);
    // the held-out examples ship beside the model as item ids, for the Worker's replay gate
    const heldOut = parseHeldOut(JSON.parse(readFileSync(join(out, "heldout.json"), "utf8")));
    expect(heldOut?.examples).toHaveLength(parity.ndcg10.histories);
    const ids = new Set(
      (JSON.parse(readFileSync(join(sids, "sid-table.json"), "utf8")) as { items: { id: string }[] }).items.map((r) => r.id),
    );
    for (const e of heldOut?.examples ?? []) for (const id of [...e.history, e.target]) expect(ids.has(id)).toBe(true);
  });

  it("bad input: one clear line and a non-zero exit", () => {
    const missing = hsrl("export", "--checkpoint", join(dir, "nope"), "--out", join(dir, "x"));
    expect(missing.status).toBe(1);
    expect(missing.stderr.trim()).toMatch(/^error: .*nope\/hpn\.json: not found/);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
    const bad = join(dir, "bad");
    writeFileSync(join(dir, "hpn.json"), "{ not json");
    writeFileSync(join(dir, "hpn.weights.bin"), new Uint8Array(8));
    const badJson = hsrl("export", "--checkpoint", dir, "--out", bad);
    expect(badJson.status).toBe(1);
    expect(badJson.stderr).toMatch(/hpn\.json: invalid JSON/);
    const mismatch = hsrl("export", "--random", "--vocab", "64", "--out", bad, "--codebook", join(dir, "sids", "codebook.json"));
    expect(mismatch.status).toBe(1);
    expect(mismatch.stderr).toMatch(/codebook is 3 levels x 16 codes, the HPN is 3 x 64/);
  });
});
