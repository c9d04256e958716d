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
import { d1Query, r2Put, sqlString, type Target } from "./wrangler";

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
  if (o.dryRun) {
    step(`model ${manifest.version} checked; nothing uploaded, registered or written`);
    return { version: manifest.version, target, r2Key: prefix, catalog, dryRun: true };
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
  return { version: manifest.version, target, status: row?.status, r2Key: prefix, catalog };
}
