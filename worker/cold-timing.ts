// The one-off costs of a cold isolate (ORT's wasm instantiation and initialisation, a model's fetch and session, its
// first run, the prefix index's load), timed where they happen and reported once, in the Server-Timing of the
// request that finishes next. The scale bench reads them to split a cold first request.
const pending: { name: string; ms: number; desc?: string }[] = [];

/** Times `work` and queues its duration under `name` for the next Server-Timing header. */
export async function timedOnce<T>(name: string, work: () => Promise<T>, desc?: (value: T) => string): Promise<T> {
  const t0 = performance.now();
  const value = await work();
  if (pending.length < 16) pending.push({ name, ms: performance.now() - t0, desc: desc?.(value) }); // crons take none

  return value;
}

/** The queued timings as Server-Timing metrics (emptied), or "" when there are none. */
export function takeColdTimings(): string {
  const out = pending.map((t) => `${t.name};dur=${t.ms.toFixed(2)}${t.desc ? `;desc="${t.desc}"` : ""}`).join(", ");
  pending.length = 0;
  return out;
}
