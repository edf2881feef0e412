/**
 * The bulk pipeline used as a library: issue for every ID of a CSV with a custom retry policy, a
 * shared rate limit, and a progress callback of the program's own. Runs against an in-process emulator:
 *
 *   pnpm build && node examples/dist/batch.js [input.csv] [output.jsonl]
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { RetryPolicy } from "@consumer-jws/core"
import { Emulator } from "@consumer-jws/emulator"
import { Batch, type Progress, Summary } from "@consumer-jws/worker"
import { Console, Duration, Effect } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { clientFor } from "./compose.js"

/** Patient retries for a flaky upstream: more attempts, a longer deadline. */
export const policy = RetryPolicy.layer({
  maxAttempts: 8,
  baseDelay: Duration.millis(50),
  maxDelay: Duration.seconds(2),
  deadline: Duration.minutes(2)
})

/** Runs the batch over `input` into `output`, reporting progress through `onProgress`. */
export const issueAll = (input: string, output: string, onProgress: (snapshot: Progress.Snapshot) => void) =>
  Effect.gen(function*() {
    // A flaky emulator: 10% of IDP requests answer 503, 0.5% are rate limited (each 429 pauses every fiber for its Retry-After).
    const emulator = yield* Emulator.make({ keyBits: 1024, faults: { rate503: 0.1, rate429: 0.005 } })
    return yield* Batch.run({
      input,
      output,
      concurrency: 32,
      rate: 2000,
      progress: "none",
      progressInterval: Duration.millis(200),
      onProgress
    }).pipe(Effect.provide(clientFor(emulator)), Effect.provide(policy))
  }).pipe(Effect.scoped, Effect.provide(NodeContext.layer))

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const input = process.argv[2] ?? fileURLToPath(new URL("../consumers.csv", import.meta.url))
  const output = process.argv[3] ?? join(mkdtempSync(join(tmpdir(), "consumer-jws-")), "results.jsonl")
  const program = issueAll(input, output, (snapshot) => console.error(`${snapshot.issued} issued, ${snapshot.failed} failed`)).pipe(
    Effect.tap((summary) => Console.log(Summary.render(summary))),
    Effect.tap(() => Console.log(`results: ${output}`))
  )
  NodeRuntime.runMain(program)
}
