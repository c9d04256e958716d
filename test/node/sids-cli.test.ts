import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { codebookFromJson, encodeSid } from "../../core/codebook";
import { loadDataset } from "../../scripts/data/load";
import { buildSids } from "../../scripts/sids/build";

const tsx = join("node_modules", ".bin", "tsx");
const hsrl = (...args: string[]) => spawnSync(tsx, ["scripts/cli.ts", ...args], { encoding: "utf8", timeout: 60_000 });

describe("hsrl sids (CLI)", () => {
  it("writes the artifacts for a synthetic catalog", () => {
    const out = mkdtempSync(join(tmpdir(), "hsrl-cli-"));
    const r = hsrl(
      "sids",
      "--data",
      "items=300,users=60,interactions=2000",
      "--format",
      "synthetic",
      "--out",
      out,
      "--size",
      "16",
      "--seed",
      "3",
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/SIDs for 300 items: L=3, V=16, d=32/); // 32 content feature dimensions (no popularity coordinate by default)
    const report = JSON.parse(readFileSync(join(out, "sid-report.json"), "utf8"));
    expect(report.collisions).toBe(0);
    expect(report.seed).toBe(3);
    const cb = codebookFromJson(JSON.parse(readFileSync(join(out, "codebook.json"), "utf8")));
    expect(report.codebookVersion).toBe(cb.version);
    expect(readFileSync(join(out, "sid-table.sql"), "utf8")).toMatch(
      /INSERT INTO meta \(key, value\) VALUES \('codebook_version', '[0-9a-f]{16}'\)/,
    );
    const withPop = hsrl(
      "sids",
      "--data",
      "items=300,users=60,interactions=2000",
      "--format",
      "synthetic",
      "--out",
      out,
      "--size",
      "16",
      "--popularity",
      "0.5",
    );
    expect(withPop.stdout).toMatch(/d=33/); // the ablation: one more coordinate for popularity
  });

  it("bad input: one clear line and a non-zero exit", () => {
    const d = mkdtempSync(join(tmpdir(), "hsrl-cli-"));
    writeFileSync(join(d, "movies.csv"), "movieId,title,genres\n1,A (1999),Drama\n");
    writeFileSync(join(d, "ratings.csv"), "userId,movieId,rating,timestamp\n1,1,4,5\n1,1\n");
    const r = hsrl("sids", "--data", d, "--format", "movielens", "--out", join(d, "out"));
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toEqual([
      `error: ${join(d, "ratings.csv")}:3: expected 4 fields (userId,movieId,rating,timestamp), got 2`,
    ]);
    const s = hsrl("sids", "--data", "x", "--format", "synthetic", "--out", d, "--size", "2000");
    expect(s.status).toBe(1);
    expect(s.stderr).toMatch(/--size must be an integer in 16\.\.1024, got "2000"/);
    const p = hsrl("sids", "--data", "x", "--format", "synthetic", "--out", d, "--popularity", "1");
    expect(p.status).toBe(1);
    expect(p.stderr.trim()).toBe('error: --popularity must be a number in [0, 1), got "1"');
  });
});

const ML = "../shared/data/ml-latest-small";
describe.skipIf(!existsSync(ML))("SIDs for ml-latest-small (skipped when the data is absent)", () => {
  it("0 collisions after resolution, level-1 utilisation >= 95%, every SID reproduced by encodeSid", async () => {
    const ds = loadDataset(ML, "movielens");
    const b = await buildSids(ds, { levels: 3, dim: 32, seed: 1, plainRq: false, threads: 1 });
    expect(b.report.codebookSize).toBe(128);
    expect(b.report.collisions).toBe(0);
    expect(b.report.utilization[0]).toBeGreaterThanOrEqual(0.95);
    expect(b.report.maxClusterShare[0]).toBeLessThan(0.03); // a perfectly even split would be 1/128 = 0.8%
    for (const e of b.table) expect(encodeSid(b.codebook, b.features.vectors[e.item])).toEqual(e.sid);
  });
});
