// Stored feedback as a training log: the events the Worker stored (POST /v1/events) as generic-CSV rows
// (user,item,label,timestamp), so the next `hsrl train --format csv` learns from them.
import { d1Query, type Target } from "./wrangler";

const PAGE = 5000;

interface Row {
  user_id: string;
  item_id: string;
  label: number;
  ts: number;
}

const csvField = (s: string) => (/[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);

/** CSV lines (header first): one row per shown (user, item, request), clicked if any click matches it. */
export function exportEvents(target: Target, since: number, onPage?: (rows: number) => void): string[] {
  // Events without a request id stand alone.
  const lines = ["user,item,label,timestamp"];
  for (let offset = 0; ; offset += PAGE) {
    const rows = d1Query<Row>(
      target,
      `SELECT user_id, item_id, MAX(type = 'click') AS label, MIN(ts) AS ts FROM events WHERE ts >= ${since}
       GROUP BY user_id, item_id, COALESCE(request_id, 'id:' || id) ORDER BY MIN(ts), user_id, item_id LIMIT ${PAGE} OFFSET ${offset}`,
    );
    for (const r of rows) lines.push([csvField(r.user_id), csvField(r.item_id), r.label, Math.floor(r.ts / 1000)].join(","));
    onPage?.(lines.length - 1);
    if (rows.length < PAGE) break;
  }
  return lines;
}
