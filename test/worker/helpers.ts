// Test data for the worker: a small catalog with known SIDs and the serving-contract fixture published as the active
// model, so the tests do not depend on whichever default model is embedded.
import { env, exports } from "cloudflare:workers";
import fixtureManifest from "../fixtures/hpn-fixture.manifest.json";
import fixtureModel from "../fixtures/hpn-fixture.onnx";
import { createSession, ort } from "../../worker/onnx";
import { scoreSid } from "../../core/score";

export const FIXTURE = fixtureManifest as { version: string; levels: number; vocab: number; historyLength: number };

export interface SeedItem {
  id: string;
  tokens: number[];
  collision?: number;
  status?: "active" | "retired";
  attributes?: Record<string, unknown>;
}

/** n (<= 128) items with distinct tokens spread over the vocabulary, except items 0 and 1: same tokens, collision 0 and 1. */
export function catalog(n: number): SeedItem[] {
  const V = FIXTURE.vocab;
  return Array.from({ length: n }, (_, i) => {
    const j = i === 1 ? 0 : i;
    return { id: `item-${i}`, tokens: [j % 8, Math.floor(j / 8) % V, (j * 7 + 3) % V], collision: i === 1 ? 1 : 0, attributes: { title: `Item ${i}` } };
  });
}

export async function seedItems(items: SeedItem[]): Promise<void> {
  const stmt = env.DB.prepare(
    "INSERT INTO items (id, sid, collision, status, attributes, codebook_version) VALUES (?, ?, ?, ?, ?, 'test-codebook')",
  );
  await env.DB.batch(
    items.map((it) => stmt.bind(it.id, it.tokens.join("-"), it.collision ?? 0, it.status ?? "active", JSON.stringify(it.attributes ?? {}))),
  );
  await bumpCatalogVersion();
}

/** Catalog writes bump the version so per-isolate caches drop what they hold. */
export async function bumpCatalogVersion(): Promise<void> {
  await env.DB.prepare("INSERT INTO meta (key, value) VALUES ('catalog_version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
    .bind(crypto.randomUUID())
    .run();
}

/**
 * Publishes the fixture model to R2 and makes it the active model in D1. `corrupt` publishes it as another version
 * whose stored bytes are truncated (what a bad upload would leave).
 */
export async function activateFixture(opts: { corrupt?: boolean } = {}): Promise<string> {
  const version = opts.corrupt ? "0badc0de0badc0de" : FIXTURE.version;
  const prefix = `models/${version}/`;
  const bytes = new Uint8Array(fixtureModel);
  await env.MODELS.put(`${prefix}manifest.json`, JSON.stringify({ ...fixtureManifest, version }));
  await env.MODELS.put(`${prefix}hpn-fixture.onnx`, opts.corrupt ? bytes.slice(0, 100) : bytes);
  const sha = (fixtureManifest as { files: { fp32: { sha256: string } } }).files.fp32.sha256;
  await env.DB.batch([
    env.DB.prepare("UPDATE model_versions SET status = 'retired' WHERE status = 'active' AND version != ?").bind(version),
    env.DB.prepare(
      "INSERT INTO model_versions (version, r2_key, sha256, codebook_version, status) VALUES (?, ?, ?, 'test-codebook', 'active') ON CONFLICT(version) DO UPDATE SET status = 'active'",
    ).bind(version, prefix, sha),
    env.DB.prepare("INSERT INTO meta (key, value) VALUES ('active_model', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").bind(version),
  ]);
  return version;
}

let session: Promise<ort.InferenceSession> | undefined;

/** The fixture's log-probs for one history (tokens oldest first), computed in the test, independent of the worker. */
export async function referenceLogProbs(history: number[][]): Promise<Float32Array> {
  session ??= createSession(fixtureModel);
  const { historyLength: H, levels: L } = FIXTURE;
  const recent = history.slice(-H);
  const sids = new BigInt64Array(H * L);
  recent.forEach((t, i) => t.forEach((z, l) => (sids[(H - recent.length + i) * L + l] = BigInt(z))));
  const out = await (await session).run({
    sids: new ort.Tensor("int64", sids, [1, H, L]),
    length: new ort.Tensor("int64", BigInt64Array.from([BigInt(recent.length)]), [1]),
  });
  return out.logprobs.data as Float32Array;
}

export function referenceScore(logProbs: Float32Array, tokens: number[]): number {
  return scoreSid(logProbs, FIXTURE.levels, FIXTURE.vocab, tokens);
}

export async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(`http://edge${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}
