// The D1 schema, in one place. drizzle-kit generates migrations/ from this file (`npm run db:generate`);
// wrangler applies them (`wrangler d1 migrations apply`).
import { sql } from "drizzle-orm";
import { blob, index, integer, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** The database's clock in ms since the epoch: column defaults and the writes that touch updated_at/promoted_at. */
export const nowMs = sql`(unixepoch('subsec') * 1000)`;

const timestamps = {
  createdAt: integer("created_at", { mode: "number" }).notNull().default(nowMs),
  updatedAt: integer("updated_at", { mode: "number" }).notNull().default(nowMs),
};

/** The catalog: every item with its Semantic ID. SID -> item is one-to-one through (sid, collision). */
export const items = sqliteTable(
  "items",
  {
    id: text("id").primaryKey(), // external item id
    sid: text("sid").notNull(), // codebook tokens, coarse to fine, joined by "-" (e.g. "12-40-3")
    collision: integer("collision").notNull().default(0), // disambiguates items whose tokens coincide
    status: text("status", { enum: ["active", "retired"] })
      .notNull()
      .default("active"),
    attributes: text("attributes", { mode: "json" }).$type<Record<string, unknown>>().notNull().default({}),
    features: blob("features", { mode: "buffer" }), // float32 little-endian feature vector the SID was encoded from
    codebookVersion: text("codebook_version").notNull(),
    // Why a retired item is retired: "delete" (DELETE /v1/items/:id; only an explicit revive brings it back) or
    // "catalog" (a SID-table load with --replace did not list it; a later load that lists it restores it).
    retiredBy: text("retired_by", { enum: ["delete", "catalog"] }),
    // The popularity prior g(pop_i) (core/popularity-prior.ts) added to the HPN's score as β(s)·g; null: no counts
    // yet (a new item), served at the catalog's prior 0.
    prior: real("prior"),
    ...timestamps,
  },
  (t) => [
    uniqueIndex("items_sid_unique").on(t.sid, t.collision),
    index("items_status").on(t.status),
    // the catalog index's delta read: the rows written since an artifact's cursor (worker/catalog-index.ts)
    index("items_updated_at").on(t.updatedAt),
  ],
);

/**
 * Published models and their lifecycle: candidate -> canary -> active -> retired, or candidate -> rejected (by the
 * validation, the replay gate, or a canary that was rolled back).
 */
export const modelVersions = sqliteTable(
  "model_versions",
  {
    version: text("version").primaryKey(), // manifest content hash
    r2Key: text("r2_key").notNull(),
    sha256: text("sha256").notNull(),
    codebookVersion: text("codebook_version").notNull(),
    status: text("status", { enum: ["candidate", "canary", "active", "rejected", "retired"] })
      .notNull()
      .default("candidate"),
    reason: text("reason"),
    manifest: text("manifest", { mode: "json" }).$type<Record<string, unknown>>(),
    promotedAt: integer("promoted_at", { mode: "number" }),
    // The replay gate's figures and decision (worker/gate.ts), and the canary's state and verdict (worker/canary.ts).
    gate: text("gate", { mode: "json" }).$type<object>(),
    canary: text("canary", { mode: "json" }).$type<object>(),
    ...timestamps,
  },
  // At most one active and one canary model, enforced by the database rather than by the promoter's care.
  (t) => [
    uniqueIndex("model_versions_one_active").on(t.status).where(sql`status = 'active'`),
    uniqueIndex("model_versions_one_canary").on(t.status).where(sql`status = 'canary'`),
  ],
);

/** Feedback from clients: impressions and clicks, the raw material of the next training run. */
export const events = sqliteTable(
  "events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    requestId: text("request_id"),
    // The model that served the slate, from the signed request id the client sent back (worker/served.ts); null when
    // the event carried none, or one that does not verify.
    modelVersion: text("model_version"),
    userId: text("user_id").notNull(),
    itemId: text("item_id").notNull(),
    type: text("type", { enum: ["impression", "click"] }).notNull(),
    ts: integer("ts", { mode: "number" }).notNull(), // client time, ms since epoch
    createdAt: timestamps.createdAt,
  },
  // The userId read filters on type and a ts window: both inside the index. Retention deletes by ts.
  // The canary's click-through per model version reads (model_version, type, ts).
  (t) => [
    index("events_user_type_ts").on(t.userId, t.type, t.ts),
    index("events_ts").on(t.ts),
    index("events_model_type_ts").on(t.modelVersion, t.type, t.ts),
  ],
);

/** Per-client API keys for POST /v1/events: only the SHA-256 of the secret is stored; the key is shown once. */
export const apiKeys = sqliteTable("api_keys", {
  id: text("id").primaryKey(), // the key's public part (hk_<id>_<secret>)
  name: text("name").notNull(),
  secretSha256: text("secret_sha256").notNull(),
  createdAt: timestamps.createdAt,
  revokedAt: integer("revoked_at", { mode: "number" }),
});

/** Small key/value facts about the deployment: catalog_version (bumped on every catalog write), codebook_version. */
export const meta = sqliteTable("meta", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});
