// The SID-table merge (scripts/sids/catalog-merge.ts) applied to the D1 schema in node:sqlite: what a load does to
// items added through the API, to items retired with DELETE, and under a new codebook.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { beforeEach, describe, expect, it } from "vitest";
import { type Codebook, encodeSid, sidKey } from "../../core/codebook";
import { readLines } from "../../scripts/data/read";
import {
  blobHex,
  readSidTableSql,
  readSidTableSqlFile,
  type SidTableRow,
  sidTableSqlFromRows,
  writeSidTablePriors,
} from "../../scripts/sids/artifacts";
import { type CatalogRow, planCatalogMerge, rowsNeedingFeatures } from "../../scripts/sids/catalog-merge";
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

function plan(table: SidTableRow[], codebook: Codebook, replace = false, batchRows?: number) {
  // what deploy/catalog.ts reads: the rows without features, then the features of the rows that need them
  const current = db.prepare("SELECT id, sid, collision, status, retired_by, codebook_version FROM items").all() as unknown as CatalogRow[];
  const need = new Set(rowsNeedingFeatures(table, codebook.version, current, replace));
  for (const r of current)
    if (need.has(r.id))
      r.features = (db.prepare("SELECT lower(hex(features)) AS f FROM items WHERE id = ?").get(r.id) as { f: string | null }).f;
  return planCatalogMerge(table, codebook, current, { replace, catalogVersion: "v-test", batchRows });
}

function merge(table: SidTableRow[], codebook: Codebook, replace = false) {
  const p = plan(table, codebook, replace);
  db.exec(`BEGIN; ${p.statements.join("\n")} COMMIT;`);
  return p;
}

/** Each batch in a transaction of its own, as `hsrl catalog` applies them; stops after `upTo` batches. */
function mergeInBatches(table: SidTableRow[], codebook: Codebook, batchRows: number, upTo = Number.POSITIVE_INFINITY) {
  const p = plan(table, codebook, false, batchRows);
  for (const b of p.batches.slice(0, upTo)) db.exec(`BEGIN; ${b.join("\n")} COMMIT;`);
  return p;
}

