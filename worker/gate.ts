// The replay gate: before a candidate serves anyone, score it and the active model on the same recently logged
// sessions, through the serving code (runHpn on the history as inference.ts packs it, then recommend's exact decode
// over the catalog's prefix index), and promote only if it is not worse beyond a margin. Figures are stored on the
// candidate's registry row (model_versions.gate) and shown by GET /v1/admin/models.
import { parseSidKey } from "../core/codebook";
import { Rng } from "../core/rng";
import { eq } from "drizzle-orm";
import { type GateConfig, gateConfigOf, HELDOUT_FILE, parseHeldOut } from "../core/promotion";
import type { Bindings, Stores } from "./bindings";
import { lookupItems } from "./catalog";
import { catalogIndex, type CatalogIndex } from "./catalog-index";
import { database } from "./db/client";
import { modelVersions } from "./db/schema";
import { d1 } from "./errors";
import { readVersionsNow } from "./db/meta";
import { decodeCatalog } from "./decode";
import { attributedEvents, type LoggedClick, recentSessions } from "./feedback";
import { historyTokens, MAX_HISTORY } from "./inference";
import { loadPublished, runHpn, type ServingModel, servingModel } from "./model";

export interface Interval {
  mean: number;
  lo: number;
  hi: number;
}

export interface ModelFigures {
  version: string;
  ndcg10: number;
  recall10: number;
}

export interface OffPolicy {
  slates: number;
  impressions: number;
  loggedCtr: number; // clicks / impressions as logged
  models: Record<"candidate" | "active", { ips: number; snips: number | null; coverage: number }>;
  note: string;
}

export interface GateResult {
  decision: "pass" | "fail" | "skipped";
  reason: string;
  source: "logged sessions" | "held-out set shipped with the candidate";
  sessions: number;
  predictions: number;
  candidate?: ModelFigures;
  active?: ModelFigures;
  delta?: { ndcg10: Interval; recall10: Interval }; // candidate - active, per session, 95% percentile bootstrap
  rule: string;
  offPolicy?: OffPolicy | null;
  config: Pick<GateConfig, "margin" | "minSessions" | "maxSessions" | "predictionsPerSession" | "windowDays" | "resamples" | "seed">;
  cpuMs: number; // model runs + decoding + statistics, D1 and R2 excluded
  evaluatedAt: string;
}

interface Prediction {
  session: number;
  history: { id: string; tokens: number[] }[];
  target: string;
}

interface Slate {
  userId: string;
  ts: number;
  items: string[];
  clicks: Set<string>;
  context: { id: string; tokens: number[] }[]; // the user's logged clicks before the slate, oldest first
}

const K = 10;

/** Runs the gate for `candidate` against the serving active model. Reads D1 and R2; writes nothing. */
export async function replayGate(env: Stores & Partial<Bindings>, candidate: string, config = gateConfigOf(env)): Promise<GateResult> {
  const versions = await readVersionsNow(env);
  const since = Date.now() - config.windowDays * 86_400_000;
  const rule = `pass when the 95% bootstrap lower bound of NDCG@10(candidate) - NDCG@10(active) >= -${config.margin} x NDCG@10(active)`;
  const base = {
    source: "logged sessions" as GateResult["source"],
    rule,
    config: {
      margin: config.margin,
      minSessions: config.minSessions,
      maxSessions: config.maxSessions,
      predictionsPerSession: config.predictionsPerSession,
      windowDays: config.windowDays,
      resamples: config.resamples,
      seed: config.seed,
    },
    evaluatedAt: new Date().toISOString(),
  };
  const clicks = await recentSessions(env, since, config.maxSessions, MAX_HISTORY + config.predictionsPerSession);
  const { predictions, sessions, byUser } = predictionsOf(clicks, config.predictionsPerSession);
  let sample = { source: "logged sessions" as GateResult["source"], predictions, sessions };
  if (sessions < config.minSessions) {
    const few = `too few logged sessions (${sessions} with a next click to predict, the gate needs ${config.minSessions})`;
    const shipped = await shippedSample(env, candidate, config.maxSessions);
    if (!shipped || shipped.sessions < config.minSessions)
      return {
        ...base,
        decision: "skipped",
        reason: `${few}${shipped ? ` and ${shipped.sessions} usable held-out examples shipped with the candidate` : ", no held-out set shipped with the candidate"}: today's checks decide`,
        sessions,
        predictions: predictions.length,
        cpuMs: 0,
      };
    sample = { source: "held-out set shipped with the candidate", ...shipped };
  }

  const [active, index, logged] = await Promise.all([
    servingModel(env, versions.activeModel),
    catalogIndex(env, versions),
    attributedEvents(env, since, config.maxEvents),
  ]);
  const cand = await loadPublished(env, candidate);
  try {
    const t0 = performance.now();
    const { predictions, sessions, source } = sample;
    const a = await evaluate(active, index, predictions, sessions);
    const c = await evaluate(cand, index, predictions, sessions);
    const rng = new Rng(config.seed);
    const draws = bootstrapDraws(sessions, config.resamples, rng);
    const delta = {
      ndcg10: meanInterval(diff(c.ndcg, a.ndcg), draws),
      recall10: meanInterval(diff(c.recall, a.recall), draws),
    };
    const figures = (m: ServingModel, r: Scores): ModelFigures => ({ version: m.version, ndcg10: mean(r.ndcg), recall10: mean(r.recall) });
    const [candidateFigures, activeFigures] = [figures(cand, c), figures(active, a)];
    const offPolicy = await offPolicyEstimate(cand, active, index, slatesOf(logged, byUser));
    const floor = -config.margin * activeFigures.ndcg10;
    const pass = delta.ndcg10.lo >= floor;
    const fmt = (x: number) => x.toFixed(4);
    const on =
      source === "logged sessions"
        ? `${sessions} sessions (${predictions.length} next clicks)`
        : `${sessions} held-out examples shipped with the candidate (too few logged sessions)`;
    const reason = `replay gate on ${on}: NDCG@10 ${fmt(candidateFigures.ndcg10)} vs active ${fmt(activeFigures.ndcg10)}, difference ${fmt(delta.ndcg10.mean)} [95% CI ${fmt(delta.ndcg10.lo)}, ${fmt(delta.ndcg10.hi)}] ${pass ? ">=" : "<"} ${fmt(floor)} allowed`;
    return {
      ...base,
      decision: pass ? "pass" : "fail",
      reason,
      source,
      sessions,
      predictions: predictions.length,
      candidate: candidateFigures,
      active: activeFigures,
      delta,
      offPolicy,
      cpuMs: performance.now() - t0,
    };
  } finally {
    await cand.session.release().catch(() => undefined);
  }
}

