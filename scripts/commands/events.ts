// `hsrl events export`: stored feedback as a generic-CSV training log (deploy/events.ts).
import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { exportEvents } from "../deploy/events";
import { targetOf } from "../deploy/wrangler";

export function register(program: Command): void {
  const events = program.command("events").description("feedback events stored by the Worker");
  events
    .command("export")
    .description("write stored impressions/clicks as user,item,label,timestamp CSV (label 1 = clicked)")
    .requiredOption("--out <file>", "CSV file to write")
    .option("--local", "read the wrangler dev / miniflare D1 (default)")
    .option("--remote", "read the deployed D1")
    .option(
      "--since <ms>",
      "only events with ts >= this (ms since epoch)",
      (v) => {
        const x = Number(v);
        if (!Number.isInteger(x) || x < 0) throw new Error(`--since must be a non-negative integer (ms), got "${v}"`);
        return x;
      },
      0,
    )
    .action((o: { out: string; local?: boolean; remote?: boolean; since: number }) => {
      const target = targetOf(o);
      const lines = exportEvents(target, o.since, (n) => process.stderr.write(`\revents export: ${n} rows`));
      process.stderr.write("\n");
      writeFileSync(o.out, `${lines.join("\n")}\n`);
      console.log(JSON.stringify({ out: o.out, rows: lines.length - 1, target }));
    });
}
