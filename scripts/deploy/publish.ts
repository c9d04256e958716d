// Publishing an exported model directory: R2 (model file, manifest, codebook, item encoder) + a `candidate` row in
// D1, and the SID table (merged: deploy/catalog.ts) when the catalog is on another codebook. The Worker's cron then
// validates and promotes it.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { codebookFromJson } from "../../core/codebook";
import { encoderOutputDim, itemEncoderFromJson } from "../../core/item-encoder";
import { parseManifest } from "../../core/manifest";
import { sha256Hex } from "../../core/sha256";
import { type CatalogLoadResult, loadCatalog } from "./catalog";
import { canaryConfigOf, gateConfigOf, HELDOUT_FILE, parseHeldOut, type PromotionVars } from "../../core/promotion";
import { d1Query, r2Put, ROOT, sqlString, type Target } from "./wrangler";

export interface PublishOptions {
  model: string; // directory written by `hsrl export`
  sids?: string; // codebook.json + sid-table.sql (default: the model dir, else its sibling sids/)
  catalog?: boolean; // load the SID table even when the catalog is already on this codebook
  replace?: boolean; // the SID table load retires active items it does not list
  dryRun?: boolean; // check everything and report the catalog counts; upload, register and write nothing
  target: Target;
  log?: (line: string) => void;
}

export interface PublishResult {
  version: string;
  target: Target;
  status?: string;
  r2Key: string;
  catalog?: CatalogLoadResult; // when the SID table was loaded (or, in a dry run, would be)
  dryRun?: boolean;
  gate?: GatePreview;
}

/** What the cron will weigh the candidate on, from wrangler.toml's [vars] and the target's logged events now. */
export interface GatePreview {
  active: string; // the version it is compared with ("embedded" for the embedded default)
  canaryRunning: string | null; // a running canary: the candidate waits until it is completed or rolled back
  loggedSessions: number; // users with two or more clicks in the gate's window
  heldOutExamples: number; // in the model's heldout.json: the gate's fallback while few sessions are logged
  attributedSlates: number; // impressions sent back with a served request id (the IPS/SNIPS estimate's slates)
  gate: ReturnType<typeof gateConfigOf>;
  canary: ReturnType<typeof canaryConfigOf>;
  summary: string[];
}

