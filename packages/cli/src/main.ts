/**
 * The `consumer-jws` program: runs the command line on Node and exits with its code. The
 * executable (`bin.ts`) sets V8's flags and loads this, bundled, through V8's code cache.
 *
 * @since 0.1.0
 */
import { UndiciHttpClient } from "@consumer-jws/core"
// Each module on its own: the package's index re-exports all of undici (1 MB loaded at every start).
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Layer, Logger } from "effect"
import * as Cli from "./Cli.js"
import * as ExitCode from "./ExitCode.js"

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
