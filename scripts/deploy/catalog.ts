// Loading a SID table (codebook.json + sid-table.sql of an `hsrl sids` directory) into a deployment's catalog: read
// the items D1 has (without their features, except the few a new codebook must re-encode), plan the merge
// (sids/catalog-merge.ts), then apply its transactions, one `wrangler d1 execute --file` each; or, with dryRun, only
// report what it would do. `hsrl catalog`, `hsrl publish` and `npm start` all load through here.
// If a transaction fails, the ones before it stay applied (each is whole): running the same load again plans from
// what D1 holds now and finishes the merge.
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { codebookFromJson } from "../../core/codebook";
import { activeSidRows, buildSidIndex, catalogIndexKey, sidIndexToBytes } from "../../core/sid-index";
import { readSidTableSqlFile, type SidTableRow } from "../sids/artifacts";
import { type CatalogRow, type MergeCounts, planCatalogMerge, rowsNeedingFeatures } from "../sids/catalog-merge";
import { d1File, d1Query, d1QueryAll, d1QueryFile, r2Put, sqlString, type Target } from "./wrangler";

export interface CatalogLoadOptions {
  sids: string; // directory with codebook.json and sid-table.sql
  target: Target;
  replace?: boolean; // retire active items the table does not list
  dryRun?: boolean; // report the counts, write nothing
  log?: (line: string) => void;
  batchRows?: number; // rows per transaction (default 100,000)
  index?: boolean; // publish the prefix-index artifact after the load (default true)
}

export interface CatalogLoadResult extends MergeCounts {
  codebook: string;
  dryRun: boolean;
  unencodable: string[];
  transactions: number;
  seconds: { read: number; plan: number; write: number; index?: number };
  index?: { key: string; items: number; bytes: number };
}

export function describeCounts(c: MergeCounts): string {
  return `added ${c.added}, re-encoded ${c.reencoded}, retired ${c.retired}, unchanged ${c.unchanged}, kept retired ${c.keptRetired}`;
}

