// The model registry: published candidates are validated, then promoted atomically or rejected with a reason, while
// the active model keeps serving. Used by the Cron Trigger and by the admin routes.
import type { Bindings, Stores } from "./bindings";
import { and, desc, eq, ne, sql } from "drizzle-orm";
import { servingTensors, type Manifest } from "../core/manifest";
import { embeddedCodebookVersion } from "./codebook";
import { database, type Db } from "./db/client";
import { deleteMeta, readVersionsNow, setMeta } from "./db/meta";
import { modelVersions, nowMs } from "./db/schema";
import { causeMessage, d1, ModelUnavailable } from "./errors";
import {
  type CanaryOutcome,
  type CanaryState,
  canaryConfig,
  canaryRow,
  completeCanary,
  evaluateCanary,
  pauseCanary,
  resumeCanary,
  rollbackCanary,
  startCanary,
} from "./canary";
import { replayGate } from "./gate";
import { fetchPublished } from "./model";
import { createSession, ort } from "./onnx";

export type Outcome =
  | { action: "promoted"; version: string }
  | { action: "rejected"; version: string; reason: string }
  | { action: "none"; reason: string; missing?: boolean };

/** What one cron step did to the registry: a promotion outcome, or a canary's progress. */
export type CronOutcome = Outcome | CanaryOutcome;

type Row = typeof modelVersions.$inferSelect;

/** Checks a published model without touching the registry; returns the reason it cannot serve, or null. */
export async function validate(env: Stores, version: string): Promise<string | null> {
  let manifest: Manifest;
  let bytes: Uint8Array;
  try {
    ({ manifest, bytes } = await fetchPublished(env, version)); // manifest schema, version, sha256 against manifest and registry
  } catch (err) {
    return causeMessage(err);
  }
  const catalogCodebook = await otherCatalogCodebook(env, manifest.codebook?.version);
  if (catalogCodebook !== null) return `codebook ${manifest.codebook?.version ?? "(none)"} does not match the catalog's ${catalogCodebook}`;
  // the optional beta output only when the manifest declares a prior
  const want = servingTensors(manifest.historyLength, manifest.levels, manifest.vocab, Boolean(manifest.prior));
  if (JSON.stringify(want.inputs) !== JSON.stringify(manifest.inputs) || JSON.stringify(want.outputs) !== JSON.stringify(manifest.outputs))
    return "inputs/outputs differ from the serving contract (sids [batch,H,L], length [batch] -> logprobs [batch,L,V], and beta [batch] with a prior)";
  return smokeTest(bytes, manifest);
}

/** The catalog's codebook when a model trained on `codebook` cannot read its SIDs; null when it can (or none is set). */
async function otherCatalogCodebook(env: Stores, codebook: string | undefined): Promise<string | null> {
  const catalog = (await readVersionsNow(env)).codebook;
  return catalog !== null && catalog !== codebook ? catalog : null;
}

/** The batch statements that make `version` (now in status `from`) the active model. */
/** The statements that make `version` (still in status `from`) the active model, storing its gate figures if given. */
function activate(db: Db, version: string, from: Row["status"], gate?: object) {
  return [
    db
      .update(modelVersions)
      .set({ status: "active", reason: null, ...(gate ? { gate } : {}), promotedAt: nowMs, updatedAt: nowMs })
      .where(and(eq(modelVersions.version, version), eq(modelVersions.status, from))),
    setMeta(db, "active_model", version),
  ] as const;
}

