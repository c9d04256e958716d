// `hsrl publish`: an exported model -> R2 + a candidate in D1 (deploy/publish.ts); the Worker's cron promotes it.
import type { Command } from "commander";
import { publishModel } from "../deploy/publish";
import { targetOf } from "../deploy/wrangler";

export function register(program: Command): void {
  program
    .command("publish")
    .description(
      "upload an exported model to R2 and register it as a candidate in D1; prints what will gate it (the cron's replay gate and canary)",
    )
    .requiredOption(
      "--model <dir>",
      "directory written by `hsrl export` (manifest.json, hpn.*.onnx; codebook.json, item-encoder.json, sid-table.sql)",
    )
    .option("--local", "target the wrangler dev / miniflare state in .wrangler/ (default)")
    .option("--remote", "target the Cloudflare account wrangler is logged in to")
    .option(
      "--sids <dir>",
      "where codebook.json and sid-table.sql are (default: the model dir, else its sibling sids/ as `hsrl pipeline` writes)",
    )
    .option("--catalog", "load the SID table even when the catalog is already on this codebook (a merge: see `hsrl catalog`)")
    .option("--replace", "the SID table load retires active items it does not list (implies --catalog)")
    .option("--dry-run", "check the model and print the catalog counts; upload, register and write nothing")
    .action(
      (o: { model: string; sids?: string; local?: boolean; remote?: boolean; catalog?: boolean; replace?: boolean; dryRun?: boolean }) => {
        const { model, sids, catalog, replace, dryRun } = o;
        console.log(JSON.stringify(publishModel({ model, sids, catalog, replace, dryRun, target: targetOf(o) })));
      },
    );
}
