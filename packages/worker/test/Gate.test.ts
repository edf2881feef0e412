import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, TestClock } from "effect"
import { Gate } from "../src/index.js"

const enterAt = (gate: Gate.Gate) => Effect.zipRight(gate.enter, Clock.currentTimeMillis)

// The test clock, except that no sleep ends before `until`: a process too busy to run its timers.
const stalledUntil = (until: number) =>
  Effect.map(Effect.clock, (clock): Clock.Clock => ({
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => clock.unsafeCurrentTimeMillis(),
    unsafeCurrentTimeNanos: () => clock.unsafeCurrentTimeNanos(),
    currentTimeMillis: clock.currentTimeMillis,
    currentTimeNanos: clock.currentTimeNanos,
    sleep: (duration) =>
      Effect.flatMap(clock.currentTimeMillis, (now) => clock.sleep(Duration.millis(Math.max(Duration.toMillis(duration), until - now))))
  }))

describe("Gate", () => {
  it.effect("after a 429, no request starts before its Retry-After has passed, for every fiber", () =>
    Effect.gen(function*() {
      const gate = yield* Gate.make()
      yield* gate.enter
      yield* gate.leave({ _tag: "Answered", status: 429, retryAfterMillis: 2000 })
      const fibers = yield* Effect.forEach([1, 2, 3], () => Effect.fork(enterAt(gate)))
      yield* TestClock.adjust(1999)
      for (const fiber of fibers) assert.isTrue((yield* Fiber.poll(fiber))._tag === "None")
      yield* TestClock.adjust(1000)
      const starts = yield* Effect.forEach(fibers, Fiber.join)
      assert.isTrue(starts.every((at) => at >= 2000))
    }))

  it.effect("the fast path counts as enter and leave, and is closed by a rate or after a 429", () =>
    Effect.gen(function*() {
      const gate = yield* Gate.make()
      assert.isTrue(gate.unsafeTryEnter!())
      assert.isTrue(gate.unsafeTryEnter!())
      assert.deepInclude(yield* gate.stats, { requests: 2, inFlight: 2, maxInFlight: 2 })
      gate.unsafeLeave!({ _tag: "Answered", status: 201, retryAfterMillis: undefined })
      gate.unsafeLeave!({ _tag: "Answered", status: 429, retryAfterMillis: 2000 })
      assert.deepInclude(yield* gate.stats, { requests: 2, inFlight: 0, throttled: 1 })
      // From the 429 on there is a rate to keep: every request goes through `enter`, which holds it
      // to the end of the pause.
      assert.isFalse(gate.unsafeTryEnter!())
      const fiber = yield* Effect.fork(enterAt(gate))
      yield* TestClock.adjust(1999)
      assert.strictEqual((yield* Fiber.poll(fiber))._tag, "None")
      yield* TestClock.adjust(1)
      assert.strictEqual(yield* Fiber.join(fiber), 2000)
      assert.isFalse(gate.unsafeTryEnter!())
      assert.deepInclude(yield* gate.stats, { requests: 3, inFlight: 1 })

      const capped = yield* Gate.make({ rate: 5 })
      assert.isFalse(capped.unsafeTryEnter!())
      assert.deepInclude(yield* capped.stats, { requests: 0, inFlight: 0 })
    }))

  it.effect("a 429 without Retry-After pauses for 1 s", () =>
    Effect.gen(function*() {
      const gate = yield* Gate.make()
      yield* gate.leave({ _tag: "Answered", status: 429, retryAfterMillis: undefined })
      const fiber = yield* Effect.fork(enterAt(gate))
      yield* TestClock.adjust(999)
      assert.strictEqual((yield* Fiber.poll(fiber))._tag, "None")
      yield* TestClock.adjust(1)
      assert.strictEqual(yield* Fiber.join(fiber), 1000)
    }))

  it.effect("a fixed rate spaces requests evenly", () =>
    Effect.gen(function*() {
      const gate = yield* Gate.make({ rate: 4 })
      const fiber = yield* Effect.fork(Effect.forEach([1, 2, 3, 4, 5], () => enterAt(gate), { concurrency: "unbounded" }))
      yield* TestClock.adjust(2000)
      const starts = (yield* Fiber.join(fiber)).sort((a, b) => a - b)
      assert.deepStrictEqual(starts, [0, 250, 500, 750, 1000])
    }))

  it.effect("requests late for their slots catch up without going over the rate in any second", () =>
    Effect.gen(function*() {
      // Slots at 0, 100, ..., 1900; the timers of those up to 1500 fire only at 1500. The gate keeps
      // the clock it was made with.
      const stalled = yield* stalledUntil(1500)
      const gate = yield* Gate.make({ rate: 10 }).pipe(Effect.withClock(stalled))
      const fiber = yield* Effect.fork(
        Effect.forEach(Array.from({ length: 20 }), () => enterAt(gate), { concurrency: "unbounded" })
      )
      yield* TestClock.adjust(5000)
      const starts = (yield* Fiber.join(fiber)).sort((a, b) => a - b)
      const busiest = Math.max(...starts.map((from) => starts.filter((at) => at >= from && at < from + 1000).length))
      assert.isAtMost(busiest, 10, `starts ${starts.join(" ")}`)
      assert.isAtMost(starts.at(-1)!, 2600, "the backlog is caught up within about a second")
    }))

  it.effect("repeated 429s lower the rate multiplicatively, once per episode; successes bring it back", () =>
    Effect.gen(function*() {
      const gate = yield* Gate.make({ rate: 100 })
      // Send at 100/s for 2 s so the measured rate settles.
      for (let i = 0; i < 200; i++) {
        yield* gate.enter
        yield* gate.leave({ _tag: "Answered", status: 201, retryAfterMillis: undefined })
        yield* TestClock.adjust(10)
      }
      yield* gate.leave({ _tag: "Answered", status: 429, retryAfterMillis: 500 })
      // A second 429 inside the pause is the same episode.
      yield* gate.leave({ _tag: "Answered", status: 429, retryAfterMillis: 500 })
      const first = yield* gate.stats
      assert.strictEqual(first.decreases, 1)
      assert.strictEqual(first.throttled, 2)
      assert.isTrue(first.adaptiveRate! > 60 && first.adaptiveRate! < 80, `rate ${first.adaptiveRate}`)
      yield* TestClock.adjust(600)
      yield* gate.leave({ _tag: "Answered", status: 429, retryAfterMillis: 100 })
      const second = yield* gate.stats
      assert.strictEqual(second.decreases, 2)
      assert.isTrue(second.adaptiveRate! < first.adaptiveRate! * 0.75, `rate ${second.adaptiveRate}`)
      // Recovery: successes over the following seconds raise it again (CUBIC growth).
      const low = second.adaptiveRate!
      for (let i = 0; i < 100; i++) {
        yield* TestClock.adjust(50)
        const fiber = yield* Effect.fork(gate.enter)
        yield* TestClock.adjust(50)
        yield* Fiber.join(fiber)
        yield* gate.leave({ _tag: "Answered", status: 201, retryAfterMillis: undefined })
      }
      const recovered = yield* gate.stats
      assert.isTrue(recovered.adaptiveRate! > low, `rate ${recovered.adaptiveRate} after ${low}`)
    }))
  it.effect("random 429s do not spiral the rate down: a pause is not counted as a slow send rate", () =>
    Effect.gen(function*() {
      const gate = yield* Gate.make()
      // One request every 10 ms (100/s) or as the gate paces it, a 429 after every 50 answers, each pausing everyone for 1 s.
      const sendFor = (count: number) =>
        Effect.forEach(Array.from({ length: count }), () =>
          Effect.gen(function*() {
            const fiber = yield* Effect.fork(gate.enter)
            // At most one request per 10 ms, slower when the gate's rate asks for it.
            do yield* TestClock.adjust(10)
            while ((yield* Fiber.poll(fiber))._tag === "None")
            yield* gate.leave({ _tag: "Answered", status: 201, retryAfterMillis: undefined })
          }), { discard: true })
      for (let episode = 0; episode < 10; episode++) {
        yield* sendFor(50)
        yield* gate.leave({ _tag: "Answered", status: 429, retryAfterMillis: 1000 })
        yield* TestClock.adjust(1000)
      }
      // Ten 429s at a steady ~100/s: each episode cuts from the rate actually sent, and CUBIC
      // regrows it between 429s, so the rate settles instead of sinking towards the floor.
      const { adaptiveRate, decreases } = yield* gate.stats
      assert.strictEqual(decreases, 10)
      assert.isAbove(adaptiveRate ?? 0, 28) // 34 here; 21 when pauses counted as slow sending
    }))

  it.effect("a 429 soon after a pause cuts from the rate being sent, not from the floor", () =>
    Effect.gen(function*() {
      const gate = yield* Gate.make()
      // Sixteen requests at once, and a 429 50 ms later, before any half-second measuring bucket closed.
      for (let i = 0; i < 16; i++) yield* gate.enter
      yield* TestClock.adjust(50)
      yield* gate.leave({ _tag: "Answered", status: 429, retryAfterMillis: 1000 })
      const first = (yield* gate.stats).adaptiveRate!
      yield* TestClock.adjust(950)
      // At the adaptive rate for 400 ms after the pause, then another 429: again no bucket has closed.
      const sender = yield* Effect.fork(Effect.forever(gate.enter))
      yield* TestClock.adjust(400)
      yield* Fiber.interrupt(sender)
      yield* gate.leave({ _tag: "Answered", status: 429, retryAfterMillis: 1000 })
      const second = (yield* gate.stats).adaptiveRate!
      // 0.5 (the floor) when only closed buckets counted.
      assert.isAbove(second, first * 0.5, `${first} then ${second}`)
    }))

  it.effect("requests waiting at a low rate are paced again when it recovers, not held to their old slots", () =>
    Effect.gen(function*() {
      const gate = yield* Gate.make()
      // One request in 10 s, then a 429: the rate drops to its floor, 0.5/s.
      yield* gate.enter
      yield* TestClock.adjust(10_000)
      yield* gate.leave({ _tag: "Answered", status: 429, retryAfterMillis: 1 })
      assert.strictEqual((yield* gate.stats).adaptiveRate, 0.5)
      // Sixteen fibers each sending one request after the other, every answer a success.
      let started = 0
      const send = Effect.zipRight(gate.enter, Effect.sync(() => started++)).pipe(
        Effect.zipRight(gate.leave({ _tag: "Answered", status: 201, retryAfterMillis: undefined }))
      )
      const fibers = yield* Effect.forEach(Array.from({ length: 16 }), () => Effect.fork(Effect.forever(send)))
      for (let i = 0; i < 100; i++) yield* TestClock.adjust(100)
      yield* Effect.forEach(fibers, Fiber.interrupt)
      // The rate regrows over these 10 s; slots first reserved at 0.5/s would hold the sixteen
      // fibers 2 s apart for 32 s (6 requests in these 10 s).
      assert.isAbove(started, 50)
    }))
})