/** Canned histories (a cold user, a full one, a short one) run twice: finite, normalised, deterministic, right shape. */
async function smokeTest(bytes: Uint8Array, m: Manifest): Promise<string | null> {
  const { historyLength: H, levels: L, vocab: V } = m;
  const B = 3;
  const sids = new BigInt64Array(B * H * L);
  for (let i = 0; i < H * L; i++) {
    sids[H * L + i] = BigInt((i * 7 + 1) % V);
    sids[2 * H * L + i] = BigInt((i * 3) % V);
  }
  const length = BigInt64Array.from([0n, BigInt(H), BigInt(Math.min(3, H))]);
  let session: ort.InferenceSession;
  try {
    session = await createSession(bytes);
  } catch (err) {
    return `ONNX session could not be created: ${causeMessage(err)}`;
  }
  try {
    const feeds = { sids: new ort.Tensor("int64", sids, [B, H, L]), length: new ort.Tensor("int64", length, [B]) };
    const [first, second] = [await session.run(feeds), await session.run(feeds)];
    const [a, b] = [first.logprobs, second.logprobs];
    if (!a || JSON.stringify(a.dims) !== JSON.stringify([B, L, V]))
      return `smoke inference: logprobs has shape [${a?.dims}], expected [${B},${L},${V}]`;
    if (m.prior) {
      const beta = first.beta;
      if (!beta || JSON.stringify(beta.dims) !== JSON.stringify([B]))
        return `smoke inference: beta has shape [${beta?.dims}], expected [${B}]`;
      if (!(beta.data as Float32Array).every(Number.isFinite)) return "smoke inference: non-finite beta";
    }
    const x = a.data as Float32Array;
    const y = b.data as Float32Array;
    for (let i = 0; i < x.length; i++) {
      if (!Number.isFinite(x[i])) return `smoke inference: non-finite log-prob at index ${i}`;
      if (x[i] !== y[i]) return "smoke inference: two runs on the same input differ";
    }
    for (let row = 0; row < B * L; row++) {
      let sum = 0;
      for (let v = 0; v < V; v++) sum += Math.exp(x[row * V + v]);
      if (Math.abs(sum - 1) > 1e-3) return `smoke inference: probabilities of row ${row} sum to ${sum.toFixed(4)}, not 1`;
    }
    return null;
  } catch (err) {
    return `smoke inference failed: ${causeMessage(err)}`;
  } finally {
    await session.release().catch(() => undefined);
  }
}

/**
 * Validates `version` and, if it passes, makes it the active model in one transaction. Idempotent and safe to run
 * concurrently (Cron is at-least-once): each statement re-checks the state it changes, and the partial UNIQUE index
 * on status='active' refuses two active models whatever happens. This is the by-hand path (no gate, no canary).
 */
export async function promote(env: Stores, version: string, from: ("candidate" | "retired")[] = ["candidate"]): Promise<Outcome> {
  const checked = await checkEligible(env, version, from);
  if ("action" in checked) return checked;
  await activateNow(env, version, checked.status);
  return { action: "promoted", version };
}

/** The row, if `version` is registered, in a status of `from`, and validates; else the outcome that says why not. */
async function checkEligible(env: Stores, version: string, from: Row["status"][]): Promise<Row | Outcome> {
  const db = database(env.DB);
  const [row] = await d1(() => db.select().from(modelVersions).where(eq(modelVersions.version, version)).limit(1));
  if (!row) return { action: "none", reason: `model ${version} is not registered`, missing: true };
  if (row.status === "active") return { action: "promoted", version };
  if (!from.includes(row.status))
    return { action: "none", reason: `model ${version} is ${row.status}; only ${from.join("/")} models can be promoted` };
  const reason = await validate(env, version);
  if (reason !== null) {
    await reject(env, version, row.status, reason);
    return { action: "rejected", version, reason };
  }
  return row;
}

async function reject(env: Stores, version: string, from: Row["status"], reason: string, gate?: object): Promise<void> {
  const db = database(env.DB);
  await d1(() =>
    db
      .update(modelVersions)
      .set({ status: "rejected", reason, ...(gate ? { gate } : {}), updatedAt: nowMs })
      .where(and(eq(modelVersions.version, version), eq(modelVersions.status, from))),
  );
}

async function activateNow(env: Stores, version: string, from: Row["status"], gate?: object): Promise<void> {
  const db = database(env.DB);
  const stillEligible = sql`EXISTS (SELECT 1 FROM ${modelVersions} WHERE ${modelVersions.version} = ${version} AND ${modelVersions.status} = ${from})`;
  await d1(() =>
    db.batch([
      db
        .update(modelVersions)
        .set({ status: "retired", updatedAt: nowMs })
        .where(and(eq(modelVersions.status, "active"), ne(modelVersions.version, version), stillEligible)),
      ...activate(db, version, from, gate),
    ]),
  );
}

