// `npm run bench [-- name ...]`: runs the benchmark modules (all, or the named ones) one after another and prints ONE
// JSON object {name: result}. Each module in bench/ default-exports an async function returning a JSON-able record.
import benchExport from "./export";
import benchLifecycle from "./lifecycle";
import benchPromotion from "./promotion";
import benchResponse from "./response";
import benchScale from "./scale";
import benchScaleTrain from "./scale-train";
import benchServing from "./serving";
import benchSids from "./sids";
import benchTrain from "./train";

const BENCHES: Record<string, () => Promise<Record<string, unknown>>> = {
  export: () => benchExport(),
  sids: () => benchSids(),
  serving: () => benchServing(),
  lifecycle: () => benchLifecycle(),
  train: () => benchTrain(),
  response: () => benchResponse(),
  scale: () => benchScale(),
  "scale-train": () => benchScaleTrain(),
  promotion: () => benchPromotion(),
};

const wanted = process.argv.slice(2);
for (const w of wanted)
  if (!(w in BENCHES)) {
    console.error(`error: unknown benchmark "${w}" (known: ${Object.keys(BENCHES).join(", ")})`);
    process.exit(1);
  }
const results: Record<string, unknown> = {};
for (const name of wanted.length ? wanted : Object.keys(BENCHES)) {
  process.stderr.write(`bench ${name}...\n`);
  results[name] = await BENCHES[name]();
}
console.log(JSON.stringify(results, null, 2));
