// onnxruntime-web in Node (the package root resolves to its Node build), single thread like the Worker.
import * as ort from "onnxruntime-web";

let configured = false;

export async function ortSession(bytes: Uint8Array): Promise<ort.InferenceSession> {
  if (!configured) {
    ort.env.wasm.numThreads = 1;
    ort.env.logLevel = "error";
    configured = true;
  }
  // "all" is what the Worker uses; ort-web does not fuse DequantizeLinear into MatMul, so int8 stays exact-ish.
  return ort.InferenceSession.create(bytes, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
}

/** One session.run on a batch: sids int32 [B*H*L], length int32 [B] -> logprobs float32 [B*L*V]. */
export async function runHpnOnnx(
  session: ort.InferenceSession,
  sids: Int32Array,
  length: Int32Array,
  H: number,
  L: number,
): Promise<Float32Array> {
  return (await runHpnOnnxOutputs(session, sids, length, H, L)).logProbs;
}

/** The same run with β [B] too, for a model with a popularity prior (null without one). */
export async function runHpnOnnxOutputs(
  session: ort.InferenceSession,
  sids: Int32Array,
  length: Int32Array,
  H: number,
  L: number,
): Promise<{ logProbs: Float32Array; beta: Float32Array | null }> {
  const B = length.length;
  const feeds = {
    sids: new ort.Tensor(
      "int64",
      BigInt64Array.from(sids, (v) => BigInt(v)),
      [B, H, L],
    ),
    length: new ort.Tensor(
      "int64",
      BigInt64Array.from(length, (v) => BigInt(v)),
      [B],
    ),
  };
  const out = await session.run(feeds);
  const t = out.logprobs;
  const data = t.data as Float32Array;
  t.dispose();
  const beta = out.beta ? (out.beta.data as Float32Array) : null;
  out.beta?.dispose();
  return { logProbs: data, beta };
}

export { ort };
