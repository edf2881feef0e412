#!/usr/bin/env node
/**
 * The `consumer-jws` executable: runs the command line on Node and exits with its code.
 *
 * @since 0.1.0
 */
import { UndiciHttpClient } from "@consumer-jws/core"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
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
