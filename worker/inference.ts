// Request inference, what rerank and recommend share: a request's history -> SIDs -> the model's per-level log-probs.
import type { Bindings, Stores } from "./bindings";
import { takeColdTimings } from "./cold-timing";
import { eventsConfig } from "./feedback";
import type { CatalogItem, Lookup } from "./catalog";
import { cachedLookup, lookupItems } from "./catalog";
import { runHpn, servingModel, type ServingModel } from "./model";
import { causeMessage, d1RoundTrips, ModelUnavailable } from "./errors";
import { type Arm, inCanary } from "./served";

export interface HistoryRequest {
  history?: string[];
  userId?: string;
  clientKey?: string; // an anonymous client's stable key: picks its canary arm like a userId would
}

export interface Context {
  lookup: Lookup;
  history: CatalogItem[]; // oldest first, known items only
  unknownHistory: string[];
  timings: Timings;
  unit?: string; // what the canary split hashes: the userId, else the client key
}

/** Milliseconds spent per stage, reported in the Server-Timing header (the benchmark reads it). */
export interface Timings {
  d1: number;
  model: number;
  d1Start: number; // d1RoundTrips.count when the request began
}

export function serverTiming(t: Timings, totalStart: number): string {
  const trips = d1RoundTrips.count - t.d1Start;
  const cold = takeColdTimings();
  return `${cold ? `${cold}, ` : ""}d1;dur=${t.d1.toFixed(2)};desc="${trips} round trips", model;dur=${t.model.toFixed(2)}, total;dur=${(performance.now() - totalStart).toFixed(2)}`;
}

/** One D1 round trip (warm isolate): the history's and the extra ids' SIDs, the catalog and model versions. */
export async function resolve(env: Bindings, req: HistoryRequest, extraIds: string[], historyLength: number): Promise<Context> {
  const historyIds = req.history ?? [];
  const t0 = performance.now();
  const d1Start = d1RoundTrips.count;
  const lookup = await lookupItems(env, [...historyIds, ...extraIds], {
    userId: req.userId,
    historyLength,
    historySince: Date.now() - eventsConfig(env).retentionMs, // the cron deletes older rows; until it runs, skip them
  });
  const timings = { d1: performance.now() - t0, model: 0, d1Start };
  const unit = req.userId ?? req.clientKey;
  if (lookup.userHistory) return { lookup, history: lookup.userHistory, unknownHistory: [], timings, unit };
  return contextOf(lookup, historyIds, timings, unit);
}

/**
 * The context from the isolate's cache alone (no round trip), when every history id is cached, or is an active item of
 * `indexed` (the prefix index), and no stored history is asked for; null otherwise. `fresh`: its versions were read
 * within the freshness window and may be acted on; otherwise they are a guess the caller must confirm (catalog.ts
 * cachedLookup).
 */
export function resolveFromCache(
  req: HistoryRequest,
  freshnessMs: number,
  indexed?: (catalog: string, id: string) => CatalogItem | null,
): { ctx: Context; fresh: boolean } | null {
  if (req.userId !== undefined) return null;
  const cached = cachedLookup(req.history ?? [], freshnessMs, indexed);
  if (!cached) return null;
  const ctx = contextOf(cached.lookup, req.history ?? [], { d1: 0, model: 0, d1Start: d1RoundTrips.count }, req.clientKey);
  return { ctx, fresh: cached.fresh };
}

/** A request's context from a lookup of its history ids (known items in order, the others unknown). */
export function contextOf(lookup: Lookup, historyIds: string[], timings: Timings, unit?: string): Context {
  const history = historyIds.flatMap((id) => lookup.items.get(id) ?? []);
  const unknownHistory = historyIds.filter((id) => !lookup.items.has(id));
  return { lookup, history, unknownHistory, timings, unit };
}

// The history length used for stored-history lookups before the model (and its H) is known; the model keeps the
// newest H of what it is given, and no model has a longer history than this.
export const MAX_HISTORY = 200;

/** The history as the model reads it: items encoded with another codebook shape are left out. */
export function historyTokens(history: readonly { tokens: number[] }[], levels: number): number[][] {
  return history.filter((i) => i.tokens.length === levels).map((i) => i.tokens);
}

/**
 * The model that serves this request, its log-probs [L * V] and β(s) of the popularity prior (0 without one) for one
 * history; throws ModelUnavailable when it
 * cannot run. While a canary runs, units in its share get the canary model; if it cannot load, the active one serves.
 */
export async function score(env: Stores, ctx: Context): Promise<{ model: ServingModel; logProbs: Float32Array; beta: number; arm: Arm }> {
  const { activeModel, canary } = ctx.lookup.versions;
  let arm: Arm = inCanary(canary, ctx.unit) ? "canary" : "active";
  let model: ServingModel;
  if (arm === "canary" && canary) {
    try {
      model = await servingModel(env, canary.version, "canary");
    } catch (err) {
      if (!(err instanceof ModelUnavailable)) throw err;
      console.error(
        JSON.stringify({ level: "error", message: "canary model unavailable; serving the active one", detail: causeMessage(err) }),
      );
      arm = "active";
      model = await servingModel(env, activeModel);
    }
  } else model = await servingModel(env, activeModel);
  const tokens = historyTokens(ctx.history, model.manifest.levels);
  const t0 = performance.now();
  try {
    const { logProbs, beta } = await runHpn(model, [tokens]);
    ctx.timings.model += performance.now() - t0;
    return { model, logProbs, beta: beta[0], arm };
  } catch (err) {
    throw new ModelUnavailable(`inference failed: ${causeMessage(err)}`);
  }
}
