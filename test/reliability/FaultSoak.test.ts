/**
 * A batch against an emulator injecting every kind of IDP fault at once: 5% 503, 2% 429
 * (Retry-After: 1), 1% connection resets, 0.5% hangs and 0.5% malformed 201 bodies. Nothing is lost,
 * nothing is recorded twice, Retry-After is honoured, and only resets and hangs can cause a second
 * issuance at the API.
 */
import { Emulator } from "@consumer-jws/emulator"
import { Batch } from "@consumer-jws/worker"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { sizes, soak, timeout } from "./support/Sizes.js"
import * as Support from "./support/Support.js"

describe("fault soak", () => {
  it.scopedLive(`${sizes.faultSoakIds} IDs through 503s, 429s, resets, hangs and malformed bodies`, () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator.make({
        keyBits: 1024,
        // The emulator shares this process's event loop with the client: with the other test files
        // running alongside, a 429 can wait past the default 100 ms before the client reads it, so
        // requests already on their way then are not counted for up to 250 ms.
        retryAfterGraceMillis: 250,
        // A seed whose first 400 IDP draws hold every kind of fault at least twice.
        seed: 42,
        faults: { rate503: 0.05, rate429: 0.02, retryAfterSeconds: 1, rateReset: 0.01, rateHang: 0.005, rateMalformed: 0.005 }
      })
      const directory = yield* Support.tempDirectory
      const ids = Support.idsOf("soak", sizes.faultSoakIds)
      const input = Path.join(directory, "ids.csv")
      const output = Path.join(directory, "tokens.jsonl")
      Fs.writeFileSync(input, ["consumer_id", ...ids].join("\n") + "\n")

      const started = Date.now()
      // A 1 s attempt timeout ends a hang quickly; 12 attempts make exhausting them on 9% faults
      // (0.09^12) as good as impossible, even over 200,000 IDs.
      const summary = yield* Batch.run({ input, output, concurrency: 16, progress: "none", progressInterval: Duration.seconds(30),
        // The soak reports as it goes, so a long run shows where it is.
        onProgress: soak ? (snapshot) => console.error(JSON.stringify(snapshot)) : undefined
      }).pipe(
        Effect.provide(Support.clientLayer(emulator, { attemptTimeout: Duration.seconds(1) }))
      )
      const elapsed = Date.now() - started
      const stats = yield* emulator.stats
      console.error(`fault soak: ${ids.length} IDs in ${(elapsed / 1000).toFixed(1)} s; summary ${JSON.stringify(summary.counts)} ` +
        `requests ${summary.requests} retries ${summary.retries}; emulator ${JSON.stringify({ idp: stats.routes.idp, faults: stats.faults, duplicateIssuances: stats.duplicateIssuances, requestsDuringRetryAfter: stats.requestsDuringRetryAfter })}`)

      // Every ID issued, exactly one record each.
      assert.strictEqual(summary.outcome, "completed")
      assert.strictEqual(summary.counts.issued, ids.length)
      assert.strictEqual(summary.counts.failed, 0)
      const records = Support.readRecords(output)
      assert.strictEqual(records.length, ids.length)
      const counts = Support.countById(records)
      assert.strictEqual(counts.size, ids.length)
      for (const id of ids) assert.strictEqual(counts.get(id), 1, id)
      for (const record of records) assert.strictEqual(record.status, "issued", record.consumer_id)

      // Every kind of fault happened.
      for (const kind of ["503", "429", "resets", "hangs", "malformed"] as const) assert.isAbove(stats.faults[kind], 0, kind)
      // No IDP request inside a Retry-After window (requests already on the wire excepted).
      assert.strictEqual(stats.requestsDuringRetryAfter, 0)
      // A second issuance at the API can only come from a request whose answer was lost.
      assert.isAtMost(stats.duplicateIssuances, stats.faults.resets + stats.faults.hangs)
      assert.strictEqual(stats.distinctConsumerIds, ids.length)
    }), timeout(240_000))
})
