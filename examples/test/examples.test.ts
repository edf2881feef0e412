/**
 * Every example runs and does what it says.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { execFile } from "node:child_process"
import { createServer } from "node:net"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import * as Jose from "jose"
import * as Batch from "../batch.js"
import * as Service from "../service.js"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const exampleJs = (name: string) => fileURLToPath(new URL(`../dist/${name}.js`, import.meta.url))

const freePort = Effect.async<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    server.close(() => resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 0)))
  })
})

describe("examples", () => {
  it.live("compose.ts issues for valid consumers and skips the invalid one, as a process", () =>
    Effect.gen(function*() {
      const { stdout } = yield* Effect.promise(() => promisify(execFile)("node", [exampleJs("compose")], { timeout: 30_000 }))
      const decisions = stdout.trim().split("\n").map((line) => JSON.parse(line))
      assert.deepStrictEqual(decisions.map((d) => [d._tag, d.consumerId]), [["Issued", "alice"], ["Issued", "bob"], ["Skipped", " not-trimmed "]])
      assert.match(decisions[0].lpConsumerId, /^[0-9a-f]{64}$/)
      assert.match(decisions[2].why, /whitespace/)
    }))

  it.live("batch.ts issues every ID of a CSV through a flaky API, reporting progress", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "examples-batch-"))
      const ids = Array.from({ length: 500 }, (_, i) => `batch-example-${i}`)
      writeFileSync(join(dir, "in.csv"), ["consumer_id", ...ids, "batch-example-7"].join("\n") + "\n")
      const snapshots: Array<number> = []
      const summary = yield* Batch.issueAll(join(dir, "in.csv"), join(dir, "out.jsonl"), (snapshot) => snapshots.push(snapshot.issued))
      const records = readFileSync(join(dir, "out.jsonl"), "utf8").trim().split("\n").map((line) => JSON.parse(line))
      assert.deepStrictEqual(records.map((r) => r.consumer_id).sort(), [...ids].sort())
      assert.isTrue(records.every((r) => r.status === "issued"))
      assert.strictEqual(summary.counts.issued, 500)
      assert.isAbove(snapshots.length, 0)
    }))

  it.live("service.ts answers tokens, caches them per ID and maps an invalid ID to 400", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      yield* Layer.launch(Service.layerWithEmulator(port)).pipe(Effect.forkScoped)
      const post = postTo(port)
      const first = yield* post("alice")
      assert.strictEqual(first.status, 200)
      assert.strictEqual(first.body["consumer_id"], "alice")
      assert.strictEqual(Jose.decodeJwt(first.body["token"]!)["ext_consumer_id"], "alice")
      const again = yield* post("alice")
      assert.strictEqual(again.body["token"], first.body["token"], "served from the cache")
      const invalid = yield* post(" padded")
      assert.strictEqual(invalid.status, 400)
      assert.strictEqual(invalid.body["_tag"], "InvalidConsumerId")
    }).pipe(Effect.scoped))

  it.live("service.ts maps LivePerson rate limiting to 503 with Retry-After", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      yield* Layer.launch(Service.layerWithEmulator(port, { faults: { rate429: 1, retryAfterSeconds: 1 } })).pipe(Effect.forkScoped)
      const answer = yield* postTo(port)("bob")
      assert.strictEqual(answer.status, 503)
      assert.strictEqual(answer.headers.get("retry-after"), "1")
      assert.strictEqual(answer.body["_tag"], "TemporarilyUnavailable")
    }).pipe(Effect.scoped))
})

const postTo = (port: number) => (id: string) =>
  Effect.promise(async () => {
    // The server may take a moment to listen.
    for (let attempt = 0; ; attempt++) {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/consumers/${encodeURIComponent(id)}/token`, { method: "POST" })
        return { status: response.status, headers: response.headers, body: await response.json() as Record<string, string> }
      } catch (error) {
        if (attempt > 50) throw error
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
  })
