// One place that picks the tfjs backend for Node: the wasm backend (about 7x the pure-JS CPU backend here).
// Single thread by default: the machine has 2 cores shared by several jobs, and the threaded build needs workers.
import * as tf from "@tensorflow/tfjs";
import { setThreadsCount } from "@tensorflow/tfjs-backend-wasm";

let ready: Promise<string> | undefined;

/** Sets up the tfjs wasm backend once (idempotent); resolves to the active backend name. */
export function initBackend(opts: { threads?: number; backend?: "wasm" | "cpu" } = {}): Promise<string> {
  ready ??= (async () => {
    const backend = opts.backend ?? "wasm";
    if (backend === "wasm") setThreadsCount(opts.threads ?? 1);
    const ok = await tf.setBackend(backend);
    if (!ok) throw new Error(`tfjs backend "${backend}" failed to initialise`);
    await tf.ready();
    return tf.getBackend();
  })();
  return ready;
}

export { tf };
