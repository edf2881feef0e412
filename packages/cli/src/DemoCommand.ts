/**
 * `consumer-jws demo`: the whole flow on a laptop. Starts an emulator in-process (with a few server
 * errors, so retries and failures show) and runs a batch over `examples/consumers.csv`, with the
 * progress bar and the summary, writing to a fresh temporary directory.
 *
 * @since 0.1.0
 */
import { ConsumerJwsClient, RetryPolicy } from "@consumer-jws/core"
import { Emulator } from "@consumer-jws/emulator"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as BatchCommand from "./BatchCommand.js"
import * as Help from "./internal/help.js"
import * as Shell from "./internal/shell.js"

/** The demo input in the repository: from `dist/`, three levels up is the repository root. */
export const defaultInput: string = fileURLToPath(new URL("../../../examples/consumers.csv", import.meta.url))

/**
 * The emulator's faults: one IDP answer in five is a 500 or 503, so retries show, and with
 * {@link retryPolicy}'s three attempts about one ID in a hundred fails for good.
 */
export const faults: Partial<Emulator.Faults> = { rate500: 0.15, rate503: 0.05, latencyMs: 2, latencyJitterMs: 8 }

/** Short waits, so the demo takes seconds: three attempts, backoff from 20 ms. */
export const retryPolicy: Partial<RetryPolicy.Settings> = {
  maxAttempts: 3,
  baseDelay: Duration.millis(20),
  maxDelay: Duration.millis(200)
}

/** The `demo` command. */
export const command = Command.make(
  "demo",
  {
    input: Options.text("input").pipe(
      Options.withDescription("The CSV to issue (default: the repository's examples/consumers.csv)."),
      Options.withDefault(defaultInput)
    ),
    progress: Options.choice("progress", ["auto", "bar", "json", "none"]).pipe(
      Options.withDescription("How progress is shown on stderr."),
      Options.withDefault("bar" as const)
    )
  },
  ({ input, progress }) =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* fs.makeTempDirectory({ prefix: "consumer-jws-demo-" })
      const output = Path.join(directory, "demo-output.jsonl")
      const summary = Path.join(directory, "summary.json")
      // A 1024-bit key: the emulator signs in this process, and a demo token needs no strength.
      const emulator = yield* Emulator.make({ faults, keyBits: 1024 })
      yield* Console.error(
        `Demo: an in-process emulator at ${emulator.url} (account ${emulator.accountId}, 20% IDP server errors); ` +
          `issuing ${input} to ${output}`
      )
      const settings = ConsumerJwsClient.makeSettings({
        accountId: emulator.accountId,
        clientId: emulator.clientId,
        clientSecret: emulator.clientSecret,
        csdsUrl: emulator.url
      })
      const resume = Shell.commandLine(["consumer-jws", "batch", input, "--output", output, "--emulator", "--resume"])
      yield* BatchCommand.execute({ input, output, progress, summary, concurrency: 32 }, resume).pipe(
        Effect.provide(ConsumerJwsClient.layer(settings)),
        Effect.provide(RetryPolicy.layer(retryPolicy)),
        // The demo input holds invalid rows on purpose, and the faults fail a few IDs: that is the demo.
        Effect.catchTag("NotAllIssuedError", () => Effect.void)
      )
      yield* Console.log(`results: ${output}\nsummary: ${summary}`)
    }).pipe(Effect.scoped)
).pipe(
  Command.withDescription(Help.describe(
    [
      "Runs the whole flow locally: starts an emulator in this process (one IDP answer in five a server error), " +
      "issues every ID of examples/consumers.csv with a progress bar, prints the summary, and writes the results " +
      "and the summary into a new temporary directory, whose paths it prints on stdout.",
      "The input has invalid and duplicated IDs on purpose, so every kind of record shows: issued, failed, " +
      "rejected, duplicates. Exit code 0 when the run completed, whatever its records."
    ],
    [
      { does: "the demo", command: "consumer-jws demo" },
      { does: "on your own file, with JSON progress lines", command: "consumer-jws demo --input ids.csv --progress json" }
    ]
  ))
)
