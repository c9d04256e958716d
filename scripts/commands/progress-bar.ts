// One cli-progress bar per stage (a new stage name replaces the bar), with ETA. When stderr is not a TTY (a log
// file), one line per finished stage instead, with its time, so long runs stay observable.
import cliProgress from "cli-progress";
import type { Progress } from "../util/progress";

export function progressBar(enabled = process.stderr.isTTY ?? false): { progress: Progress; stop: () => void } {
  if (!enabled) {
    let t0 = performance.now();
    let current = "";
    const progress: Progress = (s, done, total, info = "") => {
      if (s !== current) {
        current = s;
        t0 = performance.now();
      }
      if (done >= total)
        process.stderr.write(
          `${new Date().toISOString().slice(11, 19)} ${s}: ${done}/${total} in ${((performance.now() - t0) / 1000).toFixed(1)} s ${info}\n`,
        );
    };
    return { progress, stop: () => {} };
  }
  let bar: cliProgress.SingleBar | null = null;
  let stage = "";
  const stop = () => {
    bar?.stop();
    bar = null;
  };
  const progress: Progress = (s, done, total, info = "") => {
    if (s !== stage || !bar) {
      stop();
      stage = s;
      bar = new cliProgress.SingleBar(
        { format: `${s.padEnd(28)} [{bar}] {value}/{total} | ETA {eta_formatted} | {info}`, etaBuffer: 50, fps: 5, stream: process.stderr },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0, { info });
    }
    bar.update(done, { info });
    if (done >= total) stop();
  };
  return { progress, stop };
}
