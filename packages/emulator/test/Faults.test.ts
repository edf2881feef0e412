import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { Emulator } from "../src/index.js"
import * as Client from "./support/LpClient.js"

const account = Emulator.defaults.accountId

const start = (options?: Emulator.Options) =>
  Effect.gen(function*() {
    // 1024-bit keys sign three times faster; these tests count outcomes, they do not verify tokens.
    const emulator = yield* Emulator.make({ keyBits: 1024, ...options })
    const appJwt = yield* Effect.promise(() =>
      Client.appJwt(emulator.url, emulator.accountId, emulator.clientId, Redacted.value(emulator.clientSecret))
    )
    // Distinct IDs, so duplicates never muddle the counts.
    let next = 0
    const issue = (timeoutMs = 5_000) =>
      Effect.promise(() =>
        Client.requestConsumerJws(emulator.url, account, appJwt, JSON.stringify({ ext_consumer_id: `id-${next++}` }), timeoutMs)
      )
    return { emulator, issue }
  })

const tally = (outcomes: ReadonlyArray<Client.Outcome>) => {
  const counts: Record<string, number> = {}
  for (const outcome of outcomes) {
    const key = outcome._tag === "Response" && outcome.status === 201 && !outcome.text.endsWith("}")
      ? "malformed"
      : Client.label(outcome)
    counts[key] = (counts[key] ?? 0) + 1
  }
  return counts
}

