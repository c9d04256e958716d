// `hsrl catalog`: load a SID table into a deployment's catalog as a merge (deploy/catalog.ts).
import type { Command } from "commander";
import { loadCatalog } from "../deploy/catalog";
import { targetOf } from "../deploy/wrangler";

export function register(program: Command): void {
  program
    .command("catalog")
    .description(
      "load a SID table into D1 as a merge: adds and re-encodes, never retires unlisted items (unless --replace), never revives DELETE-retired ones",
    )
    .requiredOption("--sids <dir>", "directory written by `hsrl sids` (codebook.json, sid-table.sql), e.g. model/default")
    .option("--local", "target the wrangler dev / miniflare state in .wrangler/ (default)")
    .option("--remote", "target the Cloudflare account wrangler is logged in to")
    .option("--replace", "retire active items the table does not list")
    .option("--dry-run", "print the counts (added, re-encoded, retired, unchanged, kept retired); write nothing")
    .option("--no-index", "do not publish the prefix-index artifact after the load (the Worker builds it from D1 until the cron does)")
    .action((o: { sids: string; local?: boolean; remote?: boolean; replace?: boolean; dryRun?: boolean; index: boolean }) => {
      console.log(JSON.stringify(loadCatalog({ sids: o.sids, target: targetOf(o), replace: o.replace, dryRun: o.dryRun, index: o.index })));
    });
}
