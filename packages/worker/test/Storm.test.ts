/**
 * The 429 storm, in a file of its own: run after the other batch tests in one process, it sometimes
 * slowed to a crawl (the adaptive rate near its floor, IDs failing their deadline), which it never did
 * alone; the cause is not found yet (see issue 4's note).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Path from "node:path"
import { consumerIds, ids, run, start, tempDir, writeFile } from "./support/Harness.js"

describe("faults", () => {
  // The emulator does not count requests arriving within 100 ms of a 429 (those other fibers had
  // already sent before the 429 reached the client). The gate stops every request started after the
  // 429 arrived, on every fiber; without it the retries of all fibers land inside the Retry-After.
  it.scopedLive("a 429 storm at concurrency 16: no request arrives inside a Retry-After; every ID is issued", () =>
    Effect.gen(function*() {
      // The server's own limit (a token bucket at 150/s, beyond it 429 + Retry-After 1 s) and a few random 429s.
      const { client, emulator } = yield* start({ faults: { rateLimitPerSecond: 150, rate429: 0.01, retryAfterSeconds: 1 } })
      const dir = yield* tempDir
      const all = ids(600, "s")
      const output = Path.join(dir, "out.jsonl")
      const summary = yield* run(client, { input: writeFile(dir, "in.txt", all.join("\n")), output, concurrency: 16 })
      const stats = yield* emulator.stats
      // Injected 429s always come; the server's own limit only when the machine is fast enough to reach it.
      const sent429 = stats.faults.rateLimited + stats.faults["429"]
      assert.isTrue(sent429 > 0)
      assert.strictEqual(stats.requestsDuringRetryAfter, 0, `${stats.requestsDuringRetryAfter} for ${sent429} 429s`)
      assert.strictEqual(summary.counts.issued, 600)
      assert.isTrue(summary.rateLimited > 0)
      assert.strictEqual(new Set(consumerIds(output)).size, 600)
    }), { timeout: 120_000 })

})
