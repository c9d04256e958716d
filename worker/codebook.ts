// The codebook the catalog is encoded with (meta.codebook_version): the embedded default's, or one published to R2
// under codebooks/<version>.json. Cached per isolate; content-hash checked on load (codebookFromJson).
import { codebookFromJson, type Codebook } from "../core/codebook";
import embeddedCodebook from "../model/default/codebook.json";
import { ApiError } from "./errors";

let cached: { version: string; codebook: Promise<Codebook> } | undefined;
let embedded: Codebook | undefined;

export function embeddedCodebookVersion(): string {
  embedded ??= codebookFromJson(embeddedCodebook);
  return embedded.version;
}

export function codebookKey(version: string): string {
  return `codebooks/${version}.json`;
}

/** The codebook for `version` (null: the catalog has none yet, so the embedded default applies). */
export function loadCodebook(env: Cloudflare.Env, version: string | null): Promise<Codebook> {
  const v = version ?? embeddedCodebookVersion();
  if (cached?.version !== v) {
    const codebook = (async () => {
      if (v === embeddedCodebookVersion()) return embedded!;
      const object = await env.MODELS.get(codebookKey(v));
      if (!object) throw new ApiError(503, "codebook_unavailable", `codebook ${v} is not in R2 (${codebookKey(v)})`);
      return codebookFromJson(await object.text());
    })().catch((err) => {
      cached = undefined;
      throw err;
    });
    cached = { version: v, codebook };
  }
  return cached.codebook;
}
