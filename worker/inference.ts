// Request inference, what rerank and recommend share: a request's history -> SIDs -> the model's per-level log-probs.
import type { Bindings, Stores } from "./bindings";
import { eventsConfig } from "./feedback";
import type { CatalogItem, Lookup } from "./catalog";
import { cachedLookup, lookupItems } from "./catalog";
import { runHpn, servingModel, type ServingModel } from "./model";
import { causeMessage, d1RoundTrips, ModelUnavailable } from "./errors";

export interface HistoryRequest {
  history?: string[];
  userId?: string;
}

export interface Context {
  lookup: Lookup;
  history: CatalogItem[]; // oldest first, known items only
  unknownHistory: string[];
  timings: Timings;
}

/** Milliseconds spent per stage, reported in the Server-Timing header (the benchmark reads it). */
export interface Timings {
  d1: number;
  model: number;
  d1Start: number; // d1RoundTrips.count when the request began
}

export function serverTiming(t: Timings, totalStart: number): string {
  const trips = d1RoundTrips.count - t.d1Start;
  return `d1;dur=${t.d1.toFixed(2)};desc="${trips} round trips", model;dur=${t.model.toFixed(2)}, total;dur=${(performance.now() - totalStart).toFixed(2)}`;
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
  if (lookup.userHistory) return { lookup, history: lookup.userHistory, unknownHistory: [], timings };
  const history: CatalogItem[] = [];
  const unknownHistory: string[] = [];
  for (const id of historyIds) {
    const item = lookup.items.get(id);
    if (item) history.push(item);
    else unknownHistory.push(id);
  }
  return { lookup, history, unknownHistory, timings };
}

/**
 * The context from the isolate's cache alone (no round trip), when every history id is cached and no stored history
 * is asked for; null otherwise. The versions in it are a guess the caller must confirm (catalog.ts cachedLookup).
 */
export function resolveFromCache(req: HistoryRequest): Context | null {
  if (req.userId !== undefined) return null;
  const lookup = cachedLookup(req.history ?? []);
  return lookup ? contextOf(lookup, req.history ?? [], { d1: 0, model: 0, d1Start: d1RoundTrips.count }) : null;
}

/** A request's context from a lookup of its history ids (known items in order, the others unknown). */
export function contextOf(lookup: Lookup, historyIds: string[], timings: Timings): Context {
  const history = historyIds.flatMap((id) => lookup.items.get(id) ?? []);
  const unknownHistory = historyIds.filter((id) => !lookup.items.has(id));
  return { lookup, history, unknownHistory, timings };
}

// The history length used for stored-history lookups before the model (and its H) is known; the model keeps the
// newest H of what it is given, and no model has a longer history than this.
export const MAX_HISTORY = 200;

/** The serving model and its log-probs [L * V] for one history; throws ModelUnavailable when it cannot run. */
export async function score(env: Stores, ctx: Context): Promise<{ model: ServingModel; logProbs: Float32Array }> {
  const model = await servingModel(env, ctx.lookup.versions.activeModel);
  const { levels } = model.manifest;
  // Items encoded with another codebook shape cannot be fed to this model; leave them out of the history.
  const tokens = ctx.history.filter((i) => i.tokens.length === levels).map((i) => i.tokens);
  const t0 = performance.now();
  try {
    const logProbs = await runHpn(model, [tokens]);
    ctx.timings.model += performance.now() - t0;
    return { model, logProbs };
  } catch (err) {
    throw new ModelUnavailable(`inference failed: ${causeMessage(err)}`);
  }
}