/**
 * The held-out examples `hsrl export` shipped beside the candidate (R2 <prefix>heldout.json), as one prediction per
 * session: up to `max`, spread evenly; ids resolved to SIDs in the catalog as serving resolves a history.
 */
async function shippedSample(env: Stores, version: string, max: number): Promise<{ predictions: Prediction[]; sessions: number } | null> {
  const db = database(env.DB);
  const [row] = await d1(() =>
    db.select({ r2Key: modelVersions.r2Key }).from(modelVersions).where(eq(modelVersions.version, version)).limit(1),
  );
  const object = row ? await env.MODELS.get(`${row.r2Key}${HELDOUT_FILE}`) : null;
  const set = object ? parseHeldOut(await object.json().catch(() => null)) : null;
  if (!set) return null;
  const step = Math.max(1, set.examples.length / max);
  const examples = Array.from({ length: Math.min(max, set.examples.length) }, (_, i) => set.examples[Math.floor(i * step)]);
  const { items } = await lookupItems(env, [...new Set(examples.flatMap((e) => [...e.history, e.target]))]);
  const known = (id: string) => {
    const item = items.get(id);
    return item ? [{ id, tokens: item.tokens }] : [];
  };
  const predictions: Prediction[] = [];
  for (const e of examples) {
    const target = items.get(e.target);
    const history = e.history.flatMap(known);
    if (target?.status !== "active" || target.tokens.length === 0 || history.some((h) => h.id === e.target)) continue;
    predictions.push({ session: predictions.length, history, target: e.target });
  }
  return { predictions, sessions: predictions.length };
}

/** Each session's newest clicks as next-click predictions from the clicks before them (serving never re-recommends a history item). */
function predictionsOf(clicks: LoggedClick[], perSession: number) {
  const byUser = new Map<string, LoggedClick[]>();
  for (const c of clicks) {
    const rows = byUser.get(c.userId);
    if (rows) rows.push(c);
    else byUser.set(c.userId, [c]);
  }
  const predictions: Prediction[] = [];
  let sessions = 0;
  for (const rows of byUser.values()) {
    const items = rows.map(sessionItem);
    const mine: Prediction[] = [];
    for (let t = Math.max(1, rows.length - perSession); t < rows.length; t++) {
      const history = items.slice(0, t);
      if (items[t].tokens.length === 0 || history.some((h) => h.id === items[t].id)) continue;
      mine.push({ session: sessions, history, target: items[t].id });
    }
    if (mine.length === 0) continue;
    predictions.push(...mine);
    sessions++;
  }
  return { predictions, sessions, byUser };
}

interface Scores {
  ndcg: Float64Array; // per session: mean over its predictions
  recall: Float64Array;
}

const BATCH = 64;

async function evaluate(model: ServingModel, index: CatalogIndex, predictions: Prediction[], sessions: number): Promise<Scores> {
  const { levels, vocab } = model.manifest;
  const ndcg = new Float64Array(sessions);
  const recall = new Float64Array(sessions);
  const count = new Float64Array(sessions);
  for (let from = 0; from < predictions.length; from += BATCH) {
    const batch = predictions.slice(from, from + BATCH);
    const { logProbs, beta } = await runHpn(
      model,
      batch.map((p) => historyTokens(p.history, levels)),
    );
    batch.forEach((p, b) => {
      const row = logProbs.subarray(b * levels * vocab, (b + 1) * levels * vocab);
      const top = decodeCatalog(row, levels, vocab, index, K, new Set(p.history.map((h) => h.id)), beta[b]);
      const rank = top.findIndex((t) => t.id === p.target);
      if (rank >= 0) {
        ndcg[p.session] += 1 / Math.log2(rank + 2);
        recall[p.session] += 1;
      }
      count[p.session]++;
    });
  }
  for (let s = 0; s < sessions; s++) {
    ndcg[s] /= count[s];
    recall[s] /= count[s];
  }
  return { ndcg, recall };
}

