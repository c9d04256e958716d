// What the Worker is given by its environment (wrangler.toml bindings, [vars] and secrets).
import type { RequestIdVariables } from "hono/request-id";
import type { PromotionVar } from "../core/promotion";
import type { Principal } from "./credentials";

type Vars =
  | "CORS_ORIGINS"
  | "CATALOG_FRESHNESS_MS"
  | "EVENTS_TS_PAST_SECONDS"
  | "EVENTS_TS_FUTURE_SECONDS"
  | "EVENTS_RETENTION_DAYS"
  | PromotionVar;

export type Bindings = Omit<Cloudflare.Env, Vars | "EVENTS_PER_KEY" | "EVENTS_PER_USER"> & {
  /** Bearer token for admin routes: a Worker secret (`wrangler secret put ADMIN_TOKEN`), `.dev.vars` locally. */
  ADMIN_TOKEN?: string;
  /** HMAC-SHA256 key of user tokens (POST /v1/tokens issues them): a Worker secret, `.dev.vars` locally. */
  USER_TOKEN_SECRET?: string;
  /** Rate Limiting bindings; absent (say, an environment without them), events are not rate limited and a log says so. */
  EVENTS_PER_KEY?: RateLimit;
  EVENTS_PER_USER?: RateLimit;
} & Partial<Record<Vars, string>>;

export type AppEnv = { Bindings: Bindings; Variables: RequestIdVariables & { principal: Principal } };

/** What data access needs: D1 and R2 (the Cron handler and the routes both have it). */
export type Stores = { DB: D1Database; MODELS: R2Bucket };
