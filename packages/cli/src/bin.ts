#!/usr/bin/env node
/**
 * The `consumer-jws` executable: runs the command line on Node and exits with its code.
 *
 * @since 0.1.0
 */
import { UndiciHttpClient } from "@consumer-jws/core"
// Each module on its own: the package's index re-exports all of undici (1 MB loaded at every start).
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as V8 from "node:v8"
import * as Cli from "./Cli.js"
import * as ExitCode from "./ExitCode.js"

// The heap grows by half rather than V8's default (up to 4x) when a collection leaves it full. A
// batch allocates fast but keeps little (~30 MB live), so the default let its heap swell to
// 130-160 MB of garbage between collections: with this, peak RSS at 100k rows fell from 243 to
// 163 MB at the same CPU per token (bench/RESULTS.md). Process-wide: threads share it.
V8.setFlagsFromString("--heap-growing-percent=50")
// The young generation stays at the size loading grew it to (two 4 MB semi-spaces) instead of
// doubling twice more during a batch (to two of 16 MB): the larger space halves the scavenge pauses
// but bought no measurable CPU per token, for 10-30 MB more RSS (bench/RESULTS.md).
V8.setFlagsFromString("--semi-space-growth-factor=1")
// WebAssembly stays in its baseline compiler (Liftoff): undici's HTTP parser is WebAssembly, and
// optimizing it once it is hot took ~30 MB of memory for a moment (the run's peak RSS, 139 MB at
// 20k rows; 110 MB without), for no measurable CPU per token.
V8.setFlagsFromString("--liftoff-only")

// Logs go to stderr: stdout holds results only.
const MainLive = Layer.mergeAll(
  NodeContext.layer,
  UndiciHttpClient.layer,
  Logger.replace(Logger.defaultLogger, Logger.prettyLogger({ stderr: true }))
)

NodeRuntime.runMain(
  Cli.runToExitCode(process.argv, (code) => (process.exitCode = code)).pipe(Effect.provide(MainLive)),
  {
    disableErrorReporting: true,
    disablePrettyLogger: true,
    // The program sets its code even when a signal interrupts it, so the exit is read from there.
    teardown: (_exit, onExit) => onExit(Number(process.exitCode ?? ExitCode.someFailed))
  }
)
