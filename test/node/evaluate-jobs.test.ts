// `evaluate --jobs N`: (policy, seed) jobs in worker threads give the same eval.json numbers as one job at a time, a
// rerun reuses the saved runs, and a failing job stops the run with its error.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { defaultExperimentConfig, type PolicyName } from "../../scripts/learn/config";
import { runJobsInWorkers } from "../../scripts/learn/job-pool";
import { initBackend } from "../../scripts/model/backend";
import { plantedDataset, plantedSids } from "./learn-helpers";

const root = path.resolve(__dirname, "../..");
const tsx = path.join(root, "node_modules/.bin/tsx");
const evaluate = (out: string, jobs: number) =>
  spawnSync(
    tsx,
    [
      "scripts/cli.ts",
      "evaluate",
      ...["--data", "items=80,users=40,interactions=1200,seed=1", "--format", "synthetic", "--out", out],
      ...["--steps", "6", "--batch", "8", "--seeds", "1,2", "--policies", "random,popular,sl,hsrl", "--episodes", "20"],
      ...["--history", "10", "--response-epochs", "1", "--jobs", String(jobs)],
    ],
    { cwd: root, encoding: "utf8", timeout: 120_000 },
  );

/** eval.json's per-policy numbers, without the wall-clock fields. */
function numbers(out: string): unknown {
  const j = JSON.parse(fs.readFileSync(path.join(out, "eval.json"), "utf8"));
  const policies = j.policies as Record<string, { perSeed: { trainSeconds: number }[] }>;
  for (const p of Object.values(policies)) for (const s of p.perSeed) s.trainSeconds = 0;
  return { policies, responseModelAUC: j.responseModelAUC };
}

beforeAll(async () => {
  await initBackend();
});

describe("evaluate --jobs", () => {
  it("--jobs 1 and --jobs 2 write the same numbers; a rerun with --jobs 2 reuses the saved runs", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hsrl-jobs-"));
    const one = evaluate(path.join(tmp, "one"), 1);
    expect(one.status, one.stderr).toBe(0);
    const two = evaluate(path.join(tmp, "two"), 2);
    expect(two.status, two.stderr).toBe(0);
    expect(numbers(path.join(tmp, "two"))).toEqual(numbers(path.join(tmp, "one")));
    const again = evaluate(path.join(tmp, "one"), 2);
    expect(again.status, again.stderr).toBe(0);
    expect(numbers(path.join(tmp, "one"))).toEqual(numbers(path.join(tmp, "two")));
    expect(again.stderr).not.toMatch(/train sl seed 1: 1\//); // loaded, not retrained
  });

  it("a failing job rejects the run with its error (no hang)", async () => {
    const cfg = defaultExperimentConfig();
    cfg.historyLength = 8;
    cfg.hpn = { ...cfg.hpn, dModel: 16, heads: 2, layers: 1, ff: 32 };
    cfg.train = { ...cfg.train, steps: 2, batchSize: 8 };
    const jobs = [{ name: "nope" as PolicyName, seed: 2 }];
    const init = { dataset: plantedDataset(20, 30, 10), sids: plantedSids(30), cfg, dir: null, response: null };
    await expect(runJobsInWorkers(jobs, 2, init)).rejects.toThrow(/nope seed 2: no learner for policy "nope"/);
  });
});