/**
 * The cron's path to production, on evidence: a candidate that validates is scored by the replay gate against the
 * active model; failing it rejects the candidate with the figures. Passing (or too few sessions to judge) starts a
 * canary at CANARY_SHARE, or with a share of 0 promotes at once.
 */
export async function promoteOnEvidence(env: Stores & Partial<Bindings>, version: string): Promise<CronOutcome> {
  const checked = await checkEligible(env, version, ["candidate"]);
  if ("action" in checked) return checked;
  const gate = await replayGate(env, version);
  if (gate.decision === "fail") {
    await reject(env, version, "candidate", gate.reason, gate);
    return { action: "rejected", version, reason: gate.reason };
  }
  const { share } = canaryConfig(env);
  if (share === 0) {
    await activateNow(env, version, "candidate", gate);
    return { action: "promoted", version };
  }
  if (await startCanary(env, version, share, "cron", gate))
    return { action: "canary", version, state: "started", reason: `canary on ${share} of units; ${gate.reason}` };
  return { action: "none", reason: `model ${version} did not become the canary (another one started first)` };
}

/**
 * What the Cron Trigger runs: while a canary runs, its verdict (wait, complete, roll back); otherwise the newest
 * candidate through validation, the replay gate and the start of a canary.
 */
export async function promoteNewest(env: Stores & Partial<Bindings>): Promise<CronOutcome> {
  const running = await canaryRow(env);
  if (running) return evaluateCanary(env, running);
  const db = database(env.DB);
  const [newest] = await d1(() =>
    db
      .select({ version: modelVersions.version })
      .from(modelVersions)
      .where(eq(modelVersions.status, "candidate"))
      .orderBy(desc(modelVersions.createdAt), desc(modelVersions.version))
      .limit(1),
  );
  if (!newest) return { action: "none", reason: "no candidate models" };
  return promoteOnEvidence(env, newest.version);
}

/** Admin: start a canary for a validated candidate (no gate), or start a stopped one again. */
export async function startCanaryByHand(env: Stores & Partial<Bindings>, version: string, share?: number): Promise<CronOutcome> {
  const running = await canaryRow(env);
  if (running) {
    if (running.version !== version)
      return { action: "none", reason: `model ${running.version} is the canary: complete it or roll it back first` };
    if ((running.canary as CanaryState | null)?.paused) return resumeCanary(env, running, share);
    return { action: "canary", version, state: "running", reason: "the canary is already running" };
  }
  const checked = await checkEligible(env, version, ["candidate"]);
  if ("action" in checked) return checked;
  const at = share ?? canaryConfig(env).share;
  if (at <= 0) return { action: "none", reason: "a canary needs a share above 0" };
  if (await startCanary(env, version, at, "admin"))
    return { action: "canary", version, state: "started", reason: `started by hand on ${at} of units (no replay gate)` };
  return { action: "none", reason: `model ${version} did not become the canary (another one started first)` };
}

/** Admin: stop (pause), complete or roll back the running canary. */
export async function canaryByHand(env: Stores, action: "stop" | "complete" | "rollback"): Promise<CanaryOutcome> {
  if (action === "stop") return pauseCanary(env);
  const running = await canaryRow(env);
  if (!running) return { action: "none", reason: "no canary is running" };
  return action === "complete"
    ? completeCanary(env, running, "admin", "completed by hand")
    : rollbackCanary(env, running, "admin", "rolled back by hand");
}

/** The reason of every rollback starts with this; a model rolled back from is never restored by a later rollback. */
export const ROLLED_BACK = "rolled back";

/**
 * Puts the previously active model back (the most recently promoted retired one that validates again), or the
 * embedded default when none does. The model rolled back from is retired with `reason` (starting "rolled back"), so
 * the cron never re-promotes it and later rollbacks skip it.
 */