export function loadCatalog(o: CatalogLoadOptions): CatalogLoadResult {
  const codebookPath = join(o.sids, "codebook.json");
  const tablePath = join(o.sids, "sid-table.sql");
  for (const f of [codebookPath, tablePath])
    if (!existsSync(f)) throw new Error(`${f} not found: --sids must be a directory written by \`hsrl sids\``);
  const codebook = codebookFromJson(readFileSync(codebookPath, "utf8"));
  const t0 = performance.now();
  const table = readSidTableSqlFile(tablePath);
  if (table.codebookVersion !== codebook.version)
    throw new Error(`${tablePath} is encoded with codebook ${table.codebookVersion}, ${codebookPath} is ${codebook.version}`);
  const dir = mkdtempSync(join(tmpdir(), "hsrl-catalog-"));
  try {
    const current = readCurrent(o.target, dir, table.rows, codebook.version, o.replace);
    const t1 = performance.now();
    const plan = planCatalogMerge(table.rows, codebook, current, {
      replace: o.replace,
      catalogVersion: randomUUID(),
      batchRows: o.batchRows,
      popularityStats: table.popularityStats,
    });
    const t2 = performance.now();
    const log = o.log ?? ((line: string) => console.error(line));
    log(`catalog (${o.target}): ${describeCounts(plan.counts)}${o.dryRun ? " (dry run: nothing written)" : ""}`);
    if (plan.unencodable.length > 0)
      log(
        `catalog (${o.target}): ${plan.unencodable.length} items have no stored features codebook ${codebook.version} can encode, so they are retired: ` +
          `${plan.unencodable.slice(0, 10).join(", ")}${plan.unencodable.length > 10 ? ", …" : ""}`,
      );
    if (!o.dryRun)
      plan.batches.forEach((batch, i) => {
        const file = join(dir, `catalog-merge-${i}.sql`);
        writeFileSync(file, `${batch.join("\n")}\n`);
        try {
          d1File(o.target, file);
        } catch (err) {
          throw new Error(
            `transaction ${i + 1} of ${plan.batches.length} failed (the ${i} before it are applied; run the same load again to finish it): ` +
              (err as Error).message,
          );
        }
        if (plan.batches.length > 1) log(`catalog (${o.target}): transaction ${i + 1}/${plan.batches.length} applied`);
      });
    const t3 = performance.now();
    const index = !o.dryRun && o.index !== false ? publishIndex(o.target, dir, codebook.version) : undefined;
    if (index) log(`catalog (${o.target}): prefix index ${index.key} (${index.items} items, ${index.bytes} bytes)`);
    const s = (ms: number) => Number((ms / 1000).toFixed(2));
    return {
      ...plan.counts,
      codebook: codebook.version,
      dryRun: Boolean(o.dryRun),
      unencodable: plan.unencodable,
      transactions: o.dryRun ? 0 : plan.batches.length,
      seconds: { read: s(t1 - t0), plan: s(t2 - t1), write: s(t3 - t2), ...(index ? { index: s(performance.now() - t3) } : {}) },
      ...(index ? { index } : {}),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The catalog's rows without features, then the features of the rows the merge must re-encode (usually none). */
function readCurrent(target: Target, dir: string, table: SidTableRow[], codebookVersion: string, replace?: boolean): CatalogRow[] {
  const current = d1Query<CatalogRow>(target, "SELECT id, sid, collision, status, retired_by, codebook_version FROM items");
  const need = rowsNeedingFeatures(table, codebookVersion, current, replace);
  if (need.length === 0) return current;
  // a file, not --command: the id list can be longer than one command-line argument may be
  const file = join(dir, "features.sql");
  writeFileSync(
    file,
    `SELECT id, lower(hex(features)) AS features FROM items WHERE id IN (SELECT value FROM json_each(${sqlString(JSON.stringify(need))}));\n`,
  );
  const features = new Map(d1QueryFile<{ id: string; features: string | null }>(target, file).map((r) => [r.id, r.features]));
  return current.map((r) => (features.has(r.id) ? { ...r, features: features.get(r.id) } : r));
}

/**
 * The catalog's prefix index (core/sid-index.ts), built here from one read of the active rows, put in R2 and named
 * by meta.catalog_index: what the Worker's cron or POST /v1/admin/catalog/index publish. Without it, every cold
 * isolate would build the index from D1 until the cron ran (at 1M items: seconds of CPU and ~500 MB).
 */
function publishIndex(target: Target, dir: string, codebookVersion: string): { key: string; items: number; bytes: number } {
  // one --command, so one read: the rows, their cursor and the catalog version agree
  const [raw, [{ cursor }], [version]] = d1QueryAll(
    target,
    "SELECT id, sid, collision, prior FROM items WHERE status = 'active'; SELECT COALESCE(MAX(updated_at), 0) AS cursor FROM items; " +
      "SELECT value FROM meta WHERE key = 'catalog_version'",
  ) as [{ id: string; sid: string; collision: number; prior: number | null }[], { cursor: number }[], { value: string }[]];
  const { rows: kept, levels } = activeSidRows(raw); // as the Worker builds it (worker/catalog-index.ts)
  const catalogVersion = version?.value ?? "0";
  const bytes = sidIndexToBytes(buildSidIndex(kept, levels), { cursor, catalogVersion, codebook: codebookVersion });
  const key = catalogIndexKey(catalogVersion, cursor);
  const file = join(dir, "catalog-index.bin");
  writeFileSync(file, bytes);
  r2Put(target, key, file, "application/octet-stream");
  const pointer = { key, cursor, codebook: codebookVersion, items: kept.length };
  d1Query(
    target,
    `INSERT INTO meta (key, value) VALUES ('catalog_index', ${sqlString(JSON.stringify(pointer))}) ` +
      "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
  );
  return { key, items: kept.length, bytes: bytes.length };
}
