// `npm start`: the embedded default, served locally on http://127.0.0.1:8787 by wrangler dev (miniflare/workerd).
// Prepares the local state first: an admin token and a user-token secret in .dev.vars, D1 migrated, and the embedded
// SID table merged in when the local catalog is not on the embedded codebook yet, unless a published model is active
// (`hsrl publish --local` put its catalog there; re-encoding it would hand that model SIDs of another codebook).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { codebookFromJson } from "../core/codebook";
import { manifestPriorStats, parseManifest } from "../core/manifest";
import { loadCatalog } from "./deploy/catalog";
import { d1Migrate, d1Query, persistArgs, ROOT } from "./deploy/wrangler";

const say = (msg: string) => console.error(`start: ${msg}`);

const devVars = join(ROOT, ".dev.vars");
const vars = existsSync(devVars) ? readFileSync(devVars, "utf8") : "";
const secrets = [
  ["ADMIN_TOKEN", "admin routes need it as a Bearer token"],
  ["USER_TOKEN_SECRET", "it signs the user tokens POST /v1/tokens issues"],
].filter(([name]) => !new RegExp(`^${name}=`, "m").test(vars));
if (secrets.length > 0) {
  const lines = secrets.map(([name]) => `${name}=${randomBytes(24).toString("hex")}\n`).join("");
  writeFileSync(devVars, `${vars}${vars === "" || vars.endsWith("\n") ? "" : "\n"}${lines}`, { mode: 0o600 });
  for (const [name, why] of secrets) say(`wrote a random ${name} to .dev.vars (${why})`);
}

say("applying D1 migrations to the local database");
d1Migrate("local");

const sidTable = join(ROOT, "model", "default", "sid-table.sql");
const codebook = codebookFromJson(readFileSync(join(ROOT, "model", "default", "codebook.json"), "utf8"));
const [current] = d1Query<{ value: string }>("local", "SELECT value FROM meta WHERE key = 'codebook_version'");
// the embedded model's popularity statistics: a catalog on its codebook but with other (or no) priors loads again
const embeddedPrior = manifestPriorStats(parseManifest(JSON.parse(readFileSync(join(ROOT, "model", "default", "manifest.json"), "utf8"))));
const [priorStats] = d1Query<{ value: string }>("local", "SELECT value FROM meta WHERE key = 'popularity_stats'");
const stored = (() => {
  try {
    return priorStats ? (JSON.parse(priorStats.value) as { mean?: unknown; sd?: unknown }) : null;
  } catch {
    return null; // unreadable: load again
  }
})();
// compared as numbers: the same statistics written with other key order or formatting are still current
const priorsCurrent = embeddedPrior === null || (stored?.mean === embeddedPrior.mean && stored?.sd === embeddedPrior.sd);
const [active] = d1Query<{ version: string; codebook_version: string }>(
  "local",
  "SELECT version, codebook_version FROM model_versions WHERE status = 'active'",
);
if (active) {
  say(`published model ${active.version} is active: keeping the local catalog (codebook ${current?.value ?? "none"})`);
  if (active.codebook_version !== current?.value)
    say(`warning: that model was trained on codebook ${active.codebook_version}; publish its SID table again`);
} else if (current?.value === codebook.version && priorsCurrent) {
  say(`local catalog already on the embedded codebook ${codebook.version}`);
} else if (existsSync(sidTable)) {
  // A merge: items added through the API are kept (re-encoded from their features), DELETE-retired ones stay retired.
  say(`loading the embedded catalog (model/default/sid-table.sql, codebook ${codebook.version}) as a merge`);
  loadCatalog({ sids: join(ROOT, "model", "default"), target: "local", log: (line) => say(line) });
} else {
  say("model/default/sid-table.sql is missing: starting with an empty catalog");
}

const dev = spawn(
  join(ROOT, "node_modules", ".bin", "wrangler"),
  ["dev", "--ip", "127.0.0.1", "--port", process.env.PORT ?? "8787", ...persistArgs(), ...process.argv.slice(2)],
  {
    cwd: ROOT,
    stdio: "inherit",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  },
);
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code) => process.exit(code ?? 0));
