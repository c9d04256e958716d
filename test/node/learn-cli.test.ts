// The learning commands refuse bad input with one clear line and a non-zero exit.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(__dirname, "../..");
const tsx = path.join(root, "node_modules/.bin/tsx");
const run = (...args: string[]) => spawnSync(tsx, ["scripts/cli.ts", ...args], { cwd: root, encoding: "utf8", timeout: 60_000 });

describe("train / evaluate / pipeline CLI errors", () => {
  it("unknown policy name", () => {
    const r = run(
      "evaluate",
      "--data",
      "items=50,users=20,interactions=400",
      "--format",
      "synthetic",
      "--out",
      "/tmp/hsrl-cli-x",
      "--policies",
      "hsrl,nope",
    );
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(
      'error: --policies: unknown policy "nope" (known: random, popular, sl, flat-a2c, hsrl, hsrl-no-residual, hsrl-no-mlc, hpn-sl, hsrl-ar, hpn-sl-ar, oracle)',
    );
  });

  it("bad --hpn-loss and --sid-popularity", () => {
    const loss = run(
      "evaluate",
      "--data",
      "items=50,users=20,interactions=400",
      "--format",
      "synthetic",
      "--out",
      "/tmp/hsrl-cli-x",
      "--hpn-loss",
      "items",
    );
    expect(loss.status).toBe(1);
    // commander's .choices(): the error line, then the command's usage
    expect(loss.stderr.split("\n")[0]).toBe(
      "error: option '--hpn-loss <kind>' argument 'items' is invalid. Allowed choices are catalog, tokens.",
    );
    const pop = run(
      "evaluate",
      "--data",
      "items=50,users=20,interactions=400",
      "--format",
      "synthetic",
      "--out",
      "/tmp/hsrl-cli-x",
      "--sid-popularity",
      "1",
    );
    expect(pop.status).toBe(1);
    expect(pop.stderr.trim()).toBe('error: --sid-popularity must be a number in [0, 1), got "1"');
  });

  it("bad numbers and missing data", () => {
    const bad = run("train", "--data", "x", "--format", "synthetic", "--out", "/tmp/hsrl-cli-x", "--steps", "ten");
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/--steps must be a non-negative integer, got "ten"/);
    const missing = run("train", "--data", "/nonexistent/ml", "--format", "movielens", "--out", "/tmp/hsrl-cli-x");
    expect(missing.status).toBe(1);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
    expect(missing.stderr).toMatch(/^error: .*\/nonexistent\/ml/);
  });
});
