// The progress callback every long-running library function takes: the CLI turns it into a bar (commands/progress-bar.ts),
// tests pass nothing. `stage` names the work; a new stage starts a new bar.
export type Progress = (stage: string, done: number, total: number, info?: string) => void;
