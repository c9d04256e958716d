// Feedback events (impressions and clicks) into D1: the stored click history behind `userId` requests, and the raw
// material of the next training run (`npm run hsrl -- events export`). Only rows that name a catalog item and carry a
// time near the server's are stored; the cron deletes rows older than the retention window.
import { inArray, lt } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Bindings } from "./bindings";
import { chunks, D1_MAX_PARAMS } from "./catalog";
import { database } from "./db/client";
import { events, items } from "./db/schema";
import { d1 } from "./errors";

export interface EventRow {
  requestId: string | null;
  modelVersion: string | null; // from a served request id that verifies (served.ts)
  userId: string;
  itemId: string;
  type: "impression" | "click";
  ts: number;
}

export interface EventsConfig {
  pastMs: number; // a ts older than now - pastMs is refused
  futureMs: number; // a ts newer than now + futureMs is refused
  retentionMs: number; // rows older than this are deleted by the cron and never read as history
}

const seconds = (v: string | undefined, fallback: number) => {
  const n = Number(v);
  return (v !== undefined && v !== "" && Number.isFinite(n) && n >= 0 ? n : fallback) * 1000;
};

/** The events window from wrangler.toml [vars] (EVENTS_TS_PAST_SECONDS, EVENTS_TS_FUTURE_SECONDS, EVENTS_RETENTION_DAYS). */
export function eventsConfig(
  env: Partial<Pick<Bindings, "EVENTS_TS_PAST_SECONDS" | "EVENTS_TS_FUTURE_SECONDS" | "EVENTS_RETENTION_DAYS">>,
): EventsConfig {
  return {
    pastMs: seconds(env.EVENTS_TS_PAST_SECONDS, 86_400),
    futureMs: seconds(env.EVENTS_TS_FUTURE_SECONDS, 300),
    retentionMs: seconds(env.EVENTS_RETENTION_DAYS, 90) * 86_400,
  };
}

const COLUMNS = 6; // request_id, model_version, user_id, item_id, type, ts (id and created_at are defaulted)

/** Which of `ids` are catalog items (active or retired), in one round trip. */
export async function knownItemIds(env: { DB: D1Database }, ids: string[]): Promise<Set<string>> {
  const distinct = [...new Set(ids)];
  if (distinct.length === 0) return new Set();
  const db = database(env.DB);
  const queries = chunks(distinct, D1_MAX_PARAMS).map((part) => db.select({ id: items.id }).from(items).where(inArray(items.id, part)));
  const results = (await d1(() => db.batch(queries as unknown as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]))) as { id: string }[][];
  return new Set(results.flat().map((r) => r.id));
}

/** Stores all rows in one D1 transaction (multi-row INSERTs under the 100-parameter limit): all or nothing. */
export async function recordEvents(env: { DB: D1Database }, rows: EventRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const db = database(env.DB);
  const statements = chunks(rows, Math.floor(D1_MAX_PARAMS / COLUMNS)).map((part) => db.insert(events).values(part));
  await d1(() => db.batch(statements as [(typeof statements)[0], ...typeof statements]));
  return rows.length;
}

/** Deletes events with ts before `cutoff`, in bounded slices (one cron run deletes at most maxRows); returns how many. */
export async function deleteExpiredEvents(env: { DB: D1Database }, cutoff: number, sliceRows = 5000, maxRows = 100_000): Promise<number> {
  const db = database(env.DB);
  let deleted = 0;
  while (deleted < maxRows) {
    const slice = db.select({ id: events.id }).from(events).where(lt(events.ts, cutoff)).limit(sliceRows);
    const rows = await d1(() => db.delete(events).where(inArray(events.id, slice)).returning({ id: events.id }));
    deleted += rows.length;
    if (rows.length < sliceRows) break;
  }
  return deleted;
}

/**
 * Takes `units` from a Workers Rate Limiting binding's budget for `key` (one limit() call per unit; it stops at the
 * first refusal). Without the binding (an environment that lacks it) nothing is limited, and one log line per isolate
 * says so, rather than refusing every write.
 */
