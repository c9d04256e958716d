// A job worker (job-pool.ts): builds the world from the parent's data, then runs the (policy, seed) jobs it is sent.
import { parentPort, workerData } from "node:worker_threads";
import { initBackend } from "../model/backend";
import { type JobSpec, runJob } from "./experiment";
import type { JobWorkerInit, JobWorkerMessage } from "./job-pool";
import { buildWorld } from "./world";

const init = workerData as JobWorkerInit;
const post = (m: JobWorkerMessage) => parentPort!.postMessage(m);
await initBackend({ threads: 1 });
const world = buildWorld(init.dataset, init.cfg, {
  features: init.features,
  response: init.response ?? undefined,
  simulator: init.response !== null,
});
const progress = (stage: string, done: number, total: number, info?: string) => post({ type: "progress", stage, done, total, info });
parentPort!.on("message", ({ index, job }: { index: number; job: JobSpec }) => {
  try {
    const result = runJob(job, init.cfg, init.sids, world, init.dir, {
      progress,
      resume: init.resume,
      checkpointEvery: init.checkpointEvery,
    });
    post({ type: "result", index, result });
  } catch (e) {
    post({ type: "error", index, message: (e as Error).message });
  }
});
post({ type: "ready" });
