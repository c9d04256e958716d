// Feedback events (impressions and clicks) into D1: the stored click history behind `userId` requests, and the raw
// material of the next training run (`npm run hsrl -- events export`).
import { events } from "./db/schema";
import { database } from "./db/client";
import { chunks, D1_MAX_PARAMS } from "./catalog";
import { d1 } from "./errors";

export interface EventRow {
  requestId: string | null;
  userId: string;
  itemId: string;
  type: "impression" | "click";
  ts: number;
}

const COLUMNS = 5; // request_id, user_id, item_id, type, ts (id and created_at are defaulted)

/** Stores all rows in one D1 transaction (multi-row INSERTs under the 100-parameter limit): all or nothing. */
export async function recordEvents(env: { DB: D1Database }, rows: EventRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const db = database(env.DB);
  const statements = chunks(rows, Math.floor(D1_MAX_PARAMS / COLUMNS)).map((part) => db.insert(events).values(part));
  await d1(() => db.batch(statements as [(typeof statements)[0], ...typeof statements]));
  return rows.length;
}
