/**
 * CSDS moves the account's domains mid-run: a CSDS of the test's own first names emulator 1 for
 * every service, then, once emulator 1 has stopped, emulator 2 (same account and credentials, its
 * own signing key). The batch follows: the connection failures drop the cached domains, the lookups
 * find the new port, the refused AppJWT is renewed there, and every row is issued exactly once.
 */
import { Emulator } from "@consumer-jws/emulator"
import { Batch } from "@consumer-jws/worker"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Redacted, Scope } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { sizes, timeout } from "./support/Sizes.js"
import * as Support from "./support/Support.js"

describe("CSDS moving a domain mid-run", () => {
  it.scopedLive("the batch follows the domain to the new port", () =>
    Effect.gen(function*() {
      const firstScope = yield* Scope.make()
      const first = yield* Emulator.make({ keyBits: 1024, faults: { latencyMs: 10 } }).pipe(Scope.extend(firstScope))
      const second = yield* Emulator.make({
        keyBits: 1024,
        accountId: first.accountId,
        clientId: first.clientId,
        clientSecret: Redacted.value(first.clientSecret),
        faults: { latencyMs: 10 }
      })
      let current = first.port
      const lookups: Array<number> = []
      const csds = yield* Support.httpServer((request, response) => {
        lookups.push(current)
        if (request.url?.includes("/baseURI.json") !== true) {
          response.writeHead(404).end()
          return
        }
        Support.csdsAnswer(response, `127.0.0.1:${current}`)
      })

      const directory = yield* Support.tempDirectory
      const ids = Support.idsOf("moving", sizes.movingDomainIds)
      const input = Path.join(directory, "ids.txt")
      const output = Path.join(directory, "tokens.jsonl")
      Fs.writeFileSync(input, ids.join("\n") + "\n")
      const run = yield* Batch.run({ input, output, concurrency: 8, progress: "none" }).pipe(
        Effect.provide(Support.clientLayer(first, {}, { csdsUrl: csds.url })),
        Effect.fork
      )

      // A third of the way in, emulator 1 stops; a moment later CSDS names emulator 2.
      while ((yield* first.stats).tokensIssued < ids.length / 3) yield* Effect.sleep("10 millis")
      yield* Scope.close(firstScope, Exit.void)
      yield* Effect.sleep("200 millis")
      current = second.port
      const summary = yield* Fiber.join(run)

      const firstStats = yield* first.stats
      const secondStats = yield* second.stats
      console.error(`moving domain: first ${JSON.stringify(firstStats.routes)}, second ${JSON.stringify(secondStats.routes)}, ` +
        `lookups ${lookups.length}, summary ${JSON.stringify(summary.counts)}`)
      assert.strictEqual(summary.outcome, "completed")
      assert.strictEqual(summary.counts.issued, ids.length)
      assert.strictEqual(summary.counts.failed, 0)
      const records = Support.readRecords(output)
      assert.strictEqual(records.length, ids.length)
      const counts = Support.countById(records)
      for (const id of ids) assert.strictEqual(counts.get(id), 1, id)
      // Each token verifies against the emulator that issued it, and both issued some.
      let fromFirst = 0
      let fromSecond = 0
      for (const record of records) {
        assert.strictEqual(record.status, "issued")
        if (Support.verifies(record.token ?? "", first.jwks)) fromFirst++
        else if (Support.verifies(record.token ?? "", second.jwks)) fromSecond++
        else assert.fail(`the token of ${record.consumer_id} verifies against neither emulator`)
      }
      assert.isAbove(fromFirst, 0)
      assert.isAbove(fromSecond, 0)
      // The second emulator did its share; CSDS was asked again after the move.
      assert.isAtLeast(secondStats.tokensIssued, ids.length - firstStats.tokensIssued)
      assert.include(lookups, second.port)
    }), timeout(40_000))
})