const snapshot = () =>
  db
    .prepare("SELECT id, sid, collision, status, retired_by, codebook_version, attributes, hex(features) AS f FROM items ORDER BY id")
    .all();

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

  it("reads sid-table.sql streamed as it reads it whole, across chunk boundaries and multi-byte characters", () => {
    const rows = embeddedTable.rows.slice(0, 50).map((r, i) => ({ ...r, attributes: JSON.stringify({ title: `Été ${i} 日本 '` }) }));
    const text = sidTableSqlFromRows(embeddedCodebook.version, "c", rows);
    const file = join(mkdtempSync(join(tmpdir(), "hsrl-table-")), "sid-table.sql");
    writeFileSync(file, text);
    expect(readSidTableSqlFile(file)).toEqual(readSidTableSql(text));
    expect(readSidTableSql(text).rows[7].attributes).toBe(JSON.stringify({ title: "Été 7 日本 '" }));
    expect([...readLines(file, 7)]).toEqual(text.split("\n").slice(0, -1)); // 7-byte chunks split every line and character
  });

  it("loads each item's popularity prior and the catalog's statistics; a row without one keeps the stored prior", () => {
    const stats = { mean: 1.5, sd: 0.75 };
    const rows = embeddedTable.rows.slice(0, 20).map((r, i) => ({ ...r, prior: i % 4 === 0 ? null : (i - 10) / 3 }));
    const file = join(mkdtempSync(join(tmpdir(), "hsrl-table-")), "sid-table.sql");
    writeFileSync(
      file,
      sidTableSqlFromRows(
        embeddedCodebook.version,
        "c",
        rows.map((r) => ({ ...r, prior: undefined })),
      ),
    );
    writeSidTablePriors(file, (id) => rows.find((r) => r.id === id)?.prior ?? null, stats);
    const table = readSidTableSqlFile(file);
    expect(table.popularityStats).toEqual(stats);
    expect(table.catalogVersion).toBe("c");
    table.rows.forEach((r, i) => {
      const want = rows[i].prior;
      if (want === null) expect(r.prior).toBeNull();
      else expect(Math.fround(r.prior!)).toBe(Math.fround(want)); // float32, as the index holds it
    });
    const p = planCatalogMerge(table.rows, embeddedCodebook, [], { catalogVersion: "v", popularityStats: table.popularityStats });
    db.exec(`BEGIN; ${p.statements.join("\n")} COMMIT;`);
    const prior = (id: string) => (db.prepare("SELECT prior FROM items WHERE id = ?").get(id) as { prior: number | null }).prior;
    expect(prior(rows[0].id)).toBeNull();
    expect(prior(rows[1].id)).toBeCloseTo(-3, 5);
    expect(JSON.parse((db.prepare("SELECT value FROM meta WHERE key = 'popularity_stats'").get() as { value: string }).value)).toEqual(
      stats,
    );
    // an older table (no prior column) leaves the stored priors alone
    merge(
      embeddedTable.rows.slice(0, 20).map((r) => ({ ...r, prior: undefined })),
      embeddedCodebook,
    );
    expect(prior(rows[1].id)).toBeCloseTo(-3, 5);
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

  it("in transactions of batchRows rows, ends where one transaction would, in multi-row statements under D1's 100 KB", () => {
    const setUp = () => {
      db = migrate();
      merge(embeddedTable.rows.slice(0, 1000), embeddedCodebook);
      apiAdd("api-1", featuresOfHex(embeddedTable.rows[1500].featuresHex)); // in the slot the table gives s1501
      apiAdd("api-2", featuresOfHex(embeddedTable.rows[3].featuresHex));
      deleteItem("s7");
    };
    setUp();
    merge(embeddedTable.rows, embeddedCodebook);
    const whole = snapshot();
    setUp();
    const p = mergeInBatches(embeddedTable.rows, embeddedCodebook, 300);
    expect(p.batches.length).toBeGreaterThan(1);
    expect(p.statements.length).toBeLessThan(200); // not one statement per row
    for (const st of p.statements) expect(new TextEncoder().encode(st).length).toBeLessThanOrEqual(100_000);
    expect(snapshot()).toEqual(whole);
    expect(db.prepare("SELECT value FROM meta WHERE key = 'catalog_version'").get()).toEqual({ value: "v-test" });
  });

  it("a load that fails part-way leaves whole transactions and no parked row; the same load again finishes it", () => {
    merge(embeddedTable.rows.slice(0, 500), embeddedCodebook);
    apiAdd("api-1", featuresOfHex(embeddedTable.rows[900].featuresHex)); // holds the slot the table gives s901
    const first = mergeInBatches(embeddedTable.rows, embeddedCodebook, 400, 1);
    expect(first.counts).toMatchObject({ added: 1500, unchanged: 500 });
    expect(db.prepare("SELECT COUNT(*) AS n FROM items WHERE sid LIKE 'moving:%'").get()).toEqual({ n: 0 });
    const applied = (db.prepare("SELECT COUNT(*) AS n FROM items").get() as { n: number }).n;
    expect(applied).toBeGreaterThan(501);
    expect(applied).toBeLessThan(2001);
    const again = mergeInBatches(embeddedTable.rows, embeddedCodebook, 400);
    expect(again.counts.added).toBe(2001 - applied);
    const done = snapshot();
    db = migrate();
    merge(embeddedTable.rows.slice(0, 500), embeddedCodebook);
    apiAdd("api-1", featuresOfHex(embeddedTable.rows[900].featuresHex));
    merge(embeddedTable.rows, embeddedCodebook);
    expect(done).toEqual(snapshot());
  });
});
