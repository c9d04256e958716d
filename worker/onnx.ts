// onnxruntime-web inside workerd.
//
// Two Workers rules shape this module:
// 1. WebAssembly can only be instantiated from a precompiled module: wrangler's CompiledWasm rule hands us
//    ort-wasm-simd-threaded.wasm as a WebAssembly.Module (compiling bytes at run time is refused).
// 2. ORT's Emscripten glue accepts only bytes (env.wasm.wasmBinary) and calls WebAssembly.instantiate(bytes, imports).
// So we give ORT a small sentinel as its "binary" and, only while ORT initialises, route the one instantiate call that
// carries the sentinel to the precompiled module. Every other call goes to the real WebAssembly.instantiate, and the
// original function is put back as soon as initialisation settles.
import * as ort from "onnxruntime-web/wasm";
// A relative path: wrangler's module collector does not resolve package specifiers for .wasm imports.
import ortWasm from "../node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm";
import { timedOnce } from "./cold-timing";

const SENTINEL = new TextEncoder().encode("hsrl-edge:precompiled-ort-wasm");

let initialised: Promise<void> | undefined;

/**
 * Creates an inference session from model bytes. The first call also initialises ORT's wasm backend (single thread,
 * no proxy worker) with the precompiled module; concurrent callers wait for that first call to settle.
 */
export async function createSession(bytes: ArrayBuffer | Uint8Array): Promise<ort.InferenceSession> {
  const create = () =>
    ort.InferenceSession.create(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), {
      executionProviders: ["wasm"],
      // The HPN is a handful of small ops: graph optimisation buys no warm run time worth having, while running the
      // optimisers cost a cold isolate ~10% of its ORT CPU in workerd (a third in Node); docs/ARCHITECTURE.md.
      graphOptimizationLevel: "disabled",
    });
  if (initialised) {
    await initialised;
    return timedOnce("ort-session", create);
  }
  let settle!: () => void;
  initialised = new Promise((resolve) => (settle = resolve));
  ort.env.wasm.numThreads = 1; // workerd gives Emscripten no threads
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmBinary = SENTINEL;
  ort.env.logLevel = "error";
  const original = WebAssembly.instantiate;
  WebAssembly.instantiate = routed(original) as typeof WebAssembly.instantiate;
  try {
    return await timedOnce("ort-init", create); // the wasm instantiation, ORT's runtime and the first session
  } finally {
    WebAssembly.instantiate = original;
    settle();
  }
}

function routed(original: typeof WebAssembly.instantiate) {
  return (source: unknown, imports?: WebAssembly.Imports): Promise<unknown> => {
    if (isSentinel(source)) {
      return timedOnce("ort-instantiate", () => original(ortWasm, imports)).then((instance) => ({ instance, module: ortWasm }));
    }
    return (original as (s: unknown, i?: WebAssembly.Imports) => Promise<unknown>)(source, imports);
  };
}

function isSentinel(source: unknown): boolean {
  if (!(source instanceof Uint8Array) && !(source instanceof ArrayBuffer)) return false;
  const bytes = source instanceof Uint8Array ? source : new Uint8Array(source);
  return bytes.length === SENTINEL.length && bytes.every((b, i) => b === SENTINEL[i]);
}

export { ort };
