import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { codebookFromJson, encodeSid, sidKey } from "../../core/codebook";
import { generateSynthetic } from "../../scripts/data/synthetic";
import { writeSidArtifacts, float32Decimal, readSidTableSql, type SidTableJson } from "../../scripts/sids/artifacts";
import { type CatalogRow, planCatalogMerge } from "../../scripts/sids/catalog-merge";
import { buildSids, compareIds, resolveCollisions } from "../../scripts/sids/build";

describe("collision resolution", () => {
  it("numbers items sharing tokens 0, 1, 2.. in item-id order", () => {
    const ids = ["10", "9", "b", "a", "100"];
    const tokens = Int32Array.from([1, 1, 1, 1, 2, 2, 2, 2, 1, 1]); // ids 10, 9, 100 share [1,1]; b, a share [2,2]
    const { collision, distinct, inGroups } = resolveCollisions(ids, tokens, 2);
    expect(Array.from(collision)).toEqual([1, 0, 1, 0, 2]);
    expect(distinct).toBe(2);
    expect(inGroups).toBe(5);
    expect(["10", "9", "100", "a"].sort(compareIds)).toEqual(["9", "10", "100", "a"]);
  });
});

describe("buildSids", () => {
  // Small V on purpose so that collisions happen before resolution.
  const data = generateSynthetic({ items: 800, users: 200, interactions: 10_000, seed: 2 });
  const options = { levels: 3, size: 16, dim: 16, seed: 1, iterations: 10 };

  it("gives every item a unique full SID, reproducible by encodeSid, and an honest report", async () => {
    const b = await buildSids(data, options);
    const r = b.report;
    expect(r.items).toBe(800);
    expect(r.collisions).toBe(0);
    const full = new Set(b.table.map((e) => `${sidKey(e.sid)}#${e.collision}`));
    expect(full.size).toBe(800);
    // Re-encoding every built item with the shared encoder reproduces its SID.
    for (const e of b.table) expect(encodeSid(b.codebook, b.features.vectors[e.item])).toEqual(e.sid);
    // The report's numbers are recomputed here from the table.
    const distinct = new Set(b.table.map((e) => sidKey(e.sid))).size;
    expect(r.collisionRateBeforeResolution).toBeCloseTo((800 - distinct) / 800, 6);
    expect(r.collisionRateBeforeResolution).toBeGreaterThan(0);
    for (let l = 0; l < 3; l++) {
      const count = new Map<number, number>();
      for (const e of b.table) count.set(e.sid[l], (count.get(e.sid[l]) ?? 0) + 1);
      expect(r.utilization[l]).toBeCloseTo(count.size / 16, 6);
      expect(r.maxClusterShare[l]).toBeCloseTo(Math.max(...count.values()) / 800, 6);
    }
    expect(r.utilization[0]).toBeGreaterThanOrEqual(0.95);
    expect(r.reconstructionError[2]).toBeLessThan(r.reconstructionError[0]);
    expect(r.plainRqReconstructionError).toHaveLength(3);
    expect(r.maxClusterShare[0]).toBeLessThanOrEqual(r.plainRqMaxClusterShare![0]);
    expect(r.seconds).toBeGreaterThan(0);
  });

  it("is deterministic under a seed", async () => {
    const a = await buildSids(data, { ...options, plainRq: false });
    const b = await buildSids(data, { ...options, plainRq: false });
    expect(b.codebook.version).toBe(a.codebook.version);
    expect(b.table).toEqual(a.table);
    const c = await buildSids(data, { ...options, plainRq: false, seed: 2 });
    expect(c.codebook.version).not.toBe(a.codebook.version);
  });

  it("writes codebook.json, sid-table.json, sid-report.json and a SQL seed that loads into the D1 schema", async () => {
    const b = await buildSids(data, options);
    const dir = mkdtempSync(join(tmpdir(), "hsrl-sids-"));
    const { catalogVersion } = writeSidArtifacts(dir, data, b);
    expect(readdirSync(dir).sort()).toEqual([
      "codebook.json",
      "item-encoder.json",
      "sid-report.json",
      "sid-report.md",
      "sid-table.json",
      "sid-table.sql",
    ]);
    expect(readFileSync(join(dir, "sid-report.md"), "utf8")).toMatch(/\| 1 \| 100\.0% \|/);

    const cb = codebookFromJson(JSON.parse(readFileSync(join(dir, "codebook.json"), "utf8")));
    expect(cb.version).toBe(b.codebook.version);
    const table = JSON.parse(readFileSync(join(dir, "sid-table.json"), "utf8")) as SidTableJson;
    expect(table.codebookVersion).toBe(cb.version);
    expect(table.items).toHaveLength(800);
    expect(table.items[0].attributes.title).toBe(data.items[0].title);
    // Features in the JSON are exact float32 values: re-encoding from the file gives the same SIDs.
    for (const it of table.items) expect(encodeSid(cb, it.features)).toEqual(it.sid);
    const report = JSON.parse(readFileSync(join(dir, "sid-report.json"), "utf8"));
    for (const k of [
      "items",
      "levels",
      "codebookSize",
      "collisionRateBeforeResolution",
      "collisions",
      "utilization",
      "maxClusterShare",
      "reconstructionError",
      "plainRqReconstructionError",
      "seconds",
    ])
      expect(report).toHaveProperty(k);

    // Apply the drizzle migration, then the seed twice (the second run is an upsert over existing rows).
    const db = new DatabaseSync(":memory:");
    for (const f of readdirSync("migrations")
      .filter((f) => f.endsWith(".sql"))
      .sort()) {
      db.exec(readFileSync(join("migrations", f), "utf8").replace(/--> statement-breakpoint/g, ""));
    }
    const seed = readFileSync(join(dir, "sid-table.sql"), "utf8");
    db.exec(seed);
    db.exec(seed);
    const rows = db
      .prepare("SELECT id, sid, collision, status, features, codebook_version, attributes FROM items ORDER BY rowid")
      .all() as {
      id: string;
      sid: string;
      collision: number;
      status: string;
      features: Uint8Array;
      codebook_version: string;
      attributes: string;
    }[];
    expect(rows).toHaveLength(800);
    const e = b.table[5];
    const row = rows.find((r) => r.id === e.id)!;
    expect(row.sid).toBe(sidKey(e.sid));
    expect(row.collision).toBe(e.collision);
    expect(row.status).toBe("active");
    expect(row.codebook_version).toBe(cb.version);
    expect(JSON.parse(row.attributes).genres).toEqual(data.items[e.item].genres);
    const blob = new Float32Array(new Uint8Array(row.features).buffer);
    expect(Array.from(blob)).toEqual(Array.from(b.features.vectors[e.item]));
    const meta = Object.fromEntries(
      (db.prepare("SELECT key, value FROM meta").all() as { key: string; value: string }[]).map((m) => [m.key, m.value]),
    );
    expect(meta).toEqual({ codebook_version: cb.version, catalog_version: catalogVersion });

    // A catalog rebuilt with another codebook swaps SIDs among existing rows: loaded as a merge (what `hsrl catalog`
    // runs), it must not trip the unique index. The seed itself only inserts, so it leaves existing rows alone.
    const other = await buildSids(data.items.length ? { ...data, items: data.items } : data, { ...options, seed: 5, plainRq: false });
    const dir2 = mkdtempSync(join(tmpdir(), "hsrl-sids-"));
    writeSidArtifacts(dir2, data, other);
    const otherSql = readFileSync(join(dir2, "sid-table.sql"), "utf8");
    const current = db
      .prepare("SELECT id, sid, collision, status, retired_by, codebook_version, lower(hex(features)) AS features FROM items")
      .all() as unknown as CatalogRow[];
    const plan = planCatalogMerge(readSidTableSql(otherSql).rows, other.codebook, current, { catalogVersion: "next" });
    expect(plan.counts.reencoded + plan.counts.unchanged).toBe(800);
    db.exec(`BEGIN; ${plan.statements.join("\n")} COMMIT;`);
    const active = db
      .prepare("SELECT count(*) AS n FROM items WHERE status = 'active' AND codebook_version = ?")
      .get(other.codebook.version) as { n: number };
    expect(active.n).toBe(800);
  });

  it("float32Decimal gives the shortest decimal that reads back as the same float32", () => {
    for (const x of [0.1, 1 / 3, -0.123456789, 1e-8, 0].map(Math.fround)) {
      const y = float32Decimal(x);
      expect(Math.fround(y)).toBe(x);
      expect(String(y).replace(/^-?0\.0*|e.*$|\./g, "").length).toBeLessThanOrEqual(9);
    }
  });

  it("refuses bad sizes with a clear message", async () => {
    await expect(buildSids(data, { ...options, size: 2000 })).rejects.toThrow(/codebook size must be an integer in 16\.\.1024/);
  });
});
