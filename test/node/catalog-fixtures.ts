// What the catalog-merge tests share: the embedded SID table, and a second codebook of the same dimension (the
// embedded one with level 1's centroids rotated) with the embedded items' table under it.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Codebook, codebookFromJson, codebookToJson, createCodebook, encodeSid, sidKey } from "../../core/codebook";
import { readSidTableSql, type SidTableRow, sidTableSqlFromRows } from "../../scripts/sids/artifacts";

export const embeddedCodebook = codebookFromJson(readFileSync("model/default/codebook.json", "utf8"));
export const embeddedTable = readSidTableSql(readFileSync("model/default/sid-table.sql", "utf8"));

export function featuresOfHex(hex: string): number[] {
  return Array.from(new Float32Array(Uint8Array.from(hex.match(/../g)!, (b) => Number.parseInt(b, 16)).buffer));
}

export function rotatedCodebook(): Codebook {
  const { levels, size, dim, centroids } = embeddedCodebook;
  const first = new Float32Array(size * dim);
  for (let k = 0; k < size; k++) first.set(centroids[0].subarray(k * dim, (k + 1) * dim), ((k + 1) % size) * dim);
  return createCodebook(levels, size, dim, [first, ...centroids.slice(1)]);
}

/** `rows` encoded with `codebook`, collisions numbered in table order: a valid SID table. */
export function encodeTable(codebook: Codebook, rows: SidTableRow[]): SidTableRow[] {
  const next = new Map<string, number>();
  return rows.map((r) => {
    const sid = sidKey(encodeSid(codebook, featuresOfHex(r.featuresHex)));
    const collision = next.get(sid) ?? 0;
    next.set(sid, collision + 1);
    return { ...r, sid, collision };
  });
}

/** A directory as `hsrl sids` writes it (codebook.json + sid-table.sql) for `rows` under `codebook`. */
export function writeSidsDir(codebook: Codebook, rows: SidTableRow[]): string {
  const dir = mkdtempSync(join(tmpdir(), "hsrl-sids-"));
  writeFileSync(join(dir, "codebook.json"), JSON.stringify(codebookToJson(codebook)));
  writeFileSync(join(dir, "sid-table.sql"), sidTableSqlFromRows(codebook.version, "test-catalog", rows));
  return dir;
}
