// The canary: a candidate that passed the replay gate first serves a share of units (users, or anonymous clients'
// keys; served.ts picks them by a stable hash), while the rest stay on the active model. Each cron compares
// click-through per model version on the traffic since the canary started and, once both arms have the minimum
// sample, completes the promotion or rolls back and records why. Admin routes start, stop (pause), complete and roll
// back by hand. Every transition is one D1 batch whose statements re-check the state they change, and a partial
// UNIQUE index allows one canary row, so concurrent crons can never leave two canaries or two active models.
import { eq } from "drizzle-orm";
import { type CanaryConfig, canaryConfigOf } from "../core/promotion";
import type { Bindings, Stores } from "./bindings";
import { database } from "./db/client";
import { type CanaryPointer, readVersionsNow } from "./db/meta";
import { modelVersions } from "./db/schema";
import { causeMessage, d1, ModelUnavailable } from "./errors";
import { clickThrough } from "./feedback";
import { embeddedModelVersion, fetchPublished } from "./model";

export type { CanaryConfig };

/** wrangler.toml [vars]: CANARY_SHARE, CANARY_MIN_IMPRESSIONS, CANARY_CTR_MARGIN (core/promotion.ts). */
export function canaryConfig(env: Partial<Bindings>): CanaryConfig {
  return canaryConfigOf(env);
}

/** What model_versions.canary holds. */
export interface CanaryState {
  share: number;
  startedAt: number; // ms; traffic from here on counts
  startedBy: "cron" | "admin";
  paused?: boolean;
  figures?: CanaryFigures;
  verdict?: { action: "completed" | "rolled back"; by: "cron" | "admin"; reason: string; at: string };
}

export interface CanaryFigures {
  canary: { version: string; impressions: number; clicks: number; ctr: number };
  active: { version: string; impressions: number; clicks: number; ctr: number };
  delta: { mean: number; lo: number; hi: number }; // canary - active click-through, 95% normal interval
  floor: number; // -margin x active click-through
  minImpressions: number;
  checkedAt: string;
}

export type CanaryOutcome =
  | { action: "canary"; version: string; state: "started" | "resumed" | "running" | "paused"; reason: string; figures?: CanaryFigures }
  | { action: "completed" | "rolled back"; version: string; reason: string; figures?: CanaryFigures }
  | { action: "none"; reason: string; missing?: boolean };

type Row = typeof modelVersions.$inferSelect;

export async function canaryRow(env: Stores): Promise<Row | null> {
  const db = database(env.DB);
  const [row] = await d1(() => db.select().from(modelVersions).where(eq(modelVersions.status, "canary")).limit(1));
  return row ?? null;
}

// The transitions are plain D1 statements in one batch (a transaction): each re-checks the state it changes.
const IS_CANARY = "EXISTS (SELECT 1 FROM model_versions WHERE version = ? AND status = 'canary')";
const NOW = "(unixepoch('subsec') * 1000)";

/** Sets meta.canary only while `version` is the canary row (so a losing concurrent start writes nothing). */
function pointTo(db: D1Database, pointer: CanaryPointer): D1PreparedStatement {
  return db
    .prepare(`INSERT INTO meta (key, value) SELECT 'canary', ? WHERE ${IS_CANARY} ON CONFLICT(key) DO UPDATE SET value = excluded.value`)
    .bind(JSON.stringify(pointer), pointer.version);
}

function unpoint(db: D1Database, version: string): D1PreparedStatement {
  return db.prepare("DELETE FROM meta WHERE key = 'canary' AND json_extract(value, '$.version') = ?").bind(version);
}

function setCanaryState(db: D1Database, version: string, state: CanaryState): D1PreparedStatement {
  return db
    .prepare(`UPDATE model_versions SET canary = ?, updated_at = ${NOW} WHERE version = ? AND status = 'canary'`)
    .bind(JSON.stringify(state), version);
}

/**
 * Makes `version` (a validated candidate) the canary at `share`, with the gate's figures; a no-op when another canary
 * runs or the row moved on. Returns whether `version` is the canary now.
 */
