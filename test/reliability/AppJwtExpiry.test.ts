/**
 * An AppJWT that expires every two seconds in the middle of a batch is renewed, whether ahead of its
 * expiry (the default margin, at half-life for so short a token) or only once the IDP refuses it (no
 * margin: the 401 path), and no row fails.
 */
import { Emulator } from "@consumer-jws/emulator"
import { Batch } from "@consumer-jws/worker"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { sizes, timeout } from "./support/Sizes.js"
import * as Support from "./support/Support.js"

const expiringMidBatch = (renewBefore: Duration.DurationInput | undefined) =>
  Effect.gen(function*() {
    // Jittered latency keeps the fibers out of step: in step, their sends could all fall just after
    // an expiry, and with no margin the IDP would then refuse none of them.
    const emulator = yield* Emulator.make({ keyBits: 1024, faults: { appJwtLifetimeSeconds: 2, latencyMs: 25, latencyJitterMs: 20 } })
    const directory = yield* Support.tempDirectory
    const ids = Support.idsOf("expiry", sizes.appJwtIds)
    const input = Path.join(directory, "ids.txt")
    const output = Path.join(directory, "tokens.jsonl")
    Fs.writeFileSync(input, ids.join("\n") + "\n")
    const started = Date.now()
    const summary = yield* Batch.run({ input, output, concurrency: 8, progress: "none" }).pipe(
      Effect.provide(Support.clientLayer(emulator, {}, renewBefore === undefined ? {} : { renewBefore }))
    )
    const elapsed = Date.now() - started
    const stats = yield* emulator.stats
    console.error(`AppJWT expiry (renewBefore ${renewBefore === undefined ? "default" : Duration.format(Duration.decode(renewBefore))}): ` +
      `${ids.length} IDs in ${elapsed} ms, ${stats.appJwtsIssued} AppJWTs, sentinel ${JSON.stringify(stats.routes.sentinel)}, idp ${JSON.stringify(stats.routes.idp)}`)
    // The run outlived several AppJWTs...
    assert.isAbove(elapsed, 4_000, "the batch must outlast two AppJWT lifetimes for the test to mean anything")
    assert.isAtLeast(stats.appJwtsIssued, 3)
    // ... and not one row failed.
    assert.strictEqual(summary.counts.issued, ids.length)
    assert.strictEqual(summary.counts.failed, 0)
    const records = Support.readRecords(output)
    assert.strictEqual(records.length, ids.length)
    for (const record of records) assert.strictEqual(record.status, "issued")
    assert.strictEqual(Support.countById(records).size, ids.length)
    return { stats, elapsed }
  })

describe("AppJWT expiring mid-batch", () => {
  it.scopedLive("renewed ahead of expiry with the default margin", () =>
    Effect.gen(function*() {
      const { stats } = yield* expiringMidBatch(undefined)
      // Renewed at half-life: the IDP never saw an expired AppJWT.
      assert.strictEqual(stats.routes.idp["401"] ?? 0, 0)
    }), timeout(40_000))

  it.scopedLive("renewed after the IDP refuses it, with no margin", () =>
    Effect.gen(function*() {
      const { elapsed, stats } = yield* expiringMidBatch(Duration.zero)
      // The refusals happened, and each expiry was renewed once, not once for every fiber refused
      // with that token: an AppJWT lives over a second (its exp is in whole seconds, 2 after iat).
      assert.isAbove(stats.routes.idp["401"] ?? 0, 0)
      assert.isAtMost(stats.appJwtsIssued, Math.ceil(elapsed / 1000) + 1)
      assert.isBelow(stats.appJwtsIssued, stats.routes.idp["401"]! + 2)
    }), timeout(40_000))
})
