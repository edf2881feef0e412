/**
 * The CLI's `batch` killed with SIGKILL at three random moments and resumed each time: the finished
 * output holds exactly one issued record per ID, and the issuances repeated at the API stay within
 * what packages/worker/README.md promises per crash: the requests in flight (at most `concurrency`)
 * plus the records not yet flushed (those finished in the last ~100 ms).
 */
import { Emulator } from "@consumer-jws/emulator"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { sizes, timeout } from "./support/Sizes.js"
import * as Support from "./support/Support.js"

const concurrency = 16
// The writer flushes every 100 ms; a record can wait that long plus a timer's lateness on a busy machine.
const unflushedWindowMillis = 250

/** The distinct IDs with an issued record in a results file, ignoring a torn last line as resume does. */
const issuedIn = (path: string): Set<string> => {
  if (!Fs.existsSync(path)) return new Set()
  const text = Fs.readFileSync(path, "utf8")
  const complete = text.slice(0, text.lastIndexOf("\n") + 1)
  const issued = new Set<string>()
  for (const line of complete.split("\n")) {
    if (line.length === 0) continue
    const record = JSON.parse(line) as Support.ResultRecord
    if (record.status === "issued") issued.add(record.consumer_id)
  }
  return issued
}

describe("crash and resume", () => {
  it.scopedLive("SIGKILL at three random moments, resumed each time: one record per ID, bounded repeats", () =>
    Effect.gen(function*() {
      // A little latency so that a run lasts long enough to be killed in the middle.
      const emulator = yield* Emulator.make({ keyBits: 1024, faults: { latencyMs: 20 } })
      const directory = yield* Support.tempDirectory
      const ids = Support.idsOf("crash", sizes.crashIds)
      const input = Path.join(directory, "ids.csv")
      const output = Path.join(directory, "tokens.jsonl")
      Fs.writeFileSync(input, ["consumer_id", ...ids].join("\n") + "\n")
      const args = ["batch", input, "--output", output, "--progress", "none", "--concurrency", String(concurrency)]
      const env = Support.envOf(emulator)

      // The emulator's issuance count over time, to know how many tokens came in the last flush window.
      const samples: Array<{ readonly at: number; readonly issued: number }> = []
      const tokensIssued = () => Effect.runSync(emulator.stats).tokensIssued
      const sampler = setInterval(() => samples.push({ at: Date.now(), issued: tokensIssued() }), 5)
      yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(sampler)))
      const issuedAt = (at: number) => samples.findLast((sample) => sample.at <= at)?.issued ?? 0

      let lostTotal = 0
      const crashes: Array<Record<string, number>> = []
      for (let crash = 0; crash < 3; crash++) {
        const before = issuedIn(output).size
        const tokensBefore = tokensIssued()
        const cli = Support.startCli(crash === 0 ? args : [...args, "--resume"], env)
        // A random moment once the run has written something: between 0 and 1.5 s later.
        while (!Fs.existsSync(output) || Fs.statSync(output).size === 0 || issuedIn(output).size === before) {
          yield* Effect.promise(() => Support.sleep(10))
          assert.strictEqual(cli.child.exitCode, null, `the run ended before it was killed: ${cli.stderr()}`)
        }
        yield* Effect.promise(() => Support.sleep(Math.floor(Math.random() * 1500)))
        const killedAt = Date.now()
        cli.child.kill("SIGKILL")
        const result = yield* Effect.promise(() => cli.done)
        assert.strictEqual(result.signal, "SIGKILL", `the run ended before it was killed: ${result.stderr}`)
        // Let the emulator finish the requests that were in flight at the crash.
        yield* Effect.promise(() => Support.sleep(300))
        const issuedAtApi = tokensIssued() - tokensBefore
        const recorded = issuedIn(output).size - before
        const lost = issuedAtApi - recorded
        const lastWindow = issuedAt(killedAt) - issuedAt(killedAt - unflushedWindowMillis)
        crashes.push({ issuedAtApi, recorded, lost, lastWindow })
        // The README's promise: at most `concurrency` in flight plus the unflushed records are lost.
        assert.isAtLeast(lost, 0)
        assert.isAtMost(lost, concurrency + lastWindow, JSON.stringify(crashes))
        lostTotal += lost
      }

      const final = yield* Effect.promise(() => Support.runCli([...args, "--resume"], env))
      assert.strictEqual(final.code, 0, final.stderr)
      const records = Support.readRecords(output)
      assert.strictEqual(records.length, ids.length)
      const counts = Support.countById(records)
      for (const id of ids) assert.strictEqual(counts.get(id), 1, id)
      for (const record of records) assert.strictEqual(record.status, "issued")

      // Each repeat at the API is an ID a crash lost, issued again by a resume: no other source.
      const stats = yield* emulator.stats
      console.error(`crashes: ${JSON.stringify(crashes)}; duplicate issuances ${stats.duplicateIssuances}`)
      assert.strictEqual(stats.duplicateIssuances, lostTotal)
      assert.strictEqual(stats.distinctConsumerIds, ids.length)
    }), timeout(60_000))
})