export async function startCanary(env: Stores, version: string, share: number, by: "cron" | "admin", gate?: object): Promise<boolean> {
  const state: CanaryState = { share, startedAt: Date.now(), startedBy: by };
  await d1(() =>
    env.DB.batch([
      env.DB.prepare(
        `UPDATE model_versions SET status = 'canary', reason = NULL, canary = ?, gate = coalesce(?, gate), updated_at = ${NOW}
         WHERE version = ? AND status = 'candidate' AND NOT EXISTS (SELECT 1 FROM model_versions WHERE status = 'canary')`,
      ).bind(JSON.stringify(state), gate ? JSON.stringify(gate) : null, version),
      pointTo(env.DB, { version, share }),
    ]),
  );
  return (await canaryRow(env))?.version === version;
}

/** Stop: the canary keeps its row and figures but serves nobody until it is started again. */
export async function pauseCanary(env: Stores): Promise<CanaryOutcome> {
  const row = await canaryRow(env);
  if (!row) return { action: "none", reason: "no canary is running" };
  const state = { ...(row.canary as CanaryState), paused: true };
  await d1(() => env.DB.batch([setCanaryState(env.DB, row.version, state), unpoint(env.DB, row.version)]));
  return { action: "canary", version: row.version, state: "paused", reason: "stopped by hand: all traffic on the active model" };
}

/** Start again after a stop, at `share` (default: the share it had). */
export async function resumeCanary(env: Stores, row: Row, share?: number): Promise<CanaryOutcome> {
  const previous = row.canary as CanaryState;
  const state: CanaryState = { ...previous, share: share ?? previous.share, paused: false };
  await d1(() => env.DB.batch([setCanaryState(env.DB, row.version, state), pointTo(env.DB, { version: row.version, share: state.share })]));
  return { action: "canary", version: row.version, state: "resumed", reason: `serving ${state.share} of units again` };
}

/** The canary's state with its final verdict (and the figures it rests on, when the cron decided). */
function withVerdict(
  row: Row,
  action: "completed" | "rolled back",
  by: "cron" | "admin",
  reason: string,
  figures?: CanaryFigures,
): CanaryState {
  return { ...(row.canary as CanaryState), ...(figures ? { figures } : {}), verdict: { action, by, reason, at: new Date().toISOString() } };
}

