// The serving model, cached per isolate and created lazily on first use (never at start-up: the limit is 1 s).
import defaultManifest from "../model/manifest.json";
import defaultModel from "../model/default.onnx";
import { createSession, type ort } from "./onnx";

export interface LoadedModel {
  version: string;
  kind: string;
  source: "embedded" | "r2";
  session: ort.InferenceSession;
}

let current: Promise<LoadedModel> | undefined;

/** The active model; the embedded default until a published model is promoted. */
export function activeModel(): Promise<LoadedModel> {
  current ??= createSession(defaultModel)
    .then((session) => ({ version: defaultManifest.version, kind: defaultManifest.kind, source: "embedded" as const, session }))
    .catch((err) => {
      current = undefined; // retry on the next request instead of caching the failure
      throw err;
    });
  return current;
}
