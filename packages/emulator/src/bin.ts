#!/usr/bin/env node
/**
 * `consumer-jws-emulator`: runs the emulator until SIGINT or SIGTERM. The first line of stdout is
 * the CSDS URL, so a parent process can read it and point a client at it.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import { parseArgs } from "node:util"
import * as Emulator from "./Emulator.js"
import * as EmulatorOptions from "./EmulatorOptions.js"

const program = Effect.gen(function*() {
  const { values } = yield* Effect.try({
    try: () => parseArgs({ options: EmulatorOptions.flags, strict: true, allowPositionals: false }),
    catch: (cause) =>
      new Emulator.EmulatorError({
        reason: "InvalidOptions",
        message: `${cause instanceof Error ? cause.message : String(cause)}\n\n${EmulatorOptions.usage}`
      })
  })
  if (values.help === true) {
    yield* Effect.sync(() => process.stdout.write(EmulatorOptions.usage))
    return
  }
  const options = yield* EmulatorOptions.fromFlags(values)
  const emulator = yield* Emulator.make(options)
  yield* Effect.sync(() => process.stdout.write(`${emulator.url}\n`))
  return yield* Effect.never
}).pipe(
  Effect.scoped,
  // A bad flag or a busy port is the user's to fix: say what, without a stack trace.
  Effect.catchTag("EmulatorError", (error) =>
    Effect.sync(() => {
      process.stderr.write(`consumer-jws-emulator: ${error.message}\n`)
      process.exitCode = 1
    }))
)

NodeRuntime.runMain(program)
