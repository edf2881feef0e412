/** Test support: an emulator, the core client against it, and temporary files. */
import { ConsumerJwsClient, RetryPolicy, UndiciHttpClient } from "@consumer-jws/core"
import { Batch, type Progress } from "../../src/index.js"
import { Emulator } from "@consumer-jws/emulator"
import { NodeContext } from "@effect/platform-node"
import { Deferred, Duration, Effect, Layer, Redacted } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/** A fast retry policy for tests: short backoff, 1 s per attempt (hangs), 20 s per ID. */
export const fastRetries = RetryPolicy.make({
  attemptTimeout: Duration.seconds(1),
  deadline: Duration.seconds(20),
  maxAttempts: 6,
  baseDelay: Duration.millis(20),
  maxDelay: Duration.millis(200)
})

/** Starts an emulator and gives the layer of a client talking to it. */
export const start = (options: Emulator.Options = {}, clientSecret?: string) =>
  Effect.gen(function*() {
    // 1024-bit keys sign three times faster; these tests do not verify signatures.
    const emulator = yield* Emulator.make({ keyBits: 1024, ...options })
    const client = ConsumerJwsClient.layer(ConsumerJwsClient.makeSettings({
      accountId: emulator.accountId,
      clientId: emulator.clientId,
      clientSecret: clientSecret === undefined ? emulator.clientSecret : Redacted.make(clientSecret),
      csdsUrl: emulator.url
    })).pipe(
      Layer.provide(UndiciHttpClient.layer),
      Layer.merge(NodeContext.layer),
      Layer.merge(RetryPolicy.layer(fastRetries))
    )
    return { emulator, client }
  })

/** A fresh temporary directory, removed at the end of the scope. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "worker-test-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** Writes a file in `dir` and returns its path. */
export const writeFile = (dir: string, name: string, content: string | Uint8Array) => {
  const path = Path.join(dir, name)
  Fs.writeFileSync(path, content)
  return path
}

/** The JSON Lines records of an output file. */
export const readJsonl = (path: string): Array<Record<string, unknown>> =>
  Fs.readFileSync(path, "utf8").split("\n").filter((line) => line.length > 0).map((line) => JSON.parse(line))

/** `n` distinct IDs. */
export const ids = (n: number, prefix = "consumer") => Array.from({ length: n }, (_, i) => `${prefix}-${i}`)

/** The client layer a test gets from {@link start}. */
export type Client = Effect.Effect.Success<ReturnType<typeof start>>["client"]

/** Runs a batch through `client`, without progress output unless asked for. */
export const run = (client: Client, options: Batch.Input) =>
  Batch.run({ progress: "none", ...options }).pipe(Effect.provide(client))

/** The consumer IDs of an output's records, in file order. */
export const consumerIds = (path: string) => readJsonl(path).map((r) => r.consumer_id)

/**
 * Batch options that ask the run to stop once `issued` IDs are issued, seen at a progress report
 * (every 50 ms): a stop request in the middle of a run, as Ctrl-C makes one.
 */
export const stopOnceIssued = (issued: number) =>
  Effect.map(Deferred.make<void>(), (stop) => ({
    stop: Deferred.await(stop),
    progressInterval: Duration.millis(50),
    onProgress: (snapshot: Progress.Snapshot) => {
      // A second `succeed` on a completed Deferred does nothing.
      if (snapshot.issued >= issued) Effect.runSync(Deferred.succeed(stop, undefined))
    }
  }))