/** Completes the promotion: the canary becomes the active model (the previous one retires), in one batch. */
export async function completeCanary(
  env: Stores,
  row: Row,
  by: "cron" | "admin",
  reason: string,
  figures?: CanaryFigures,
): Promise<CanaryOutcome> {
  const state = withVerdict(row, "completed", by, reason, figures);
  const v = row.version;
  await d1(() =>
    env.DB.batch([
      env.DB.prepare(
        `UPDATE model_versions SET status = 'retired', updated_at = ${NOW} WHERE status = 'active' AND version != ? AND ${IS_CANARY}`,
      ).bind(v, v),
      env.DB.prepare(
        `UPDATE model_versions SET status = 'active', reason = ?, canary = ?, promoted_at = ${NOW}, updated_at = ${NOW}
         WHERE version = ? AND status = 'canary'`,
      ).bind(`canary completed: ${reason}`, JSON.stringify(state), v),
      env.DB.prepare(
        `INSERT INTO meta (key, value) SELECT 'active_model', ? WHERE EXISTS (SELECT 1 FROM model_versions WHERE version = ? AND status = 'active')
         ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
      ).bind(v, v),
      unpoint(env.DB, v),
    ]),
  );
  return { action: "completed", version: v, reason, ...(figures ? { figures } : {}) };
}

/** Rolls the canary back: rejected with the reason, so the cron never tries it again; all traffic on the active model. */
export async function rollbackCanary(
  env: Stores,
  row: Row,
  by: "cron" | "admin",
  reason: string,
  figures?: CanaryFigures,
): Promise<CanaryOutcome> {
  const state = withVerdict(row, "rolled back", by, reason, figures);
  await d1(() =>
    env.DB.batch([
      env.DB.prepare(
        `UPDATE model_versions SET status = 'rejected', reason = ?, canary = ?, updated_at = ${NOW} WHERE version = ? AND status = 'canary'`,
      ).bind(`canary rolled back: ${reason}`, JSON.stringify(state), row.version),
      unpoint(env.DB, row.version),
    ]),
  );
  return { action: "rolled back", version: row.version, reason, ...(figures ? { figures } : {}) };
}

/** Click-through of the canary and the active model on the traffic since the canary started. */
export async function canaryFigures(env: Stores, row: Row, config: CanaryConfig): Promise<CanaryFigures> {
  const state = row.canary as CanaryState;
  const active = (await readVersionsNow(env)).activeModel ?? embeddedModelVersion();
  const counts = await clickThrough(env, [row.version, active], state.startedAt);
  const arm = (version: string) => {
    const { impressions, clicks } = counts.get(version) ?? { impressions: 0, clicks: 0 };
    return { version, impressions, clicks, ctr: impressions > 0 ? clicks / impressions : 0 };
  };
  const [c, a] = [arm(row.version), arm(active)];
  const mean = c.ctr - a.ctr;
  // Two-proportion normal interval. Impressions of one user are not independent, so it is optimistic; the minimum
  // sample and the margin are what keep a verdict from resting on a handful of users.
  const se = Math.sqrt(
    (c.impressions > 0 ? (c.ctr * (1 - c.ctr)) / c.impressions : 0) + (a.impressions > 0 ? (a.ctr * (1 - a.ctr)) / a.impressions : 0),
  );
  return {
    canary: c,
    active: a,
    delta: { mean, lo: mean - 1.96 * se, hi: mean + 1.96 * se },
    floor: -config.ctrMargin * a.ctr,
    minImpressions: config.minImpressions,
    checkedAt: new Date().toISOString(),
  };
}

/**
 * What the cron does while a canary runs: below the minimum sample on either arm, wait; then complete when the
 * canary is not worse beyond the margin (95% lower bound of the difference >= floor), roll back when it is worse
 * beyond it (upper bound < floor), and also roll back when neither is shown by 4x the minimum sample.
 */
export async function evaluateCanary(env: Stores & Partial<Bindings>, row: Row): Promise<CanaryOutcome> {
  const state = row.canary as CanaryState;
  if (state.paused)
    return { action: "canary", version: row.version, state: "paused", reason: "stopped by hand; start it again to continue" };
  // Broken bytes would leave the canary's users silently on the active model: roll back and say why.
  try {
    await fetchPublished(env, row.version);
  } catch (err) {
    if (!(err instanceof ModelUnavailable)) throw err;
    return rollbackCanary(env, row, "cron", `the canary failed verification: ${causeMessage(err)}`);
  }
  const config = canaryConfig(env);
  const f = await canaryFigures(env, row, config);
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  const summary =
    `click-through ${pct(f.canary.ctr)} (${f.canary.clicks}/${f.canary.impressions}) vs active ${pct(f.active.ctr)} ` +
    `(${f.active.clicks}/${f.active.impressions}), difference ${pct(f.delta.mean)} [95% CI ${pct(f.delta.lo)}, ${pct(f.delta.hi)}], ` +
    `floor ${pct(f.floor)}`;
  const smaller = Math.min(f.canary.impressions, f.active.impressions);
  if (smaller < config.minImpressions) {
    await d1(() => setCanaryState(env.DB, row.version, { ...state, figures: f }).run());
    return {
      action: "canary",
      version: row.version,
      state: "running",
      reason: `waiting for ${config.minImpressions} impressions per arm (smaller arm: ${smaller}); ${summary}`,
      figures: f,
    };
  }
  if (f.delta.lo >= f.floor) return completeCanary(env, row, "cron", `not worse beyond the margin: ${summary}`, f);
  if (f.delta.hi < f.floor) return rollbackCanary(env, row, "cron", `worse click-through: ${summary}`, f);
  if (smaller >= 4 * config.minImpressions)
    return rollbackCanary(env, row, "cron", `not shown to be within the margin after ${smaller} impressions per arm: ${summary}`, f);
  return { action: "canary", version: row.version, state: "running", reason: `undecided, collecting more: ${summary}`, figures: f };
}
