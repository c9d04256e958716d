// The serving model, cached per isolate and created lazily on first use (never at start-up: the limit is 1 s).
// The active version is read from D1 with every request (meta.active_model); when it moves, the next request loads the
// new model from R2. With no published model, the embedded default in model/ serves.
import type { Stores } from "./bindings";
import { eq } from "drizzle-orm";
import { packSidHistories } from "../core/history";
import { parseManifest, type Manifest } from "../core/manifest";
import embeddedManifest from "../model/default/manifest.json";
import embeddedModel from "../model/default/hpn.int8.onnx";
import { database } from "./db/client";
import { modelVersions } from "./db/schema";
import { causeMessage, d1, DatabaseUnavailable, ModelUnavailable } from "./errors";
import { timedOnce } from "./cold-timing";
import { IsolateCache } from "./isolate-cache";
import { createSession, ort } from "./onnx";

export interface ServingModel {
  version: string;
  source: "embedded" | "r2";
  manifest: Manifest;
  session: ort.InferenceSession;
}

// Two slots: the active model and, while a canary runs, the canary model; both stay loaded in the isolate. When a
// canary is completed, the active slot takes its session over instead of loading the same bytes again.
const caches = {
  active: new IsolateCache<ServingModel>((m) => void m.session.release()),
  canary: new IsolateCache<ServingModel>((m) => void m.session.release()),
};
export type ModelSlot = keyof typeof caches;

// Failed loads, per isolate: until `until`, requests for that version fail at once instead of downloading and hashing
// the model again. The delay doubles with every failure, up to a minute; a success (or another version) forgets it.
const failures = new Map<string, { until: number; delayMs: number; reason: string }>();
const BACKOFF = { firstMs: 1000, maxMs: 60_000 } as const;

/** Forgets the cached failures (tests). */
export function resetModelFailures(): void {
  failures.clear();
}

/**
 * The model for `activeVersion` (null: the embedded default), loading it on first use or when the version moves.
 * `slot` "canary" keeps a second model beside the active one.
 */
export async function servingModel(env: Stores, activeVersion: string | null, slot: ModelSlot = "active"): Promise<ServingModel> {
  const key = activeVersion ?? "embedded";
  const failed = failures.get(key);
  if (failed && Date.now() < failed.until) throw new ModelUnavailable(failed.reason, Math.ceil((failed.until - Date.now()) / 1000));
  try {
    const load = () => (activeVersion === null ? loadEmbedded() : loadPublished(env, activeVersion));
    const fromCanary = slot === "active" ? caches.canary.peek(key) : undefined;
    const model = await caches[slot].get(key, fromCanary ? async () => fromCanary : load);
    if (fromCanary) caches.canary.clear(); // the session moved to the active slot
    failures.delete(key);
    return model;
  } catch (err) {
    if (err instanceof DatabaseUnavailable) throw err; // D1's trouble, not the model's: nothing to back off from
    const reason = err instanceof ModelUnavailable ? causeMessage(err) : `model ${key} could not be loaded: ${causeMessage(err)}`;
    const delayMs = failed ? Math.min(failed.delayMs * 2, BACKOFF.maxMs) : BACKOFF.firstMs;
    if (failures.size >= 4) failures.clear(); // only the versions requests ask for (active, canary) matter
    failures.set(key, { until: Date.now() + delayMs, delayMs, reason });
    throw new ModelUnavailable(reason, Math.ceil(delayMs / 1000));
  }
}

async function loadEmbedded(): Promise<ServingModel> {
  const manifest = parseManifest(embeddedManifest, "model/default/manifest.json");
  return { version: manifest.version, source: "embedded", manifest, session: await createSession(embeddedModel) };
}

/** A published model in a session of its own (the serving slots use it too; the replay gate releases its own after use). */
export async function loadPublished(env: Stores, version: string): Promise<ServingModel> {
  const { manifest, bytes } = await timedOnce("model-fetch", () => fetchPublished(env, version));
  return { version, source: "r2", manifest, session: await createSession(bytes) };
}

/**
 * Reads a published model (manifest + serving file) from R2 and checks it: the manifest validates and names this
 * version, and the bytes hash to what both the manifest and the registry row say. Shared by serving and the promoter.
 */
export async function fetchPublished(env: Stores, version: string): Promise<{ manifest: Manifest; bytes: Uint8Array }> {
  const db = database(env.DB);
  const [row] = await d1(() => db.select().from(modelVersions).where(eq(modelVersions.version, version)).limit(1));
  if (!row) throw new ModelUnavailable(`model ${version} is not registered`);
  const manifestObject = await env.MODELS.get(`${row.r2Key}manifest.json`);
  if (!manifestObject) throw new ModelUnavailable(`model ${version}: ${row.r2Key}manifest.json is missing from R2`);
  let manifest: Manifest;
  try {
    manifest = parseManifest(await manifestObject.json(), `${row.r2Key}manifest.json`);
  } catch (err) {
    throw new ModelUnavailable(`model ${version}: invalid manifest: ${causeMessage(err)}`);
  }
  if (manifest.version !== version) throw new ModelUnavailable(`model ${version}: manifest names version ${manifest.version}`);
  const file = manifest.files[manifest.quantization];
  const object = await env.MODELS.get(`${row.r2Key}${manifest.serving}`);
  if (!object) throw new ModelUnavailable(`model ${version}: ${row.r2Key}${manifest.serving} is missing from R2`);
  const bytes = new Uint8Array(await object.arrayBuffer());
  const digest = await subtleSha256Hex(bytes);
  if (digest !== file.sha256)
    throw new ModelUnavailable(`model ${version}: sha256 of ${manifest.serving} is ${digest}, manifest says ${file.sha256}`);
  if (digest !== row.sha256) throw new ModelUnavailable(`model ${version}: sha256 ${digest} differs from the registry's ${row.sha256}`);
  return { manifest, bytes };
}

// Model files are megabytes and this path is async: the runtime's native digest, not the sync one core/ uses.
async function subtleSha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

// Sessions that have run once (a session's first run is a cold cost of its own: the Server-Timing reports it).
const ran = new WeakSet<object>();

/**
 * Runs the HPN on a batch of histories (each a list of SIDs, oldest first) and returns the per-level log-probs,
 * [batch, L, V] row-major, and β(s) [batch] of the popularity prior (zeros for a model without one: SIDs alone).
 * Histories are packed as the trainer packs them (core/history.ts): right-aligned into the model's H slots, keeping
 * the newest H items.
 */
export async function runHpn(
  model: ServingModel,
  histories: readonly (readonly ArrayLike<number>[])[],
): Promise<{ logProbs: Float32Array; beta: Float32Array }> {
  const { historyLength: H, levels: L } = model.manifest;
  const { sids, length } = packSidHistories(histories, H, L);
  const first = !ran.has(model.session);
  ran.add(model.session);
  const run = () =>
    model.session.run({
      sids: new ort.Tensor(
        "int64",
        BigInt64Array.from(sids, (z) => BigInt(z)),
        [histories.length, H, L],
      ),
      length: new ort.Tensor(
        "int64",
        BigInt64Array.from(length, (n) => BigInt(n)),
        [histories.length],
      ),
    });
  const out = first ? await timedOnce("first-run", run) : await run();
  const beta = model.manifest.prior ? (out[model.manifest.prior.output].data as Float32Array) : new Float32Array(histories.length);
  return { logProbs: out.logprobs.data as Float32Array, beta };
}

/** The embedded default's version: what events served by it are credited to (meta.active_model is unset then). */
export function embeddedModelVersion(): string {
  return (embeddedManifest as { version: string }).version;
}