export function publishModel(o: PublishOptions): PublishResult {
  const { target, model: dir } = o;
  const step = (msg: string) => (o.log ?? console.error)(`publish (${target}${o.dryRun ? ", dry run" : ""}): ${msg}`);
  const put = (key: string, file: string, type: string) => (o.dryRun ? undefined : r2Put(target, key, file, type));
  const sidsDir = o.sids ?? (existsSync(join(dir, "codebook.json")) ? dir : join(dir, "..", "sids"));
  const manifestPath = join(dir, "manifest.json");
  if (!existsSync(manifestPath)) throw new Error(`${manifestPath} not found: --model must be a directory written by \`hsrl export\``);
  const manifest = parseManifest(JSON.parse(readFileSync(manifestPath, "utf8")), manifestPath);
  const servingPath = join(dir, manifest.serving);
  if (!existsSync(servingPath)) throw new Error(`${servingPath} not found (named by manifest.serving)`);
  const sha = sha256Hex(readFileSync(servingPath));
  const want = manifest.files[manifest.quantization].sha256;
  if (sha !== want) throw new Error(`${servingPath}: sha256 ${sha} does not match the manifest's ${want}`);

  const prefix = `models/${manifest.version}/`;
  if (manifest.codebook) {
    const codebookPath = join(sidsDir, "codebook.json");
    if (!existsSync(codebookPath)) throw new Error(`${codebookPath} not found: the manifest names codebook ${manifest.codebook.version}`);
    const codebook = codebookFromJson(readFileSync(codebookPath, "utf8"));
    if (codebook.version !== manifest.codebook.version)
      throw new Error(`${codebookPath} is codebook ${codebook.version}, the manifest names ${manifest.codebook.version}`);
    step(`codebook ${codebook.version} -> codebooks/${codebook.version}.json`);
    put(`codebooks/${codebook.version}.json`, codebookPath, "application/json");
    // The item encoder lets the Worker derive a new item's features from its content (PUT /v1/items without features).
    const encoderPath = join(sidsDir, "item-encoder.json");
    if (existsSync(encoderPath)) {
      const encoder = itemEncoderFromJson(readFileSync(encoderPath, "utf8")); // refuse a corrupted file here, not at the edge
      if (encoderOutputDim(encoder) !== codebook.dim)
        throw new Error(
          `${encoderPath} makes ${encoderOutputDim(encoder)}-d vectors, codebook ${codebook.version} encodes ${codebook.dim}`,
        );
      step(`item encoder -> item-encoders/${codebook.version}.json`);
      put(`item-encoders/${codebook.version}.json`, encoderPath, "application/json");
    }
  }
  step(`${manifest.serving} (${manifest.quantization}) -> ${prefix}`);
  put(`${prefix}${manifest.serving}`, servingPath, "application/octet-stream");
  // The held-out examples the replay gate falls back on while few sessions are logged (written by `hsrl export`).
  if (existsSync(join(dir, HELDOUT_FILE))) {
    if (!parseHeldOut(JSON.parse(readFileSync(join(dir, HELDOUT_FILE), "utf8"))))
      throw new Error(`${join(dir, HELDOUT_FILE)} is not a held-out set (format hsrl-heldout/1)`);
    step(`${HELDOUT_FILE} -> ${prefix}`);
    put(`${prefix}${HELDOUT_FILE}`, join(dir, HELDOUT_FILE), "application/json");
  }
  put(`${prefix}manifest.json`, manifestPath, "application/json");

  const [current] = d1Query<{ value: string }>(target, "SELECT value FROM meta WHERE key = 'codebook_version'");
  const sidTable = join(sidsDir, "sid-table.sql");
  let catalog: CatalogLoadResult | undefined;
  if (manifest.codebook && (o.catalog || o.replace || current?.value !== manifest.codebook.version)) {
    if (!existsSync(sidTable))
      throw new Error(
        `${sidTable} not found: the catalog is on codebook ${current?.value ?? "(none)"}, the model on ${manifest.codebook.version}`,
      );
    step(
      `catalog ${current?.value ?? "(empty)"} -> SID table of codebook ${manifest.codebook.version} (merge${o.replace ? ", --replace" : ""})`,
    );
    catalog = loadCatalog({ sids: sidsDir, target, replace: o.replace, dryRun: o.dryRun, log: o.log });
  }
  const heldOutPath = join(dir, HELDOUT_FILE);
  const heldOut = existsSync(heldOutPath) ? (parseHeldOut(JSON.parse(readFileSync(heldOutPath, "utf8")))?.examples.length ?? 0) : 0;
  const gate = gatePreview(target, promotionVars(), heldOut);
  for (const line of gate.summary) step(line);
  if (o.dryRun) {
    step(`model ${manifest.version} checked; nothing uploaded, registered or written`);
    return { version: manifest.version, target, r2Key: prefix, catalog, dryRun: true, gate };
  }
  // One wrangler call: the upsert, then the version's status (d1Query returns the last statement's rows).
  const [row] = d1Query<{ status: string }>(
    target,
    `INSERT INTO model_versions (version, r2_key, sha256, codebook_version, status, manifest) VALUES ` +
      `(${sqlString(manifest.version)}, ${sqlString(prefix)}, ${sqlString(sha)}, ${sqlString(manifest.codebook?.version ?? "")}, ` +
      `'candidate', ${sqlString(JSON.stringify(manifest))}) ` +
      // Publishing a rejected version again asks for another validation (its rejection may have been transient, e.g.
      // the catalog was on another codebook); an active, candidate or retired version is left as it is.
      `ON CONFLICT(version) DO UPDATE SET status = 'candidate', reason = NULL WHERE model_versions.status = 'rejected'; ` +
      `SELECT status FROM model_versions WHERE version = ${sqlString(manifest.version)}`,
  );
  step(`model ${manifest.version} registered (status: ${row?.status}); the cron validates and promotes candidates`);
  return { version: manifest.version, target, status: row?.status, r2Key: prefix, catalog, gate };
}

