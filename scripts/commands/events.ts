// `hsrl events export`: the feedback the Worker stored (POST /v1/events) as a generic-CSV training log
// (user,item,label,timestamp), so the next `hsrl train --format csv` learns from it.
import { Command } from "commander";
import { writeFileSync } from "node:fs";
import { d1Query, targetOf } from "../wrangler";

const PAGE = 5000;

interface Row {
  user_id: string;
  item_id: string;
  label: number;
  ts: number;
}

const csvField = (s: string) => (/[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);

export function register(program: Command): void {
  const events = program.command("events").description("feedback events stored by the Worker");
  events
    .command("export")
    .description("write stored impressions/clicks as user,item,label,timestamp CSV (label 1 = clicked)")
    .requiredOption("--out <file>", "CSV file to write")
    .option("--local", "read the wrangler dev / miniflare D1 (default)")
    .option("--remote", "read the deployed D1")
    .option("--since <ms>", "only events with ts >= this (ms since epoch)", (v) => {
      const x = Number(v);
      if (!Number.isInteger(x) || x < 0) throw new Error(`--since must be a non-negative integer (ms), got "${v}"`);
      return x;
    }, 0)
    .action((o: { out: string; local?: boolean; remote?: boolean; since: number }) => {
      const target = targetOf(o);
      // One row per shown (user, item, request): clicked if any click matches it. Events without a request id stand alone.
      const lines = ["user,item,label,timestamp"];
      for (let offset = 0; ; offset += PAGE) {
        const rows = d1Query<Row>(
          target,
          `SELECT user_id, item_id, MAX(type = 'click') AS label, MIN(ts) AS ts FROM events WHERE ts >= ${o.since}
           GROUP BY user_id, item_id, COALESCE(request_id, 'id:' || id) ORDER BY MIN(ts), user_id, item_id LIMIT ${PAGE} OFFSET ${offset}`,
        );
        for (const r of rows) lines.push([csvField(r.user_id), csvField(r.item_id), r.label, Math.floor(r.ts / 1000)].join(","));
        process.stderr.write(`\revents export: ${lines.length - 1} rows`);
        if (rows.length < PAGE) break;
      }
      process.stderr.write("\n");
      writeFileSync(o.out, lines.join("\n") + "\n");
      console.log(JSON.stringify({ out: o.out, rows: lines.length - 1, target }));
    });
}
