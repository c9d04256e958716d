// `hsrl publish` and `hsrl events export` against a throwaway wrangler local state (HSRL_PERSIST_TO), through the CLI.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { d1Migrate, d1Query } from "../../scripts/deploy/wrangler";

const manifest = JSON.parse(readFileSync("model/default/manifest.json", "utf8")) as { version: string; codebook: { version: string } };
const state = mkdtempSync(join(tmpdir(), "hsrl-publish-"));
const env = { ...process.env, HSRL_PERSIST_TO: state };

function hsrl(args: string[]): { stdout: string; status: number; stderr: string } {
  try {
    return {
      stdout: execFileSync("npx", ["tsx", "scripts/cli.ts", ...args], { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }),
      status: 0,
      stderr: "",
    };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { stdout: e.stdout, status: e.status, stderr: e.stderr };
  }
}

describe("publish and events export (local wrangler state)", () => {
  beforeAll(() => {
    process.env.HSRL_PERSIST_TO = state;
    d1Migrate("local");
  }, 60_000);
  afterAll(() => {
    delete process.env.HSRL_PERSIST_TO;
    rmSync(state, { recursive: true, force: true });
  });

  it("registers the model as a candidate and loads its SID table when the catalog is on another codebook", () => {
    const res = hsrl(["publish", "--model", "model/default", "--local"]);
    expect(res.status).toBe(0);
    expect(JSON.parse(res.stdout.trim().split("\n").at(-1)!)).toMatchObject({
      version: manifest.version,
      status: "candidate",
      target: "local",
    });
    expect(d1Query("local", `SELECT status, r2_key FROM model_versions WHERE version = '${manifest.version}'`)).toEqual([
      { status: "candidate", r2_key: `models/${manifest.version}/` },
    ]);
    expect(d1Query("local", "SELECT value FROM meta WHERE key = 'codebook_version'")).toEqual([{ value: manifest.codebook.version }]);
    expect(d1Query<{ n: number }>("local", "SELECT COUNT(*) AS n FROM items WHERE status = 'active'")[0].n).toBeGreaterThan(100);
    // Publishing again is a no-op for the registry.
    expect(hsrl(["publish", "--model", "model/default", "--local"]).status).toBe(0);
    expect(d1Query<{ n: number }>("local", "SELECT COUNT(*) AS n FROM model_versions")[0].n).toBe(1);
    // A rejected version published again is a candidate again (the cron re-validates it); the reason is cleared.
    d1Query(
      "local",
      `UPDATE model_versions SET status = 'rejected', reason = 'catalog was on another codebook' WHERE version = '${manifest.version}'`,
    );
    expect(hsrl(["publish", "--model", "model/default", "--local"]).status).toBe(0);
    expect(d1Query("local", `SELECT status, reason FROM model_versions WHERE version = '${manifest.version}'`)).toEqual([
      { status: "candidate", reason: null },
    ]);
  }, 120_000);

  it("refuses a directory without a manifest, in one line", () => {
    const res = hsrl(["publish", "--model", state, "--local"]);
    expect(res.status).not.toBe(0);
    expect(res.stderr.trim()).toMatch(/^error: .*manifest\.json not found/);
  }, 60_000);

  it("exports stored events as a training log, one row per shown item, clicked or not", () => {
    d1Query(
      "local",
      `INSERT INTO events (request_id, user_id, item_id, type, ts) VALUES
        ('r1', 'u1', 's1', 'impression', 1700000000000), ('r1', 'u1', 's2', 'impression', 1700000000000),
        ('r1', 'u1', 's2', 'click', 1700000005000), ('r2', 'u2', 's3', 'impression', 1700000010000)`,
    );
    const out = join(state, "events.csv");
    const res = hsrl(["events", "export", "--out", out, "--local"]);
    expect(res.status).toBe(0);
    expect(readFileSync(out, "utf8").trim().split("\n")).toEqual([
      "user,item,label,timestamp",
      "u1,s1,0,1700000000",
      "u1,s2,1,1700000000",
      "u2,s3,0,1700000010",
    ]);
  }, 60_000);
});