describe("faults", () => {
  it.scoped("each IDP fault appears at its configured rate, and the stats count what the client saw", () =>
    Effect.gen(function*() {
      const n = 1000
      const { emulator, issue } = yield* start({
        seed: 42,
        faults: { rate429: 0.1, rate500: 0.1, rate503: 0.1, rateReset: 0.1, rateMalformed: 0.1, rateHang: 0.05 }
      })
      // The timeout tells a hang from a slow answer: in-process fetch at this concurrency stays far below it.
      const outcomes = yield* Effect.forEach(Array.from({ length: n }), () => issue(1_500), { concurrency: 50 })
      const seen = tally(outcomes)
      for (const kind of ["429", "500", "503", "reset", "malformed"]) {
        assert.isAtLeast(seen[kind] ?? 0, 60, kind)
        assert.isAtMost(seen[kind] ?? 0, 140, kind)
      }
      assert.isAtLeast(seen["timeout"] ?? 0, 20)
      assert.isAtMost(seen["timeout"] ?? 0, 80)
      assert.strictEqual(Object.values(seen).reduce((a, b) => a + b, 0), n)

      const stats = yield* emulator.stats
      assert.strictEqual(stats.faults["429"], seen["429"])
      assert.strictEqual(stats.faults["500"], seen["500"])
      assert.strictEqual(stats.faults["503"], seen["503"])
      assert.strictEqual(stats.faults.resets, seen["reset"])
      assert.strictEqual(stats.faults.malformed, seen["malformed"])
      assert.strictEqual(stats.faults.hangs, seen["timeout"])
      assert.strictEqual(stats.tokensIssued, seen["201"])
      assert.strictEqual(stats.routes.idp["201"], seen["201"]! + seen["malformed"]!)
      assert.strictEqual(stats.routes.idp["hang"], seen["timeout"])
      assert.isAtMost(stats.maxInFlight, 50)
      assert.isAtLeast(stats.maxInFlight, 2)
      // Injected 429s carry the configured Retry-After.
      const tooMany = outcomes.find((o) => o._tag === "Response" && o.status === 429)
      assert.strictEqual(tooMany?._tag === "Response" ? tooMany.headers.get("retry-after") : undefined, "1")
    }))

  it.scoped("the same seed gives the same fault sequence; another seed does not", () =>
    Effect.gen(function*() {
      const faults = { rate429: 0.15, rate500: 0.15, rate503: 0.15, rateMalformed: 0.15, rateReset: 0.1 }
      const sequence = (seed: number) =>
        Effect.gen(function*() {
          const { issue } = yield* start({ seed, faults })
          const outcomes = yield* Effect.forEach(Array.from({ length: 60 }), () => issue(), { concurrency: 1 })
          return outcomes.map((outcome) => Object.keys(tally([outcome]))[0])
        })
      const first = yield* sequence(7)
      const again = yield* sequence(7)
      const other = yield* sequence(8)
      assert.deepStrictEqual(again, first)
      assert.notDeepEqual(other, first)
    }))

  it.scoped("a hang never answers until the client gives up; closing the scope ends it", () =>
    Effect.gen(function*() {
      const { emulator, issue } = yield* start({ faults: { rateHang: 1 } })
      const started = Date.now()
      const outcome = yield* issue(250)
      assert.strictEqual(outcome._tag, "Timeout")
      assert.isAtLeast(Date.now() - started, 240)
      const stats = yield* emulator.stats
      assert.strictEqual(stats.faults.hangs, 1)
      assert.strictEqual(stats.routes.idp["hang"], 1)
    }))

  it.effect("closing the scope ends hanging requests", () =>
    Effect.gen(function*() {
      const pending = yield* Effect.scoped(
        Effect.gen(function*() {
          const { emulator, issue } = yield* start({ faults: { rateHang: 1 } })
          const request = Effect.runPromise(issue(30_000))
          // Wait until the emulator holds the request.
          while ((yield* emulator.stats).inFlight === 0) yield* Effect.promise(() => new Promise((r) => setTimeout(r, 10)))
          return request
        })
      )
      const outcome = yield* Effect.promise(() => pending)
      assert.strictEqual(outcome._tag, "Reset")
    }))

  it.scoped("latency delays answers by latencyMs", () =>
    Effect.gen(function*() {
      const { issue } = yield* start({ faults: { latencyMs: 150, latencyJitterMs: 50 } })
      const started = Date.now()
      assert.strictEqual(Client.label(yield* issue()), "201")
      const elapsed = Date.now() - started
      assert.isAtLeast(elapsed, 145)
      assert.isAtMost(elapsed, 1_000)
    }))

  it.scopedLive("the rate limit answers 429 with Retry-After, and requests during Retry-After are counted", () =>
    Effect.gen(function*() {
      const { emulator, issue } = yield* start({ faults: { rateLimitPerSecond: 10 } })
      const burst = yield* Effect.forEach(Array.from({ length: 30 }), () => issue(), { concurrency: 30 })
      const seen = tally(burst)
      assert.isAtLeast(seen["201"] ?? 0, 10)
      assert.isAtMost(seen["201"] ?? 0, 12)
      assert.strictEqual((seen["201"] ?? 0) + (seen["429"] ?? 0), 30)
      for (const outcome of burst) {
        if (outcome._tag === "Response" && outcome.status === 429) {
          assert.strictEqual(outcome.headers.get("retry-after"), "1")
        }
      }
      // One more request 300 ms later (past the 100 ms grace) arrives inside the Retry-After just sent.
      yield* Effect.sleep("300 millis")
      yield* issue()
      const stats = yield* emulator.stats
      assert.strictEqual(stats.faults.rateLimited, stats.routes.idp["429"])
      assert.isAtLeast(stats.faults.rateLimited, seen["429"] ?? 0)
      assert.isAtLeast(stats.requestsDuringRetryAfter, 1)
      assert.strictEqual(stats.faults["429"], 0)
      // Honouring Retry-After works: after a second the bucket has refilled.
      yield* Effect.sleep("1100 millis")
      assert.strictEqual(Client.label(yield* issue()), "201")
    }))

  it.scopedLive("an injected 429 uses retryAfterSeconds and counts later arrivals as requestsDuringRetryAfter", () =>
    Effect.gen(function*() {
      const { emulator, issue } = yield* start({ faults: { rate429: 1, retryAfterSeconds: 3 } })
      const first = yield* issue()
      assert.strictEqual(first._tag === "Response" ? first.headers.get("retry-after") : undefined, "3")
      yield* emulator.setFaults({ rate429: 0 })
      assert.strictEqual(Client.label(yield* issue()), "201")
      assert.strictEqual((yield* emulator.stats).requestsDuringRetryAfter, 0, "within the grace")
      yield* Effect.sleep("300 millis")
      assert.strictEqual(Client.label(yield* issue()), "201")
      assert.strictEqual((yield* emulator.stats).requestsDuringRetryAfter, 1)
    }))

  it.scopedLive("requestsDuringRetryAfter: a request right after a 429 is not counted; one 300 ms later inside a 1 s Retry-After is", () =>
    Effect.gen(function*() {
      const { emulator, issue } = yield* start({ faults: { rate429: 1, retryAfterSeconds: 1 } })
      assert.strictEqual(Client.label(yield* issue()), "429")
      yield* emulator.setFaults({ rate429: 0 })
      // Right after: as if another connection had sent it before the 429 reached the client.
      yield* issue()
      assert.strictEqual((yield* emulator.stats).requestsDuringRetryAfter, 0)
      yield* Effect.sleep("300 millis")
      yield* issue()
      assert.strictEqual((yield* emulator.stats).requestsDuringRetryAfter, 1)
      // After the Retry-After ended: not counted.
      yield* Effect.sleep("800 millis")
      yield* issue()
      assert.strictEqual((yield* emulator.stats).requestsDuringRetryAfter, 1)
      // A grace of 0 counts the request right after too.
      const strict = yield* start({ retryAfterGraceMillis: 0, faults: { rate429: 1, retryAfterSeconds: 1 } })
      yield* strict.issue()
      yield* strict.emulator.setFaults({ rate429: 0 })
      yield* Effect.sleep("5 millis")
      yield* strict.issue()
      assert.strictEqual((yield* strict.emulator.stats).requestsDuringRetryAfter, 1)
    }))

  it.scoped("CSDS and Sentinel answer 503 at their own rates", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator.make({ faults: { csds503Rate: 0.3, sentinel503Rate: 0.5 } })
      const csds = yield* Effect.forEach(
        Array.from({ length: 400 }),
        () => Effect.promise(() => Client.exchange(Client.csdsUrl(emulator.url, account, "idp"), {})),
        { concurrency: 20 }
      )
      const sentinel = yield* Effect.forEach(
        Array.from({ length: 200 }),
        () =>
          Effect.promise(() =>
            Client.requestAppJwt(emulator.url, account, emulator.clientId, Redacted.value(emulator.clientSecret))
          ),
        { concurrency: 20 }
      )
      const csdsSeen = tally(csds)
      const sentinelSeen = tally(sentinel)
      assert.isAtLeast(csdsSeen["503"] ?? 0, 80)
      assert.isAtMost(csdsSeen["503"] ?? 0, 160)
      assert.isAtLeast(sentinelSeen["503"] ?? 0, 70)
      assert.isAtMost(sentinelSeen["503"] ?? 0, 130)
      const stats = yield* emulator.stats
      assert.strictEqual(stats.faults.csds503, csdsSeen["503"])
      assert.strictEqual(stats.faults.sentinel503, sentinelSeen["503"])
      assert.strictEqual(stats.appJwtsIssued, sentinelSeen["200"])
    }))

  it.scoped("POST /__faults changes faults at runtime and refuses invalid ones", () =>
    Effect.gen(function*() {
      const { emulator, issue } = yield* start()
      assert.strictEqual(Client.label(yield* issue()), "201")
      const set = yield* Effect.promise(() => Client.postJson(`${emulator.url}/__faults`, `{"rate500":1}`))
      assert.strictEqual(Client.label(set), "200")
      assert.strictEqual(Client.label(yield* issue()), "500")
      assert.strictEqual((yield* emulator.faults).rate500, 1)
      for (const body of [`{"rate500":2}`, `{"rate_500":0.1}`, `{"rate500":0.6,"rate503":0.6}`, "not json"]) {
        const refused = yield* Effect.promise(() => Client.postJson(`${emulator.url}/__faults`, body))
        assert.strictEqual(Client.label(refused), "400", body)
      }
      yield* Effect.promise(() => Client.postJson(`${emulator.url}/__faults`, `{"rate500":0,"rateLimitPerSecond":null}`))
      assert.strictEqual(Client.label(yield* issue()), "201")
      const stats = yield* emulator.stats
      assert.deepStrictEqual(stats.routes.idp, { "201": 2, "500": 1 })
    }))

  it.scoped("setFaults with an invalid value is a defect", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator.make()
      const exit = yield* Effect.exit(emulator.setFaults({ rateReset: -1 }))
      assert.isTrue(exit._tag === "Failure" && exit.cause._tag === "Die")
    }))
})