export async function rollback(env: Stores, reason: string = ROLLED_BACK): Promise<Outcome & { from: string | null }> {
  const db = database(env.DB);
  const rows = await d1(() =>
    db
      .select()
      .from(modelVersions)
      .where(sql`${modelVersions.status} IN ('active', 'retired') AND ${modelVersions.promotedAt} IS NOT NULL`)
      .orderBy(desc(modelVersions.promotedAt)),
  );
  const current = rows.find((r) => r.status === "active");
  if (!current) return { action: "none", reason: "no published model is active (the embedded default is serving)", from: null };
  const markRolledBack = db
    .update(modelVersions)
    .set({ status: "retired", reason, updatedAt: nowMs })
    .where(and(eq(modelVersions.version, current.version), eq(modelVersions.status, "active")));
  const refused: string[] = [];
  for (const previous of rows.filter((r) => r.status === "retired" && !r.reason?.startsWith(ROLLED_BACK))) {
    const invalid = await validate(env, previous.version);
    if (invalid !== null) {
      refused.push(`${previous.version}: ${invalid}`);
      continue;
    }
    await d1(() => db.batch([markRolledBack, ...activate(db, previous.version, "retired")]));
    return { action: "promoted", version: previous.version, from: current.version };
  }
  // the embedded default reads SIDs of the embedded codebook only
  const catalogCodebook = await otherCatalogCodebook(env, embeddedCodebookVersion());
  if (catalogCodebook !== null) {
    const why = `the embedded default was trained on codebook ${embeddedCodebookVersion()}, the catalog is on ${catalogCodebook}`;
    return {
      action: "rejected",
      version: "embedded",
      reason: refused.length > 0 ? `previous models are not servable (${refused.join("; ")}); ${why}` : why,
      from: current.version,
    };
  }
  await d1(() => db.batch([markRolledBack, deleteMeta(db, "active_model")]));
  return { action: "promoted", version: "embedded", from: current.version };
}

/**
 * What the cron checks before promoting: the active model's bytes in R2 still verify (sha256 against manifest and
 * registry). If they do not, it rolls back (to the last good version, or the embedded default) and records why in the
 * retired row's reason, so serving heals without anyone rolling back by hand.
 */
export async function healActive(env: Stores): Promise<(Outcome & { from?: string | null }) | null> {
  const active = (await readVersionsNow(env)).activeModel;
  if (active === null) return null;
  try {
    await fetchPublished(env, active);
    return null;
  } catch (err) {
    if (!(err instanceof ModelUnavailable)) throw err; // D1 or R2 failing now is no verdict on the bytes
    return rollback(env, `${ROLLED_BACK}: the active model failed verification: ${causeMessage(err)}`);
  }
}

/** The registry, newest first, each row with its gate figures, its canary state and a sentence on where it stands. */
export async function listModels(env: Stores) {
  const db = database(env.DB);
  const rows = await d1(() =>
    db
      .select({
        version: modelVersions.version,
        status: modelVersions.status,
        reason: modelVersions.reason,
        codebookVersion: modelVersions.codebookVersion,
        createdAt: modelVersions.createdAt,
        promotedAt: modelVersions.promotedAt,
        gate: modelVersions.gate,
        canary: modelVersions.canary,
      })
      .from(modelVersions)
      .orderBy(desc(modelVersions.createdAt)),
  );
  return rows.map((r) => ({ ...r, decision: decisionOf(r) }));
}

function decisionOf(r: { status: Row["status"]; reason: string | null; gate: object | null; canary: object | null }): string {
  const gate = (r.gate as { reason?: string } | null)?.reason;
  const canary = r.canary as CanaryState | null;
  switch (r.status) {
    case "candidate":
      return "waits for the cron: validation, the replay gate against the active model on logged sessions, then a canary";
    case "canary": {
      if (canary?.paused) return "canary stopped by hand: serving nobody until started again";
      const f = canary?.figures;
      const arms = f
        ? `; so far ${f.canary.clicks}/${f.canary.impressions} clicks vs the active model's ${f.active.clicks}/${f.active.impressions}`
        : "";
      return `canary on ${canary?.share} of units since ${new Date(canary?.startedAt ?? 0).toISOString()}${arms}${gate ? `; gate: ${gate}` : ""}`;
    }
    case "active":
      return [r.reason ?? "promoted", gate && !r.reason?.includes(gate) ? `gate: ${gate}` : null].filter(Boolean).join("; ");
    case "rejected":
      return r.reason ?? "rejected";
    case "retired":
      return r.reason ?? "retired: a newer model was promoted";
  }
}