/** The promotion [vars] in wrangler.toml (a deployed Worker's vars are the ones it was deployed with). */
export function promotionVars(toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8")): PromotionVars {
  const vars: Record<string, string> = {};
  for (const m of toml.matchAll(/^\s*((?:GATE|CANARY)_[A-Z_]+)\s*=\s*"([^"]*)"/gm)) vars[m[1]] = m[2];
  return vars;
}

export function gatePreview(target: Target, vars = promotionVars(), heldOutExamples = 0): GatePreview {
  const gate = gateConfigOf(vars);
  const canary = canaryConfigOf(vars);
  const since = Date.now() - gate.windowDays * 86_400_000;
  const [now] = d1Query<{ active: string | null; canary: string | null; sessions: number; slates: number }>(
    target,
    `SELECT (SELECT value FROM meta WHERE key = 'active_model') AS active, (SELECT value FROM meta WHERE key = 'canary') AS canary, ` +
      `(SELECT count(*) FROM (SELECT user_id FROM events WHERE type = 'click' AND ts >= ${since} GROUP BY user_id HAVING count(*) >= 2)) AS sessions, ` +
      `(SELECT count(DISTINCT request_id) FROM events WHERE type = 'impression' AND model_version IS NOT NULL AND ts >= ${since}) AS slates`,
  );
  const active = now?.active ?? "embedded";
  let canaryRunning: string | null = null;
  try {
    canaryRunning = now?.canary ? (JSON.parse(now.canary) as { version: string }).version : null;
  } catch {
    canaryRunning = null;
  }
  const sessions = now?.sessions ?? 0;
  const sample = Math.min(sessions, gate.maxSessions);
  const summary = [
    `gate: the cron validates the candidate (sha256, manifest, codebook, tensors, smoke inference), then replays it against the active model ${active}`,
    sessions >= gate.minSessions
      ? `gate: on ${sample} of the ${sessions} logged sessions of the last ${gate.windowDays} days: NDCG@10 and Recall@10 of each next click; ` +
        `rejected if the 95% bootstrap lower bound of the NDCG@10 difference is below -${gate.margin} x the active model's`
      : heldOutExamples >= gate.minSessions
        ? `gate: only ${sessions} logged sessions in the last ${gate.windowDays} days (it needs ${gate.minSessions}): the replay scores ` +
          `up to ${gate.maxSessions} of the ${heldOutExamples} held-out examples shipped with the model (${HELDOUT_FILE}) instead`
        : `gate: only ${sessions} logged sessions in the last ${gate.windowDays} days (it needs ${gate.minSessions}) and ` +
          `${heldOutExamples} held-out examples shipped with the model: the replay is skipped, validation decides`,
    `gate: clipped-IPS/SNIPS click rate on ${now?.slates ?? 0} logged slates with request ids (diagnostic, not a criterion)`,
    canary.share > 0
      ? `canary: then ${canary.share} of users until each arm has ${canary.minImpressions} impressions; rolled back if its click-through is ` +
        `below the active model's by more than ${canary.ctrMargin} of it`
      : "canary: CANARY_SHARE is 0: a candidate that passes is promoted at once",
  ];
  if (canaryRunning) summary.push(`canary: ${canaryRunning} is running now; this candidate waits until it is completed or rolled back`);
  return { active, canaryRunning, loggedSessions: sessions, heldOutExamples, attributedSlates: now?.slates ?? 0, gate, canary, summary };
}
