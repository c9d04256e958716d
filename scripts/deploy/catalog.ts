// Loading a SID table (codebook.json + sid-table.sql of an `hsrl sids` directory) into a deployment's catalog: read
// the items D1 has, plan the merge (sids/catalog-merge.ts), then apply it in one `wrangler d1 execute --file`, or, with
// dryRun, only report what it would do. `hsrl catalog`, `hsrl publish` and `npm start` all load through here.
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { codebookFromJson } from "../../core/codebook";
import { readSidTableSql } from "../sids/artifacts";
import { type CatalogRow, type MergeCounts, planCatalogMerge } from "../sids/catalog-merge";
import { d1File, d1Query, type Target } from "./wrangler";

export interface CatalogLoadOptions {
  sids: string; // directory with codebook.json and sid-table.sql
  target: Target;
  replace?: boolean; // retire active items the table does not list
  dryRun?: boolean; // report the counts, write nothing
  log?: (line: string) => void;
}

export interface CatalogLoadResult extends MergeCounts {
  codebook: string;
  dryRun: boolean;
  unencodable: string[];
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
  const table = readSidTableSql(readFileSync(tablePath, "utf8"), tablePath);
  if (table.codebookVersion !== codebook.version)
    throw new Error(`${tablePath} is encoded with codebook ${table.codebookVersion}, ${codebookPath} is ${codebook.version}`);

  const current = d1Query<CatalogRow>(
    o.target,
    "SELECT id, sid, collision, status, retired_by, codebook_version, lower(hex(features)) AS features FROM items",
  );
  const plan = planCatalogMerge(table.rows, codebook, current, { replace: o.replace, catalogVersion: randomUUID() });
  const log = o.log ?? ((line: string) => console.error(line));
  log(`catalog (${o.target}): ${describeCounts(plan.counts)}${o.dryRun ? " (dry run: nothing written)" : ""}`);
  if (plan.unencodable.length > 0)
    log(
      `catalog (${o.target}): ${plan.unencodable.length} items have no stored features codebook ${codebook.version} can encode, so they are retired: ` +
        `${plan.unencodable.slice(0, 10).join(", ")}${plan.unencodable.length > 10 ? ", …" : ""}`,
    );
  if (!o.dryRun) {
    const dir = mkdtempSync(join(tmpdir(), "hsrl-catalog-"));
    try {
      const file = join(dir, "catalog-merge.sql");
      writeFileSync(file, `${plan.statements.join("\n")}\n`);
      d1File(o.target, file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return { ...plan.counts, codebook: codebook.version, dryRun: Boolean(o.dryRun), unencodable: plan.unencodable };
}
