// Runs an experiment's (policy, seed) jobs in worker threads, `jobs` at a time. Each worker builds the world once from
// the parent's data (the response model is handed over, not retrained), then takes one job after another. Results
// come back in job order whatever finished first. A job that throws, or a worker that dies, stops the run: the other
// workers are terminated and the promise rejects with that job's error (never a hang).
import { Worker } from "node:worker_threads";
import type { Dataset } from "../data/dataset";
import type { SidInputs } from "../sids/table";
import type { Progress } from "../util/progress";
import type { ExperimentConfig } from "./config";
import type { JobResult, JobSpec } from "./experiment";
import type { ResponseSnapshot } from "./world";

export interface JobWorkerInit {
  dataset: Dataset;
  sids: SidInputs;
  cfg: ExperimentConfig;
  dir: string | null;
  features?: Float32Array[];
  response: ResponseSnapshot | null;
  resume?: boolean;
  checkpointEvery?: number;
}

export type JobWorkerMessage =
  | { type: "ready" }
  | { type: "progress"; stage: string; done: number; total: number; info?: string }
  | { type: "result"; index: number; result: JobResult }
  | { type: "error"; index: number; message: string };

export function runJobsInWorkers(specs: JobSpec[], jobs: number, init: JobWorkerInit, progress?: Progress): Promise<JobResult[]> {
  // Workers start on the .ts source: keep the tsx loader the parent runs under, or add it (e.g. under vitest).
  const hasTsx = process.execArgv.some((a) => a.includes("tsx"));
  const execArgv = hasTsx ? process.execArgv : [...process.execArgv, "--import", "tsx"];
  const results: JobResult[] = new Array(specs.length);
  let next = 0;
  let finished = 0;
  const workers: Worker[] = [];
  const stopped = new Set<Worker>(); // terminated here (terminate() exits with code 1)
  const stop = (w: Worker) => {
    stopped.add(w);
    void w.terminate();
  };
  return new Promise<JobResult[]>((resolve, reject) => {
    let failed = false;
    const fail = (e: Error) => {
      if (failed) return;
      failed = true;
      for (const w of workers) stop(w);
      reject(e);
    };
    const give = (w: Worker) => {
      if (next >= specs.length) {
        stop(w);
        return;
      }
      const index = next++;
      w.postMessage({ index, job: specs[index] });
    };
    for (let i = 0; i < jobs; i++) {
      const w = new Worker(new URL("./job-worker.ts", import.meta.url), { execArgv, workerData: init });
      workers.push(w);
      w.on("message", (m: JobWorkerMessage) => {
        if (failed) return;
        if (m.type === "progress") progress?.(m.stage, m.done, m.total, m.info);
        else if (m.type === "ready") give(w);
        else if (m.type === "error") fail(new Error(`${specs[m.index].name} seed ${specs[m.index].seed}: ${m.message}`));
        else {
          results[m.index] = m.result;
          if (++finished === specs.length) {
            for (const x of workers) stop(x);
            resolve(results);
          } else give(w);
        }
      });
      w.on("error", (e) => fail(new Error(`job worker failed: ${e.message}`)));
      w.on("exit", (code) => {
        if (!stopped.has(w) && !failed && finished < specs.length) fail(new Error(`job worker exited with code ${code}`));
      });
    }
  });
}
