// manifest.json: the description that travels beside every exported HPN. One schema, validated by the exporter
// (scripts/export) when writing and by the Worker when loading a model. Pure TS + zod: runs in workerd.
import { z } from "zod";
import { sha256Hex } from "./sha256";
import type { PopularityStats } from "./popularity-prior";

export const MANIFEST_FORMAT = "hsrl-manifest/1";

const dim = z.union([z.number().int().positive(), z.literal("batch")]);
export const tensorSpecSchema = z.object({
  name: z.string().min(1),
  dtype: z.enum(["int64", "float32"]),
  shape: z.array(dim).min(1),
});

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex chars (sha256)");
export const modelFileSchema = z.object({
  path: z.string().min(1), // relative to the manifest's directory
  sha256: hex64,
  bytes: z.number().int().positive(),
});

export const manifestSchema = z
  .object({
    format: z.literal(MANIFEST_FORMAT),
    version: z.string().regex(/^[0-9a-f]{16}$/, "must be 16 lowercase hex chars"),
    created_at: z.iso.datetime(),
    levels: z.number().int().positive(), // L
    vocab: z.number().int().positive(), // V
    historyLength: z.number().int().positive(), // H
    dModel: z.number().int().positive(),
    featureDim: z.number().int().positive().nullable(), // length of the item vectors the codebook encodes (null: no codebook)
    hpn: z.object({
      heads: z.number().int().positive(),
      layers: z.number().int().positive(),
      ff: z.number().int().positive(),
      tau: z.number().positive(),
      residual: z.boolean(),
    }),
    inputs: z.array(tensorSpecSchema).min(1),
    outputs: z.array(tensorSpecSchema).min(1),
    quantization: z.enum(["int8", "fp32"]), // of the serving file
    serving: z.string().min(1), // path of the file to serve (= files[quantization].path)
    files: z.object({ fp32: modelFileSchema, int8: modelFileSchema }),
    codebook: z.object({ version: z.string().min(1), path: z.string().optional() }).nullable(),
    // The learned popularity prior (core/popularity-prior.ts): the graph's extra output β(s) [batch], and the catalog's
    // statistics g(pop) is standardised with. Absent or null: the model scores by its SIDs alone (older manifests).
    prior: z
      .object({ output: z.literal("beta"), mean: z.number(), sd: z.number().positive() })
      .nullable()
      .optional(),
    training: z.looseObject({ dataset: z.string(), seed: z.number().int() }),
    evaluation: z.record(z.string(), z.unknown()),
  })
  .superRefine((m, ctx) => {
    if (m.serving !== m.files[m.quantization].path)
      ctx.addIssue({
        code: "custom",
        path: ["serving"],
        message: `must equal files.${m.quantization}.path ("${m.files[m.quantization].path}")`,
      });
    if (m.codebook === null && m.featureDim !== null)
      ctx.addIssue({ code: "custom", path: ["featureDim"], message: "must be null when there is no codebook" });
    const sids = m.inputs.find((t) => t.name === "sids");
    if (sids && (sids.shape[1] !== m.historyLength || sids.shape[2] !== m.levels))
      ctx.addIssue({ code: "custom", path: ["inputs"], message: `sids shape must be [batch, ${m.historyLength}, ${m.levels}]` });
    const out = m.outputs.find((t) => t.name === "logprobs");
    if (out && (out.shape[1] !== m.levels || out.shape[2] !== m.vocab))
      ctx.addIssue({ code: "custom", path: ["outputs"], message: `logprobs shape must be [batch, ${m.levels}, ${m.vocab}]` });
    if (Boolean(m.prior) !== m.outputs.some((t) => t.name === "beta"))
      ctx.addIssue({ code: "custom", path: ["outputs"], message: "a beta output needs a prior, and a prior needs a beta output" });
  });

export type Manifest = z.infer<typeof manifestSchema>;
export type TensorSpec = z.infer<typeof tensorSpecSchema>;

/** The ONNX serving contract's tensors for given H, L, V; a model with a popularity prior adds β(s) as "beta". */
export function servingTensors(H: number, L: number, V: number, prior = false): { inputs: TensorSpec[]; outputs: TensorSpec[] } {
  return {
    inputs: [
      { name: "sids", dtype: "int64", shape: ["batch", H, L] },
      { name: "length", dtype: "int64", shape: ["batch"] },
    ],
    outputs: [
      { name: "logprobs", dtype: "float32", shape: ["batch", L, V] },
      ...(prior ? [{ name: "beta", dtype: "float32" as const, shape: ["batch" as const] }] : []),
    ],
  };
}

/** The popularity statistics of a manifest's prior (the Worker's and `hsrl catalog`'s g), or null without one. */
export const manifestPriorStats = (m: Pick<Manifest, "prior">): PopularityStats | null =>
  m.prior ? { mean: m.prior.mean, sd: m.prior.sd } : null;

/** Parses and validates; throws one line naming the first problem (prefixed by `where`, e.g. a file path). */
export function parseManifest(json: unknown, where = "manifest.json"): Manifest {
  const r = manifestSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Error(`${where}: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  return r.data;
}

/**
 * version = sha256 over the model files' bytes (in the order given: fp32 then int8) and the model config JSON, first 16
 * hex chars. Any change to weights, quantization or config gives a new version.
 */
export function manifestVersion(modelBytes: Uint8Array[], config: Record<string, unknown>): string {
  const cfg = new TextEncoder().encode(canonicalJson(config));
  let n = cfg.length;
  for (const b of modelBytes) n += b.length;
  const all = new Uint8Array(n);
  let off = 0;
  for (const b of modelBytes) {
    all.set(b, off);
    off += b.length;
  }
  all.set(cfg, off);
  return sha256Hex(all).slice(0, 16);
}

/** JSON with sorted object keys, so the hash does not depend on key order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v && typeof v === "object")
    return `{${Object.keys(v as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(v);
}