/** Logged slates of the sampled users: one per request id, its impressions and the clicks sent back with it. */
function slatesOf(events: Awaited<ReturnType<typeof attributedEvents>>, byUser: Map<string, LoggedClick[]>): Slate[] {
  const slates = new Map<string, Slate>();
  for (const e of events) {
    if (!byUser.has(e.userId)) continue;
    let s = slates.get(e.requestId);
    if (!s) slates.set(e.requestId, (s = { userId: e.userId, ts: Number.POSITIVE_INFINITY, items: [], clicks: new Set(), context: [] }));
    if (e.type === "impression") {
      s.items.push(e.itemId);
      s.ts = Math.min(s.ts, e.ts);
    } else s.clicks.add(e.itemId);
  }
  const out = [...slates.values()].filter((s) => s.items.length > 0);
  for (const s of out) s.context = (byUser.get(s.userId) ?? []).filter((c) => c.ts < s.ts).map(sessionItem);
  return out;
}

function sessionItem(c: LoggedClick): { id: string; tokens: number[] } {
  return { id: c.itemId, tokens: c.status === "active" && /^\d/.test(c.sid) ? parseSidKey(c.sid) : [] };
}

/**
 * Clipped IPS and SNIPS of each model's click rate on the logged slates. The logging policy was deterministic (the
 * arm's model's top-k for that user), so every shown item had propensity 1 and any other item 0. A deterministic
 * target policy then puts weight w = min(M, 1[item in its own top-|slate|] / 1) on each logged impression: the clip
 * M >= 1 never binds, IPS = Σ w·click / impressions, SNIPS = Σ w·click / Σ w. Both only see the overlap with what
 * was shown: no credit or blame for items the logger never showed, so they are biased, not unbiased estimates.
 * Diagnostic only; the decision rests on the replay metrics.
 */
async function offPolicyEstimate(
  cand: ServingModel,
  active: ServingModel,
  index: CatalogIndex,
  slates: Slate[],
): Promise<OffPolicy | null> {
  if (slates.length === 0) return null;
  const impressions = slates.reduce((n, s) => n + s.items.length, 0);
  const clicked = slates.reduce((n, s) => n + s.items.filter((i) => s.clicks.has(i)).length, 0);
  const estimate = async (model: ServingModel) => {
    const { levels, vocab } = model.manifest;
    let weight = 0;
    let reward = 0;
    for (let from = 0; from < slates.length; from += BATCH) {
      const batch = slates.slice(from, from + BATCH);
      const histories = batch.map((s) => historyTokens(s.context, levels));
      const { logProbs, beta } = await runHpn(model, histories);
      batch.forEach((s, b) => {
        const row = logProbs.subarray(b * levels * vocab, (b + 1) * levels * vocab);
        const own = new Set(
          decodeCatalog(row, levels, vocab, index, s.items.length, new Set(s.context.map((h) => h.id)), beta[b]).map((t) => t.id),
        );
        for (const i of s.items) {
          if (!own.has(i)) continue;
          weight += 1;
          if (s.clicks.has(i)) reward += 1;
        }
      });
    }
    return { ips: reward / impressions, snips: weight > 0 ? reward / weight : null, coverage: weight / impressions };
  };
  return {
    slates: slates.length,
    impressions,
    loggedCtr: clicked / impressions,
    models: { candidate: await estimate(cand), active: await estimate(active) },
    note: "logged slates came from deterministic models (propensity 1 for shown items): clipped IPS/SNIPS only credit the overlap with the logged slate; biased, diagnostic only",
  };
}

function mean(xs: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < xs.length; i++) sum += xs[i];
  return xs.length > 0 ? sum / xs.length : 0;
}

function diff(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((x, i) => x - b[i]);
}

/** A seeded uniform [0, 1) stream: the bootstrap gives the same interval for the same sample. */
/** `resamples` resamples of n sessions with replacement; both metrics use the same draws (a paired bootstrap). */
function bootstrapDraws(n: number, resamples: number, rng: Rng): Uint32Array[] {
  return Array.from({ length: resamples }, () => Uint32Array.from({ length: n }, () => rng.int(n)));
}

/** The mean and its 95% percentile-bootstrap interval. */
function meanInterval(xs: Float64Array, draws: Uint32Array[]): Interval {
  const means = Float64Array.from(draws, (d) => {
    let sum = 0;
    for (const i of d) sum += xs[i];
    return sum / d.length;
  }).sort();
  const at = (q: number) => means[Math.min(means.length - 1, Math.max(0, Math.floor(q * (means.length - 1))))];
  return { mean: mean(xs), lo: at(0.025), hi: at(0.975) };
}
