/**
 * Wrong credentials: the batch stops after Sentinel's first refusal (no retry storm), exits 3, and
 * records nothing as failed for rows never tried, so a resume with the right secret issues them all.
 */
import { Emulator } from "@consumer-jws/emulator"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Support from "./support/Support.js"

describe("wrong credentials", () => {
  it.scopedLive("stop after the first refused AppJWT request, exit 3, nothing recorded; resumed with the right secret", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator.make({ keyBits: 1024 })
      const directory = yield* Support.tempDirectory
      const ids = Support.idsOf("creds", 500)
      const input = Path.join(directory, "ids.csv")
      const output = Path.join(directory, "tokens.jsonl")
      Fs.writeFileSync(input, ["consumer_id", ...ids].join("\n"))
      const args = ["batch", input, "-o", output, "--progress", "none", "--concurrency", "16"]
      const refused = yield* Effect.promise(() => Support.runCli(args, Support.envOf(emulator, { LP_CLIENT_SECRET: "wrong" })))
      assert.strictEqual(refused.code, 3, refused.stderr)
      assert.include(refused.stderr, "AuthenticationError")
      assert.include(refused.stderr, "--resume")
      const stats = yield* emulator.stats
      console.error(`wrong credentials: sentinel ${JSON.stringify(stats.routes.sentinel)}`)
      // Sixteen fibers asked at once; Sentinel was asked once, not once per fiber or per row.
      assert.deepStrictEqual(stats.routes.sentinel, { "401": 1 })
      assert.deepStrictEqual(stats.routes.idp, {})
      assert.deepStrictEqual(Support.readRecords(output), [])

      const resumed = yield* Effect.promise(() => Support.runCli([...args, "--resume"], Support.envOf(emulator)))
      assert.strictEqual(resumed.code, 0, resumed.stderr)
      const records = Support.readRecords(output)
      assert.strictEqual(records.length, ids.length)
      assert.strictEqual(Support.countById(records).size, ids.length)
      assert.isTrue(records.every((record) => record.status === "issued"))
    }))
})
