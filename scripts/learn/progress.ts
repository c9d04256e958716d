// One cli-progress bar per stage (a new stage name replaces the bar), with ETA; quiet when stderr is not a TTY
// unless forced, so logs and tests stay clean.
import cliProgress from "cli-progress";
import type { Progress } from "./experiment";

export function progressBar(enabled = process.stderr.isTTY ?? false): { progress: Progress; stop: () => void } {
  if (!enabled) return { progress: () => {}, stop: () => {} };
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
