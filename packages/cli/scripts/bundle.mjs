// Bundles the CLI into dist/ (run from packages/cli after `tsc -b`):
// - consumer-jws.cjs: the program (src/main.ts) with every dependency, as CommonJS: V8's code cache,
//   which the executable loads it through, is made for scripts, not ES modules;
// - consumer-jws.mjs: the executable (src/bin.ts): V8's flags, then the program through the cache;
// - thread-worker.mjs: the entry of `--threads` workers.
import * as esbuild from "esbuild"

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  outdir: "dist",
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: true,
  logLevel: "warning"
}

await Promise.all([
  esbuild.build({
    ...common,
    entryPoints: { "consumer-jws": "dist/main.js" },
    format: "cjs",
    outExtension: { ".js": ".cjs" },
    // The sources are ES modules: strict, and `import.meta.url` is the bundle's own URL.
    define: { "import.meta.url": "__importMetaUrl" },
    banner: { js: `"use strict";const __importMetaUrl=require("node:url").pathToFileURL(__filename).href;` }
  }),
  esbuild.build({
    ...common,
    entryPoints: {
      "consumer-jws": "dist/bin.js",
      "thread-worker": "node_modules/@consumer-jws/worker/dist/internal/threadWorker.js"
    },
    format: "esm",
    outExtension: { ".js": ".mjs" },
    // Some dependencies `require` Node's modules: give the ES module bundle a `require`.
    banner: { js: `import{createRequire as __cr}from"node:module";const require=__cr(import.meta.url);` }
  })
])
