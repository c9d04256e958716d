// The codebook the catalog is encoded with (and the item encoder that turns a new item's content into features in that
// codebook's space) (meta.codebook_version): the embedded default's, or one published to R2
// under codebooks/<version>.json. Cached per isolate; content-hash checked on load (codebookFromJson).
import { codebookFromJson, type Codebook } from "../core/codebook";
import { itemEncoderFromJson, type ItemEncoder } from "../core/item-encoder";
import embeddedCodebook from "../model/default/codebook.json";
import embeddedEncoder from "../model/default/item-encoder.json";
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

export function itemEncoderKey(codebookVersion: string): string {
  return `item-encoders/${codebookVersion}.json`;
}

let cachedEncoder: { version: string; encoder: Promise<ItemEncoder | null> } | undefined;

/** The item encoder published with `codebookVersion` (the embedded one for the embedded codebook); null if none. */
export function loadItemEncoder(env: Cloudflare.Env, codebookVersion: string): Promise<ItemEncoder | null> {
  if (cachedEncoder?.version !== codebookVersion) {
    const encoder = (async () => {
      if (codebookVersion === embeddedCodebookVersion()) return itemEncoderFromJson(embeddedEncoder);
      const object = await env.MODELS.get(itemEncoderKey(codebookVersion));
      return object ? itemEncoderFromJson(await object.text()) : null;
    })().catch((err) => {
      cachedEncoder = undefined;
      throw err;
    });
    cachedEncoder = { version: codebookVersion, encoder };
  }
  return cachedEncoder.encoder;
}
