// The codebook the catalog is encoded with (and the item encoder that turns a new item's content into features in that
// codebook's space) (meta.codebook_version): the embedded default's, or one published to R2
// under codebooks/<version>.json. Cached per isolate; content-hash checked on load (codebookFromJson).
import type { Stores } from "./bindings";
import { codebookFromJson, type Codebook } from "../core/codebook";
import { itemEncoderFromJson, type ItemEncoder } from "../core/item-encoder";
import embeddedCodebook from "../model/default/codebook.json";
import embeddedEncoder from "../model/default/item-encoder.json";
import { ApiError } from "./errors";
import { IsolateCache } from "./isolate-cache";

const codebooks = new IsolateCache<Codebook>();
let embedded: Codebook | undefined;

export function embeddedCodebookVersion(): string {
  embedded ??= codebookFromJson(embeddedCodebook);
  return embedded.version;
}

export function codebookKey(version: string): string {
  return `codebooks/${version}.json`;
}

/** The codebook for `version` (null: the catalog has none yet, so the embedded default applies). */
export function loadCodebook(env: Stores, version: string | null): Promise<Codebook> {
  const v = version ?? embeddedCodebookVersion();
  return codebooks.get(v, async () => {
    if (v === embeddedCodebookVersion()) return embedded!;
    const object = await env.MODELS.get(codebookKey(v));
    if (!object) throw new ApiError(503, "codebook_unavailable", `codebook ${v} is not in R2 (${codebookKey(v)})`);
    return codebookFromJson(await object.text());
  });
}

export function itemEncoderKey(codebookVersion: string): string {
  return `item-encoders/${codebookVersion}.json`;
}

const encoders = new IsolateCache<ItemEncoder | null>();

/** The item encoder published beside codebook `codebookVersion` (null: none, so PUT /v1/items needs features). */
export function loadItemEncoder(env: Stores, codebookVersion: string): Promise<ItemEncoder | null> {
  return encoders.get(codebookVersion, async () => {
    if (codebookVersion === embeddedCodebookVersion()) return itemEncoderFromJson(embeddedEncoder);
    const object = await env.MODELS.get(itemEncoderKey(codebookVersion));
    return object ? itemEncoderFromJson(await object.text()) : null;
  });
}