export async function withinRateLimit(limiter: RateLimit | undefined, key: string, units: number, name: string): Promise<boolean> {
  if (!limiter) {
    if (!unlimitedLogged.has(name)) {
      unlimitedLogged.add(name);
      console.warn(JSON.stringify({ level: "warn", message: `rate limiting binding ${name} is absent: events are not rate limited` }));
    }
    return true;
  }
  for (let i = 0; i < units; i++) if (!(await limiter.limit({ key })).success) return false;
  return true;
}
const unlimitedLogged = new Set<string>();

/** One logged click with its item's SID, as the replay gate reads it. */
export interface LoggedClick {
  userId: string;
  itemId: string;
  ts: number;
  sid: string;
  status: "active" | "retired";
}

/**
 * The replay gate's sample: the `users` users with the most recent clicks (at least two since `since`), each with
 * their newest `perUser` clicks, oldest first. One bounded query: the cron's CPU and D1 limits apply.
 */
export async function recentSessions(env: { DB: D1Database }, since: number, users: number, perUser: number): Promise<LoggedClick[]> {
  const { results } = await d1(() =>
    env.DB.prepare(
      `WITH recent AS (
         SELECT user_id FROM events WHERE type = 'click' AND ts >= ?1
         GROUP BY user_id HAVING count(*) >= 2 ORDER BY max(ts) DESC, user_id LIMIT ?2
       ), ranked AS (
         SELECT e.id, e.user_id, e.item_id, e.ts,
                ROW_NUMBER() OVER (PARTITION BY e.user_id ORDER BY e.ts DESC, e.id DESC) AS rn
         FROM events e JOIN recent r ON r.user_id = e.user_id WHERE e.type = 'click' AND e.ts >= ?1
       )
       SELECT ranked.user_id AS userId, ranked.item_id AS itemId, ranked.ts AS ts, items.sid AS sid, items.status AS status
       FROM ranked JOIN items ON items.id = ranked.item_id
       WHERE ranked.rn <= ?3 ORDER BY ranked.user_id, ranked.ts, ranked.id`,
    )
      .bind(since, users, perUser)
      .all<LoggedClick>(),
  );
  return results;
}

/** An attributed event: it came back with a served request id that verified. */
export interface AttributedEvent {
  requestId: string;
  userId: string;
  itemId: string;
  type: "impression" | "click";
  ts: number;
  modelVersion: string;
}

/** The newest `limit` attributed events since `since` (impressions and their clicks, grouped by request id later). */
export async function attributedEvents(env: { DB: D1Database }, since: number, limit: number): Promise<AttributedEvent[]> {
  const { results } = await d1(() =>
    env.DB.prepare(
      `SELECT request_id AS requestId, user_id AS userId, item_id AS itemId, type, ts, model_version AS modelVersion
       FROM events WHERE ts >= ?1 AND model_version IS NOT NULL AND request_id IS NOT NULL ORDER BY ts DESC, id DESC LIMIT ?2`,
    )
      .bind(since, limit)
      .all<AttributedEvent>(),
  );
  return results;
}

/** Impressions and clicks per model version since `since` (the canary's comparison), through (model_version, type, ts). */
export async function clickThrough(
  env: { DB: D1Database },
  versions: string[],
  since: number,
): Promise<Map<string, { impressions: number; clicks: number }>> {
  const out = new Map(versions.map((v) => [v, { impressions: 0, clicks: 0 }]));
  if (versions.length === 0) return out;
  const { results } = await d1(() =>
    env.DB.prepare(
      `SELECT model_version AS version, type, count(*) AS n FROM events
       WHERE model_version IN (${versions.map(() => "?").join(", ")}) AND ts >= ? GROUP BY model_version, type`,
    )
      .bind(...versions, since)
      .all<{ version: string; type: "impression" | "click"; n: number }>(),
  );
  for (const r of results) {
    const counts = out.get(r.version);
    if (counts) counts[r.type === "click" ? "clicks" : "impressions"] += r.n;
  }
  return out;
}
