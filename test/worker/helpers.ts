// Test data for the worker: a small catalog with known SIDs and the serving-contract fixture published as the active
// model, so the tests do not depend on whichever default model is embedded.
import { env, exports } from "cloudflare:workers";
import codebookJson from "../fixtures/codebook.json";
import fixtureManifest from "../fixtures/hpn-fixture.manifest.json";
import fixtureModel from "../fixtures/hpn-fixture.onnx";
import nextManifest from "../fixtures/hpn-fixture-next.manifest.json";
import nextModel from "../fixtures/hpn-fixture-next.onnx";
import priorManifest from "../fixtures/hpn-fixture-prior.manifest.json";
import priorModel from "../fixtures/hpn-fixture-prior.onnx";
import { createSession, ort } from "../../worker/onnx";
import { scoreSid } from "../../core/score";

export const FIXTURE = fixtureManifest as { version: string; levels: number; vocab: number; historyLength: number };

export interface SeedItem {
  id: string;
  tokens: number[];
  collision?: number;
  status?: "active" | "retired";
  attributes?: Record<string, unknown>;
  prior?: number | null; // items.prior (g); absent: NULL
}

/** n (<= 128) items with distinct tokens spread over the vocabulary, except items 0 and 1: same tokens, collision 0 and 1. */
export function catalog(n: number): SeedItem[] {
  const V = FIXTURE.vocab;
  return Array.from({ length: n }, (_, i) => {
    const j = i === 1 ? 0 : i;
    return {
      id: `item-${i}`,
      tokens: [j % 8, Math.floor(j / 8) % V, (j * 7 + 3) % V],
      collision: i === 1 ? 1 : 0,
      attributes: { title: `Item ${i}` },
    };
  });
}

export async function seedItems(items: SeedItem[]): Promise<void> {
  const stmt = env.DB.prepare(
    "INSERT INTO items (id, sid, collision, status, attributes, codebook_version, prior) VALUES (?, ?, ?, ?, ?, 'test-codebook', ?)",
  );
  await env.DB.batch(
    items.map((it) =>
      stmt.bind(
        it.id,
        it.tokens.join("-"),
        it.collision ?? 0,
        it.status ?? "active",
        JSON.stringify(it.attributes ?? {}),
        it.prior ?? null,
      ),
    ),
  );
  await bumpCatalogVersion();
}

/**
 * Catalog writes bump the version so per-isolate caches drop what they hold, and set updated_at (the default on
 * insert) so the isolate's prefix index reads them in its next delta.
 */
export async function bumpCatalogVersion(): Promise<void> {
  await env.DB.prepare("INSERT INTO meta (key, value) VALUES ('catalog_version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
    .bind(crypto.randomUUID())
    .run();
}

const FIXTURES = {
  "hpn-fixture": { manifest: fixtureManifest, bytes: fixtureModel },
  "hpn-fixture-next": { manifest: nextManifest, bytes: nextModel },
  "hpn-fixture-prior": { manifest: priorManifest, bytes: priorModel },
} as const;

export interface PublishOptions {
  name?: keyof typeof FIXTURES;
  corrupt?: boolean; // store truncated bytes (what a bad upload leaves)
  version?: string; // publish under another version (the manifest is rewritten to name it)
  manifestPatch?: Record<string, unknown>;
  createdAt?: number;
}

/** Uploads a fixture model to R2 and registers it as a candidate, as `npm run hsrl -- publish` does. */
export async function publishFixture(opts: PublishOptions = {}): Promise<string> {
  const fixture = FIXTURES[opts.name ?? "hpn-fixture"];
  const manifest = fixture.manifest as unknown as { version: string; serving: string; files: { fp32: { sha256: string } } };
  const version = opts.version ?? manifest.version;
  const prefix = `models/${version}/`;
  const bytes = new Uint8Array(fixture.bytes);
  await env.MODELS.put(`${prefix}manifest.json`, JSON.stringify({ ...manifest, version, ...opts.manifestPatch }));
  await env.MODELS.put(`${prefix}${manifest.serving}`, opts.corrupt ? bytes.slice(0, 100) : bytes);
  await env.DB.prepare(
    "INSERT INTO model_versions (version, r2_key, sha256, codebook_version, status, created_at) VALUES (?, ?, ?, ?, 'candidate', ?) ON CONFLICT(version) DO NOTHING",
  )
    .bind(
      version,
      prefix,
      manifest.files.fp32.sha256,
      (fixture.manifest as { codebook: { version: string } }).codebook.version,
      opts.createdAt ?? Date.now(),
    )
    .run();
  return version;
}

/** Publishes a fixture (see publishFixture) and makes it the active model directly in D1, bypassing validation. */
export async function activateFixture(opts: PublishOptions = {}): Promise<string> {
  const version = await publishFixture(opts.corrupt && !opts.version ? { ...opts, version: "0badc0de0badc0de" } : opts);
  await env.DB.batch([
    env.DB.prepare("UPDATE model_versions SET status = 'retired' WHERE status = 'active' AND version != ?").bind(version),
    env.DB.prepare("UPDATE model_versions SET status = 'active', promoted_at = ? WHERE version = ?").bind(Date.now(), version),
    env.DB.prepare("INSERT INTO meta (key, value) VALUES ('active_model', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").bind(
      version,
    ),
  ]);
  return version;
}

/**
 * Empties the stores and sets up the usual world: the fixture codebook published to R2 (as `hsrl publish` does; it is
 * not the embedded one), `n` items on it, the fixture model active. `alsoClear` names further tables to empty.
 */
export async function resetToFixtureCatalog(n = 40, alsoClear: string[] = []): Promise<string> {
  const tables = ["items", "model_versions", "meta", "events", ...alsoClear];
  await env.DB.exec(tables.map((t) => `DELETE FROM ${t};`).join(" "));
  await env.MODELS.put(`codebooks/${codebookJson.version}.json`, JSON.stringify(codebookJson));
  await env.DB.prepare("INSERT INTO meta (key, value) VALUES ('codebook_version', ?)").bind(codebookJson.version).run();
  await seedItems(catalog(n));
  return activateFixture();
}

/** An active row written straight to D1, as another isolate's PUT would (this isolate's caches know nothing of it). */
export function insertItemElsewhere(id: string, sid: string, codebookVersion: string, title: string): D1PreparedStatement {
  return env.DB.prepare(
    "INSERT INTO items (id, sid, collision, status, attributes, codebook_version) " +
      "VALUES (?1, ?2, (SELECT COALESCE(MAX(collision) + 1, 0) FROM items WHERE sid = ?2), 'active', ?3, ?4)",
  ).bind(id, sid, JSON.stringify({ title }), codebookVersion);
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

let priorSession: Promise<ort.InferenceSession> | undefined;

/** β(s) of the prior fixture for one history, computed in the test (its log-probs are referenceLogProbs'). */
export async function referenceBeta(history: number[][]): Promise<number> {
  priorSession ??= createSession(priorModel);
  const { historyLength: H, levels: L } = FIXTURE;
  const recent = history.slice(-H);
  const sids = new BigInt64Array(H * L);
  recent.forEach((t, i) => t.forEach((z, l) => (sids[(H - recent.length + i) * L + l] = BigInt(z))));
  const out = await (await priorSession).run({
    sids: new ort.Tensor("int64", sids, [1, H, L]),
    length: new ort.Tensor("int64", BigInt64Array.from([BigInt(recent.length)]), [1]),
  });
  return (out.beta.data as Float32Array)[0];
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
