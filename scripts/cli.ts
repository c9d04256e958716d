// The one CLI entry point: `npm run hsrl -- <command> [flags]`. Each module in scripts/commands/ exports
// register(program), which adds its command; add a module here to add a command.
import { Command } from "commander";
import { register as registerExport } from "./commands/export";
import { register as registerSids } from "./commands/sids";
import { register as registerTrain } from "./commands/train";
import { register as registerEvaluate } from "./commands/evaluate";
import { register as registerPipeline } from "./commands/pipeline";
import { register as registerDefaultModel } from "./commands/default-model";
import { register as registerPublish } from "./commands/publish";
import { register as registerEvents } from "./commands/events";
import { register as registerCatalog } from "./commands/catalog";

const program = new Command("hsrl").description("hsrl-edge offline tools: SIDs, training, export, publish").showHelpAfterError();
for (const register of [
  registerSids,
  registerTrain,
  registerEvaluate,
  registerPipeline,
  registerExport,
  registerDefaultModel,
  registerPublish,
  registerCatalog,
  registerEvents,
])
  register(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  // Bad input gets one clear line and a non-zero exit, not a stack trace.
  console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
