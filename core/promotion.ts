// The promotion settings (wrangler.toml [vars]) and their defaults, in one place: the Worker's replay gate and canary
// read them, and `hsrl publish` prints what will gate a candidate from the same values.

export interface GateConfig {
  margin: number; // relative: the candidate may lose at most margin x the active model's NDCG@10 (95% bootstrap bound)
  minSessions: number; // fewer sessions with a next click to predict: the gate is skipped (validation and the canary decide)
  maxSessions: number; // the bounded sample: the users with the most recent clicks
  predictionsPerSession: number; // the newest clicks of a session, each predicted from the clicks before it
  windowDays: number; // how far back the sample reaches
  maxEvents: number; // attributed events read for the IPS/SNIPS estimate
  resamples: number; // bootstrap resamples over sessions
  seed: number;
}

export interface CanaryConfig {
  share: number; // of units (users, client keys) on the canary; 0 promotes a gated candidate at once
  minImpressions: number; // per arm before any verdict
  ctrMargin: number; // relative: the canary may lose at most this share of the active model's click-through
}

/** The wrangler.toml [vars] that configure the gate and the canary (strings, as Workers give them). */
export const PROMOTION_VARS = [
  "GATE_MARGIN",
  "GATE_MIN_SESSIONS",
  "GATE_MAX_SESSIONS",
  "GATE_WINDOW_DAYS",
  "CANARY_SHARE",
  "CANARY_MIN_IMPRESSIONS",
  "CANARY_CTR_MARGIN",
] as const;
export type PromotionVar = (typeof PROMOTION_VARS)[number];
export type PromotionVars = Partial<Record<PromotionVar, string>>;

const num = (v: string | undefined, fallback: number, min: number, max: number) => {
  const n = v !== undefined && v.trim() !== "" ? Number(v) : Number.NaN;
  return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : fallback;
};

export function gateConfigOf(vars: PromotionVars): GateConfig {
  return {
    margin: num(vars.GATE_MARGIN, 0.05, 0, 1),
    minSessions: Math.round(num(vars.GATE_MIN_SESSIONS, 30, 1, 100_000)),
    maxSessions: Math.round(num(vars.GATE_MAX_SESSIONS, 200, 1, 2000)),
    predictionsPerSession: 5,
    windowDays: num(vars.GATE_WINDOW_DAYS, 14, 0.01, 3650),
    maxEvents: 5000,
    resamples: 1000,
    seed: 17,
  };
}

export function canaryConfigOf(vars: PromotionVars): CanaryConfig {
  return {
    share: num(vars.CANARY_SHARE, 0.1, 0, 1),
    minImpressions: Math.round(num(vars.CANARY_MIN_IMPRESSIONS, 1000, 1, 1e9)),
    ctrMargin: num(vars.CANARY_CTR_MARGIN, 0.05, 0, 1),
  };
}

/**
 * heldout.json beside an exported model: the test split's next-positive examples as item ids (history oldest first),
 * uploaded by `hsrl publish`. The replay gate scores them when too few sessions are logged yet.
 */
export interface HeldOutSet {
  format: "hsrl-heldout/1";
  source: string;
  examples: { history: string[]; target: string }[];
}

export const HELDOUT_FILE = "heldout.json";

/** The set, or null when `json` is not one (a damaged file only costs the fallback). */
export function parseHeldOut(json: unknown): HeldOutSet | null {
  const h = json as Partial<HeldOutSet> | null;
  if (h?.format !== "hsrl-heldout/1" || !Array.isArray(h.examples)) return null;
  const ok = h.examples.every(
    (e) => e && typeof e.target === "string" && Array.isArray(e.history) && e.history.every((id) => typeof id === "string"),
  );
  return ok ? { format: h.format, source: String(h.source ?? ""), examples: h.examples } : null;
}
