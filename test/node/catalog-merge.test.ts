// The SID-table merge (scripts/sids/catalog-merge.ts) applied to the D1 schema in node:sqlite: what a load does to
// items added through the API, to items retired with DELETE, and under a new codebook.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { beforeEach, describe, expect, it } from "vitest";
import { type Codebook, encodeSid, sidKey } from "../../core/codebook";
import { blobHex, readSidTableSql, type SidTableRow } from "../../scripts/sids/artifacts";
import { type CatalogRow, planCatalogMerge } from "../../scripts/sids/catalog-merge";
import { embeddedCodebook, embeddedTable, encodeTable, featuresOfHex, rotatedCodebook } from "./catalog-fixtures";

let db: DatabaseSync;

function migrate(): DatabaseSync {
  const d = new DatabaseSync(":memory:");
  for (const f of readdirSync("migrations")
    .filter((f) => f.endsWith(".sql"))
    .sort())
    d.exec(readFileSync(join("migrations", f), "utf8").replace(/--> statement-breakpoint/g, ""));
  return d;
}

function merge(table: SidTableRow[], codebook: Codebook, replace = false) {
  const current = db
    .prepare("SELECT id, sid, collision, status, retired_by, codebook_version, lower(hex(features)) AS features FROM items")
    .all() as unknown as CatalogRow[];
  const plan = planCatalogMerge(table, codebook, current, { replace, catalogVersion: "v-test" });
  db.exec(`BEGIN; ${plan.statements.join("\n")} COMMIT;`);
  return plan;
}

const row = (id: string) =>
  db.prepare("SELECT sid, collision, status, retired_by, codebook_version FROM items WHERE id = ?").get(id) as Record<string, unknown>;

// What PUT /v1/items leaves: features stored, SID from the catalog's codebook (the embedded one here).
function apiAdd(id: string, features: number[], codebook: Codebook = embeddedCodebook): void {
  const sid = sidKey(encodeSid(codebook, features));
  const c = (db.prepare("SELECT COALESCE(MAX(collision) + 1, 0) AS c FROM items WHERE sid = ?").get(sid) as { c: number }).c;
  db.prepare(
    "INSERT INTO items (id, sid, collision, status, attributes, features, codebook_version) VALUES (?, ?, ?, 'active', '{}', ?, ?)",
  ).run(id, sid, c, Buffer.from(blobHex(features), "hex"), codebook.version);
}
const deleteItem = (id: string) => db.prepare("UPDATE items SET status = 'retired', retired_by = 'delete' WHERE id = ?").run(id);
const apiFeatures = featuresOfHex(embeddedTable.rows[3].featuresHex).map((x, i) => x + (i === 0 ? 0.01 : 0));

beforeEach(() => {
  db = migrate();
});

describe("loading a SID table is a merge", () => {
  it("reads back the rows sid-table.sql holds", () => {
    expect(embeddedTable.codebookVersion).toBe(embeddedCodebook.version);
    expect(embeddedTable.rows).toHaveLength(2000);
    expect(embeddedTable.rows[0]).toMatchObject({ id: "s1", sid: "6-4-11", collision: 0 });
    expect(JSON.parse(embeddedTable.rows[0].attributes)).toMatchObject({ title: "Last Orbit" });
    expect(() => readSidTableSql("INSERT INTO items (id) VALUES ('x');", "t.sql")).toThrow(/^t\.sql:1: /);
  });

  it("counts what it adds, keeps API-added items, never revives DELETE-retired ones, and is a no-op the second time", () => {
    expect(merge(embeddedTable.rows, embeddedCodebook).counts).toEqual({
      added: 2000,
      reencoded: 0,
      retired: 0,
      unchanged: 0,
      keptRetired: 0,
    });
    apiAdd("api-1", apiFeatures);
    deleteItem("s5");
    const before = row("api-1");
    const plan = merge(embeddedTable.rows, embeddedCodebook);
    expect(plan.counts).toEqual({ added: 0, reencoded: 0, retired: 0, unchanged: 2000, keptRetired: 1 });
    expect(row("api-1")).toEqual(before);
    expect(row("s5")).toMatchObject({ status: "retired", retired_by: "delete" });
  });

  it("retires unlisted items only with replace; a later load that lists them again restores them", () => {
    merge(embeddedTable.rows, embeddedCodebook);
    apiAdd("api-1", apiFeatures);
    const partial = embeddedTable.rows.slice(0, 1500);
    expect(merge(partial, embeddedCodebook).counts).toMatchObject({ retired: 0, unchanged: 2001 });
    expect(merge(partial, embeddedCodebook, true).counts).toEqual({
      added: 0,
      reencoded: 0,
      retired: 501,
      unchanged: 1500,
      keptRetired: 0,
    });
    expect(row("api-1")).toMatchObject({ status: "retired", retired_by: "catalog" });
    expect(row("s1999")).toMatchObject({ status: "retired", retired_by: "catalog", sid: "retired:s1999" });
    expect(merge(embeddedTable.rows, embeddedCodebook).counts).toMatchObject({ added: 500, keptRetired: 1 });
    expect(row("s1999")).toMatchObject({ status: "active", retired_by: null });
  });

  it("under a new codebook, re-encodes API-added items from their stored features, keeping every SID unique", () => {
    merge(embeddedTable.rows, embeddedCodebook);
    apiAdd("api-1", apiFeatures);
    apiAdd("api-2", featuresOfHex(embeddedTable.rows[3].featuresHex)); // the same tokens as s4: a collision to resolve
    deleteItem("s7");
    db.prepare(
      "INSERT INTO items (id, sid, collision, status, attributes, codebook_version) VALUES ('bare', '1-2-3', 0, 'active', '{}', ?)",
    ).run(embeddedCodebook.version);
    const next = rotatedCodebook();
    const table = encodeTable(next, embeddedTable.rows);
    const plan = merge(table, next);
    expect(plan.counts).toEqual({ added: 0, reencoded: 2001, retired: 1, unchanged: 0, keptRetired: 1 });
    expect(plan.unencodable).toEqual(["bare"]); // no stored features: nothing to re-encode it from
    for (const id of ["api-1", "api-2"]) {
      const r = row(id);
      expect(r).toMatchObject({ status: "active", codebook_version: next.version });
      const f = (db.prepare("SELECT lower(hex(features)) AS f FROM items WHERE id = ?").get(id) as { f: string }).f;
      expect(r.sid).toBe(sidKey(encodeSid(next, featuresOfHex(f))));
    }
    expect(row("api-2").sid).toBe(table[3].sid);
    expect(row("api-2").collision).not.toBe(table[3].collision);
    expect(row("s7")).toMatchObject({ status: "retired", retired_by: "delete", sid: table[6].sid });
    const dup = db
      .prepare("SELECT COUNT(*) AS n FROM (SELECT sid, collision FROM items GROUP BY sid, collision HAVING COUNT(*) > 1)")
      .get();
    expect(dup).toEqual({ n: 0 });
  });
});
