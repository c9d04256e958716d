// `hsrl publish` and `hsrl events export` against a throwaway wrangler local state (HSRL_PERSIST_TO), through the CLI.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeSid, sidKey } from "../../core/codebook";
import { d1Migrate, d1Query } from "../../scripts/deploy/wrangler";
import { blobHex } from "../../scripts/sids/artifacts";
import { embeddedCodebook, embeddedTable, encodeTable, featuresOfHex, rotatedCodebook, writeSidsDir } from "./catalog-fixtures";

const manifest = JSON.parse(readFileSync("model/default/manifest.json", "utf8")) as { version: string; codebook: { version: string } };
const state = mkdtempSync(join(tmpdir(), "hsrl-publish-"));
const env = { ...process.env, HSRL_PERSIST_TO: state };

function hsrl(args: string[]): { stdout: string; status: number; stderr: string } {
  const res = spawnSync("npx", ["tsx", "scripts/cli.ts", ...args], { env, encoding: "utf8" });
  return { stdout: res.stdout, status: res.status ?? 1, stderr: res.stderr };
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
      catalog: { added: 2000, reencoded: 0, retired: 0, unchanged: 0, keptRetired: 0 },
      gate: { active: "embedded", canaryRunning: null, loggedSessions: 0, gate: { minSessions: 30, margin: 0.05 }, canary: { share: 0.1 } },
    });
    // what will gate it: the replay (skipped without logged sessions) and the canary
    expect(res.stderr).toMatch(/gate: the cron validates the candidate .* against the active model embedded/);
    expect(res.stderr).toMatch(/gate: only 0 logged sessions in the last 14 days \(it needs 30\) and 0 held-out examples/);
    expect(res.stderr).toMatch(/canary: then 0.1 of users until each arm has 1000 impressions/);
    expect(d1Query("local", `SELECT status, r2_key FROM model_versions WHERE version = '${manifest.version}'`)).toEqual([
      { status: "candidate", r2_key: `models/${manifest.version}/` },
    ]);
    expect(d1Query("local", "SELECT value FROM meta WHERE key = 'codebook_version'")).toEqual([{ value: manifest.codebook.version }]);
    const active = d1Query<{ n: number }>("local", "SELECT COUNT(*) AS n FROM items WHERE status = 'active'")[0].n;
    expect(active).toBeGreaterThan(100);
    // The load published the prefix index: an R2 artifact the Worker maps instead of reading every row from D1.
    const [{ value }] = d1Query<{ value: string }>("local", "SELECT value FROM meta WHERE key = 'catalog_index'");
    const pointer = JSON.parse(value) as { key: string; items: number; codebook: string };
    expect(pointer).toMatchObject({ items: active, codebook: manifest.codebook.version });
    expect(pointer.key).toMatch(/^catalog-index\/.+\.bin$/);
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
  }, 240_000);

  it("loads SID tables as merges: API-added items survive (re-encoded under a new codebook), DELETE-retired ones stay retired", () => {
    const last = (r: { stdout: string }) => JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    const snapshot = () =>
      d1Query(
        "local",
        "SELECT (SELECT json_group_array(json_array(id, sid, collision, status, retired_by)) FROM items) AS items, " +
          "(SELECT value FROM meta WHERE key = 'catalog_version') AS catalog, (SELECT COUNT(*) FROM model_versions) AS models",
      );
    // What PUT /v1/items and DELETE /v1/items/:id leave behind.
    const features = featuresOfHex(embeddedTable.rows[3].featuresHex).map((x, i) => x + (i === 0 ? 0.01 : 0));
    const apiSid = sidKey(encodeSid(embeddedCodebook, features));
    d1Query(
      "local",
      `INSERT INTO items (id, sid, collision, status, attributes, features, codebook_version) VALUES ('api-1', '${apiSid}', ` +
        `(SELECT COALESCE(MAX(collision) + 1, 0) FROM items WHERE sid = '${apiSid}'), 'active', '{"title":"From the API"}', ` +
        `X'${blobHex(features)}', '${embeddedCodebook.version}'); UPDATE items SET status = 'retired', retired_by = 'delete' WHERE id = 's5'`,
    );
    const before = snapshot();

    const dry = hsrl(["publish", "--model", "model/default", "--local", "--catalog", "--dry-run"]);
    expect(dry.status, dry.stderr).toBe(0);
    const same = { added: 0, reencoded: 0, retired: 0, unchanged: 2000, keptRetired: 1 };
    expect(last(dry)).toMatchObject({ dryRun: true, catalog: { ...same, dryRun: true } });
    expect(snapshot()).toEqual(before);
    expect(hsrl(["publish", "--model", "model/default", "--local", "--replace", "--dry-run"]).stdout).toMatch(/"retired":1,/);
    expect(snapshot()).toEqual(before);

    const merged = hsrl(["publish", "--model", "model/default", "--local", "--catalog"]);
    expect(merged.status, merged.stderr).toBe(0);
    expect(merged.stderr).toMatch(/added 0, re-encoded 0, retired 0, unchanged 2000, kept retired 1/);
    expect(last(merged).catalog).toMatchObject(same);
    const status = () =>
      Object.fromEntries(
        d1Query<{ id: string; status: string; sid: string }>("local", "SELECT id, status, sid FROM items WHERE id IN ('api-1', 's5')").map(
          (r) => [r.id, r],
        ),
      );
    expect(status()).toMatchObject({ "api-1": { status: "active", sid: apiSid }, s5: { status: "retired" } });

    // A new codebook (same dimension): the API-added item is re-encoded from its stored features, not dropped.
    const next = rotatedCodebook();
    const dir = writeSidsDir(next, encodeTable(next, embeddedTable.rows));
    const load = hsrl(["catalog", "--sids", dir, "--local"]);
    expect(load.status, load.stderr).toBe(0);
    expect(last(load)).toMatchObject({ added: 0, reencoded: 2000, retired: 0, unchanged: 0, keptRetired: 1, codebook: next.version });
    expect(status()).toMatchObject({ "api-1": { status: "active", sid: sidKey(encodeSid(next, features)) }, s5: { status: "retired" } });
    expect(d1Query("local", "SELECT value FROM meta WHERE key = 'codebook_version'")).toEqual([{ value: next.version }]);

    // --replace retires what the table does not list; DELETE-retired items stay retired whatever the flags.
    const replaced = hsrl(["catalog", "--sids", "model/default", "--local", "--replace"]);
    expect(last(replaced)).toMatchObject({ added: 0, reencoded: 1999, retired: 1, unchanged: 0, keptRetired: 1 });
    expect(status()).toMatchObject({ "api-1": { status: "retired", sid: "retired:api-1" }, s5: { status: "retired" } });
    expect(hsrl(["catalog", "--sids", state, "--local"]).stderr.trim()).toMatch(/^error: .*codebook\.json not found/);
  }, 300_000);

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
