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
  return data;
}

export { ort };
