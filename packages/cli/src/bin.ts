#!/usr/bin/env node
/**
 * The `consumer-jws` executable: sets the V8 flags the CLI runs with, then runs the program
 * (`main.ts`, bundled as `consumer-jws.cjs`) through V8's code cache (`internal/compileCache.ts`).
 * The flags come first: V8 refuses a cache made under other flags.
 *
 * @since 0.1.0
 */
import { fileURLToPath } from "node:url"
import * as V8 from "node:v8"
import * as CompileCache from "./internal/compileCache.js"

// The heap grows by half rather than V8's default (up to 4x) when a collection leaves it full. A
// batch allocates fast but keeps little (~30 MB live), so the default let its heap swell to
// 130-160 MB of garbage between collections: with this, peak RSS at 100k rows fell from 243 to
// 163 MB at the same CPU per token (bench/RESULTS.md). Process-wide: threads share it.
V8.setFlagsFromString("--heap-growing-percent=50")
// The young generation stays at the size loading grew it to (16 MB) instead of doubling once more:
// a batch's young objects die young, so the larger space bought no CPU (within noise) for 16 MB of
// RSS.
V8.setFlagsFromString("--semi-space-growth-factor=1")
// WebAssembly stays in its baseline compiler (Liftoff): undici's HTTP parser is WebAssembly, and
// optimizing it once it is hot took ~30 MB of memory for a moment (the run's peak RSS, 139 MB at
// 20k rows; 110 MB without), for no measurable CPU per token.
V8.setFlagsFromString("--liftoff-only")

const loaded = CompileCache.load(fileURLToPath(new URL("./consumer-jws.cjs", import.meta.url)), CompileCache.defaultDirectory())
// Made at exit, so that it holds the code the run compiled, not only the bundle's top level.
if (loaded._tag === "Compiled") process.once("exit", loaded.save)
