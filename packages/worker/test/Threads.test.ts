import { ConsumerJwsClient, RetryPolicy } from "@consumer-jws/core"
import type { Emulator } from "@consumer-jws/emulator"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Batch, Shard, Threads } from "../src/index.js"
import { consumerIds, fastRetries, ids, readJsonl, start, stopOnceIssued, tempDir, writeFile } from "./support/Harness.js"

const settingsOf = (emulator: Emulator.Emulator, clientSecret?: string) =>
  ConsumerJwsClient.makeSettings({
    accountId: emulator.accountId,
    clientId: emulator.clientId,
    clientSecret: clientSecret === undefined ? emulator.clientSecret : Redacted.make(clientSecret),
    csdsUrl: emulator.url
  })

const runThreaded = (emulator: Emulator.Emulator, options: Batch.Input, clientSecret?: string) =>
  Batch.runThreaded({ progress: "none", threads: 2, ...options }, settingsOf(emulator, clientSecret)).pipe(
    Effect.provide(Layer.merge(NodeContext.layer, RetryPolicy.layer(fastRetries)))
  )

describe("Batch.runThreaded", () => {
  it.scopedLive("2 threads issue the same IDs as fibers alone, one record per ID, each issued once at the IDP", () =>
    Effect.gen(function*() {
      const { client, emulator } = yield* start()
      const dir = yield* tempDir
      const all = ids(3000, "t")
      // Duplicates and a rejected row too: the main thread still validates and deduplicates.
      const input = writeFile(dir, "in.txt", [...all, "t-1", " bad "].join("\n"))
      const fibers = yield* Batch.run({ input, output: Path.join(dir, "fibers.jsonl"), progress: "none" }).pipe(
        Effect.provide(client)
      )
      yield* emulator.reset
      const threaded = yield* runThreaded(emulator, { input, output: Path.join(dir, "threads.jsonl") })
      assert.strictEqual(threaded.outcome, "completed")
      assert.deepStrictEqual(threaded.counts, fibers.counts)
      const records = readJsonl(Path.join(dir, "threads.jsonl"))
      assert.strictEqual(records.length, 3001)
      const issued = records.filter((r) => r.status === "issued")
      assert.deepStrictEqual(issued.map((r) => r.consumer_id).sort(), [...all].sort())
      assert.isTrue(issued.every((r) => typeof r.token === "string" && typeof r.lp_consumer_id === "string" && Number(r.attempts) >= 1))
      const fromFibers = new Map(readJsonl(Path.join(dir, "fibers.jsonl")).map((r) => [r.consumer_id, r.lp_consumer_id]))
      assert.isTrue(issued.every((r) => fromFibers.get(r.consumer_id) === r.lp_consumer_id))
      const stats = yield* emulator.stats
      assert.strictEqual(stats.distinctConsumerIds, 3000)
      // Retries (of attempts timed out on a loaded machine) are the only way to a second issuance.
      assert.isAtMost(stats.duplicateIssuances, threaded.retries)
      assert.strictEqual(threaded.requests, 3000 + threaded.retries)
      assert.isTrue(threaded.latencyMillis.p50 > 0)
      assert.strictEqual(Fs.statSync(Path.join(dir, "threads.jsonl")).mode & 0o777, 0o600)
    }), { timeout: 60_000 })

  it.scopedLive("a 429 pauses every thread: no request arrives inside a Retry-After; every ID is issued", () =>
    Effect.gen(function*() {
      // Requests a thread had already sent when a 429 left the server are not the gate's to stop; on a
      // loaded machine (CI runs test files side by side) they can take a few hundred ms to arrive, so
      // the grace is wider than the default. A gate that failed to pause would still send new requests
      // well inside the rest of the 1 s Retry-After.
      const { emulator } = yield* start({ retryAfterGraceMillis: 400, faults: { rateLimitPerSecond: 100, rate429: 0.01, retryAfterSeconds: 1 } })
      const dir = yield* tempDir
      const all = ids(600, "s")
      const output = Path.join(dir, "out.jsonl")
      const summary = yield* runThreaded(emulator, { input: writeFile(dir, "in.txt", all.join("\n")), output, concurrency: 16 })
      const stats = yield* emulator.stats
      // Injected 429s always come; the server's limit only when the machine is fast enough to reach it.
      assert.isTrue(stats.faults["429"] + stats.faults.rateLimited > 0)
      assert.strictEqual(stats.requestsDuringRetryAfter, 0)
      assert.strictEqual(summary.counts.issued, 600)
      // The one gate on the main thread saw every thread's 429s.
      assert.strictEqual(summary.rateLimited, stats.faults.rateLimited + stats.faults["429"])
      assert.deepStrictEqual(consumerIds(output).sort(), [...all].sort())
    }), { timeout: 60_000 })

  it.scopedLive("--rate is the total over all threads", () =>
    Effect.gen(function*() {
      const { emulator } = yield* start()
      const dir = yield* tempDir
      const started = Date.now()
      const summary = yield* runThreaded(emulator, {
        input: writeFile(dir, "in.txt", ids(60, "r").join("\n")),
        output: Path.join(dir, "out.jsonl"),
        rate: 40
      })
      const seconds = (Date.now() - started) / 1000
      assert.strictEqual(summary.counts.issued, 60)
      // 60 requests at 40/s in all take about 1.5 s; at 40/s per thread they would take 0.75 s.
      assert.isAtLeast(seconds, 1.3)
    }), { timeout: 30_000 })

  it.scopedLive("bad credentials stop every thread early, recording nothing", () =>
    Effect.gen(function*() {
      const { emulator } = yield* start()
      const dir = yield* tempDir
      const output = Path.join(dir, "out.jsonl")
      const summary = yield* runThreaded(emulator, { input: writeFile(dir, "in.txt", ids(500, "e").join("\n")), output }, "wrong")
      assert.strictEqual(summary.outcome, "stoppedEarly")
      assert.strictEqual(summary.stoppedEarly?.error, "AuthenticationError")
      assert.deepStrictEqual(readJsonl(output), [])
    }), { timeout: 30_000 })

  it.scopedLive("a stop request drains the threads; resume completes with one record per ID", () =>
    Effect.gen(function*() {
      const { emulator } = yield* start({ faults: { latencyMs: 20 } })
      const dir = yield* tempDir
      const all = ids(2000, "i")
      const input = writeFile(dir, "in.txt", all.join("\n"))
      const output = Path.join(dir, "out.jsonl")
      const summary = yield* runThreaded(emulator, { input, output, ...(yield* stopOnceIssued(100)) })
      assert.strictEqual(summary.outcome, "interrupted")
      assert.isTrue(summary.counts.issued >= 100 && summary.counts.issued < 2000)
      assert.strictEqual(consumerIds(output).length, summary.counts.issued)
      const resumed = yield* runThreaded(emulator, { input, output, resume: true })
      assert.strictEqual(resumed.outcome, "completed")
      assert.deepStrictEqual(consumerIds(output).sort(), [...all].sort())
    }), { timeout: 60_000 })

  it.scopedLive("a thread that dies fails the run with WorkerThreadError instead of hanging", () =>
    Effect.gen(function*() {
      const { emulator } = yield* start()
      const dir = yield* tempDir
      const entry = writeFile(dir, "dies.mjs", "process.exit(3)\n")
      const error = yield* Effect.flip(runThreaded(emulator, {
        input: writeFile(dir, "in.txt", "a\nb\n"),
        output: Path.join(dir, "out.jsonl"),
        threadEntry: entry
      }))
      assert.strictEqual(error._tag, "WorkerThreadError")
      assert.include(error.message, "exited with code 3")
    }), { timeout: 30_000 })

  it.effect("Batch.run refuses threads other than 1, and threads out of range are refused", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Batch.resolve({ input: "a", output: "b", threads: 0 }))
      assert.strictEqual(error.option, "threads")
      const tooMany = yield* Effect.flip(Batch.resolve({ input: "a", output: "b", threads: Threads.maxThreads + 1 }))
      assert.strictEqual(tooMany.option, "threads")
    }))
})

describe("Threads.threadOf", () => {
  it("is stable, and spreads a shard's IDs over every thread", () => {
    const all = ids(4000, "h")
    assert.deepStrictEqual(all.map((id) => Threads.threadOf(id, 4)), all.map((id) => Threads.threadOf(id, 4)))
    assert.strictEqual(Threads.threadOf("h-1", 4), Shard.hash("h-1") % 4)
    const shard = new Shard.Shard({ index: 1, count: 2 })
    const counts = [0, 0]
    for (const id of all.filter((id) => Shard.owns(shard, id))) counts[Threads.threadOf(id, 2, shard)]!++
    assert.isTrue(counts.every((n) => n > 800), String(counts))
  })
})
