// Types of the non-JS modules wrangler's rules import (see [[rules]] in wrangler.toml).
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
declare module "*.onnx" {
  const bytes: ArrayBuffer;
  export default bytes;
}

// Types `exports` from "cloudflare:workers" (used by the tests to call the Worker through its own fetch).
declare namespace Cloudflare {
  interface GlobalProps {
    mainModule: typeof import("./index");
  }
}
