// A pool worker: runs kernels over row ranges of shared buffers (see pool.ts).
import { parentPort } from "node:worker_threads";
import { distanceBlock, encodeBlock } from "./kernels";
import type { PoolTask } from "./pool";

parentPort!.on("message", (t: PoolTask) => {
  const x = new Float32Array(t.x);
  const c = new Float32Array(t.c);
  if (t.kind === "distance") distanceBlock(x, t.d, t.start, t.end, c, t.v, new Float32Array(t.out));
  else encodeBlock(x, t.d, t.start, t.end, c, t.v, new Int32Array(t.out), t.levels, t.level);
  parentPort!.postMessage(t.id);
});
