/**
 * The shared gate every IDP request of a batch passes (core's `RequestGate`): a pause for every fiber
 * after a 429, an adaptive rate that backs off on repeated 429s and recovers on successes, and an
 * optional fixed rate cap. Time comes from `Clock`, so `TestClock` drives it in tests.
 *
 * @since 0.1.0
 */
import type { RequestGate } from "@consumer-jws/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/** The tuning of the gate: data with defaults, see {@link defaults}. */
export interface Settings {
  /** A fixed cap on requests started per second, shared by every fiber; `undefined`: no cap. */
  readonly rate: number | undefined
  /** The pause after a 429 without a `Retry-After`, in milliseconds (LivePerson's guidance: 1 s). */
  readonly defaultRetryAfterMillis: number
  /** The multiplicative decrease on a throttle (AWS adaptive retry mode and CUBIC use 0.7). */
  readonly beta: number
  /** CUBIC's scaling constant: how fast the rate grows back after a throttle (AWS uses 0.4). */
  readonly scale: number
  /** The adaptive rate never goes below this many requests per second. */
  readonly minRate: number
  /**
   * How far over the rate requests late for their slots (the process was busy) may go to catch up:
   * with 1 (the default), no one-second window ever holds more than `rate` request starts. Above 1
   * the backlog drains faster, but requests delayed after the gate (new connections at the start)
   * then reach the server in clumps: measured at the server, 1.04 gave windows 8% over the rate, 1
   * gave 3–4%.
   */
  readonly catchUp: number
}

/** The defaults: no fixed cap, 1 s pause without `Retry-After`, beta 0.7, scale 0.4, floor 0.5 request/s, catch-up 1. */
export const defaults: Settings = {
  rate: undefined,
  defaultRetryAfterMillis: 1000,
  beta: 0.7,
  scale: 0.4,
  minRate: 0.5,
  catchUp: 1
}

/** What the gate saw, for the summary and the progress report. */
export interface Stats {
  /** Requests let through. */
  readonly requests: number
  /** Answers with HTTP 429. */
  readonly throttled: number
  /** Times the adaptive rate was lowered (one per throttle episode, not per 429). */
  readonly decreases: number
  /** The adaptive rate now, in requests per second; `undefined` while no 429 was ever seen. */
  readonly adaptiveRate: number | undefined
  /** Requests in flight now. */
  readonly inFlight: number
  /** The most requests in flight at once. */
  readonly maxInFlight: number
}

/** A gate with its statistics. */
export interface Gate extends RequestGate.Gate {
  readonly unsafeTryEnter: () => boolean
  readonly unsafeLeave: (outcome: RequestGate.Outcome) => void
  readonly stats: Effect.Effect<Stats>
}

// The measured send rate is smoothed per half-second bucket, as AWS's adaptive mode does.
const bucketMillis = 500
const smoothing = 0.8
// A request waiting for its slot looks at least this often whether the rate changed under it.
const recheckMillis = 250
// The adaptive rate growing by this factor re-paces the requests waiting at the old rate.
const repaceGrowth = 1.25

interface State {
  pausedUntil: number
  nextSlot: number
  adaptiveRate: number | undefined
  lastMaxRate: number
  lastThrottleAt: number
  /** Bumped when the rate changes enough that slots reserved at the old one are void. */
  epoch: number
  epochRate: number
  measuredRate: number
  bucketStart: number
  bucketCount: number
  requests: number
  throttled: number
  decreases: number
  inFlight: number
  maxInFlight: number
}

/**
 * Makes a gate. Its time is the `Clock` in force where it is made, for every fiber that passes it
 * (read synchronously: `enter` and `leave` run on every request, where a `Clock` step each was
 * measurable). Its state is updated synchronously, on the one JavaScript thread, so every fiber of
 * the batch shares it safely.
 */
export const make = (options: Partial<Settings> = {}): Effect.Effect<Gate> =>
  Effect.clockWith((clock) => Effect.sync(() => {
    const settings: Settings = { ...defaults, ...options }
    const state: State = {
      pausedUntil: 0,
      nextSlot: 0,
      adaptiveRate: undefined,
      lastMaxRate: 0,
      lastThrottleAt: 0,
      epoch: 0,
      epochRate: 0,
      measuredRate: 0,
      bucketStart: 0,
      bucketCount: 0,
      requests: 0,
      throttled: 0,
      decreases: 0,
      inFlight: 0,
      maxInFlight: 0
    }

    const limit = (): number | undefined =>
      state.adaptiveRate === undefined
        ? settings.rate
        : settings.rate === undefined
        ? state.adaptiveRate
        : Math.min(settings.rate, state.adaptiveRate)

    // The rate being sent: the smoothed measure, or until the first half-second bucket has closed,
    // the bucket so far (a first 429 can come within milliseconds of the start).
    const sendingRate = (now: number): number =>
      state.measuredRate > 0
        ? state.measuredRate
        : state.bucketCount * 1000 / Math.max(now - state.bucketStart, bucketMillis / 5)

    // Slots reserved at the old rate are given up (see `enter`) and reserved again from now.
    const repace = (now: number) => {
      state.epoch++
      state.epochRate = state.adaptiveRate ?? 0
      state.nextSlot = now
    }

    const measure = (now: number) => {
      // A pause after a 429 is not a measure of what can be sent: a bucket that spans one restarts
      // when it ended. Otherwise every pause would drag the measured rate down, the next 429 would
      // cut from that low base, and random 429s would spiral the rate towards the floor.
      if (state.bucketStart < state.pausedUntil && state.pausedUntil <= now) {
        state.bucketStart = state.pausedUntil
        state.bucketCount = 0
      }
      if (now - state.bucketStart >= bucketMillis) {
        const current = state.bucketCount * 1000 / Math.max(now - state.bucketStart, bucketMillis)
        state.measuredRate = state.measuredRate === 0 ? current : smoothing * current + (1 - smoothing) * state.measuredRate
        state.bucketStart = now
        state.bucketCount = 0
      }
    }

    // The wait before this request may start (0: now), reserving its slot; or a pause to sit out first.
    const reserve = (now: number): { readonly _tag: "Go" | "Wait" | "Paused"; readonly millis: number } => {
      if (now < state.pausedUntil) return { _tag: "Paused", millis: state.pausedUntil - now }
      const rate = limit()
      if (rate === undefined) return { _tag: "Go", millis: 0 }
      const slot = Math.max(now, state.nextSlot)
      state.nextSlot = slot + 1000 / rate
      return slot <= now ? { _tag: "Go", millis: 0 } : { _tag: "Wait", millis: slot - now }
    }

    // Requests late for their slots (their timers fired late: the process was busy) would all start at
    // once. The start times of the last second, a queue from `windowHead`, hold them to `catchUp * rate`
    // a second (the fixed rate: the adaptive one has its own pacing), so the backlog drains over the
    // next second instead of in one burst.
    const window: Array<number> = []
    let windowHead = 0
    const windowWait = (now: number): number => {
      const rate = settings.rate
      if (rate === undefined) return 0
      while (windowHead < window.length && window[windowHead]! <= now - 1000) windowHead++
      if (windowHead > 1024 && windowHead * 2 > window.length) {
        window.splice(0, windowHead)
        windowHead = 0
      }
      const allowed = Math.max(1, Math.floor(settings.catchUp * rate))
      return window.length - windowHead < allowed ? 0 : window[window.length - allowed]! + 1000 - now
    }

    const admit = (now: number) => {
      measure(now)
      if (settings.rate !== undefined) window.push(now)
      state.bucketCount++
      state.requests++
      state.inFlight++
      if (state.inFlight > state.maxInFlight) state.maxInFlight = state.inFlight
    }

    const paced: Effect.Effect<void> = Effect.gen(function*() {
      while (true) {
        const now = clock.unsafeCurrentTimeMillis()
        const decision = reserve(now)
        if (decision._tag === "Go") break
        if (decision._tag === "Paused") {
          yield* clock.sleep(Duration.millis(decision.millis))
          continue
        }
        // The slot is ours unless the rate changes while we wait: a 429 (then sit out its pause) or
        // a recovery that leaves slots reserved at a low rate far too late (16 fibers at 0.5/s would
        // hold slots 32 s ahead). Then reserve again at the new rate.
        const epoch = state.epoch
        const slotAt = now + decision.millis
        let at = now
        while (at < slotAt && state.epoch === epoch) {
          yield* clock.sleep(Duration.millis(Math.min(Math.ceil(slotAt - at), recheckMillis)))
          at = clock.unsafeCurrentTimeMillis()
        }
        if (state.epoch === epoch && at >= state.pausedUntil) break
      }
      while (true) {
        const now = clock.unsafeCurrentTimeMillis()
        const wait = windowWait(now)
        if (wait === 0) return admit(now)
        yield* clock.sleep(Duration.millis(Math.ceil(wait)))
      }
    })

    // Without a rate to keep (no --rate, no 429 yet) and outside a pause, a request goes at once:
    // the common case, on every request, so it skips the pacing loop (and with `unsafeTryEnter`,
    // any runtime step).
    const unsafeTryEnter = (): boolean => {
      const now = clock.unsafeCurrentTimeMillis()
      if (now < state.pausedUntil || limit() !== undefined) return false
      admit(now)
      return true
    }
    const enter: Effect.Effect<void> = Effect.suspend(() => unsafeTryEnter() ? Effect.void : paced)

    const throttle = (now: number, retryAfterMillis: number | undefined) => {
      state.throttled++
      const pausedAlready = now < state.pausedUntil
      state.pausedUntil = Math.max(state.pausedUntil, now + (retryAfterMillis ?? settings.defaultRetryAfterMillis))
      // A 429 that lands while a pause is already on is the same episode (requests already in flight
      // when the first 429 came): lower the rate once per episode, as CUBIC does once per loss window.
      if (pausedAlready) return
      measure(now)
      // Cut from what was being sent (AWS: the measured rate, or the adaptive one when lower).
      const sending = Math.max(sendingRate(now), settings.minRate)
      const current = state.adaptiveRate === undefined ? sending : Math.min(state.adaptiveRate, sending)
      state.lastMaxRate = current
      state.lastThrottleAt = now
      state.adaptiveRate = Math.max(settings.minRate, current * settings.beta)
      state.decreases++
      repace(state.pausedUntil)
    }

    const recover = (now: number) => {
      if (state.adaptiveRate === undefined) return
      // CUBIC: W(t) = C (t - K)^3 + Wmax, K = cbrt(Wmax (1 - beta) / C); t in seconds since the throttle.
      const k = Math.cbrt(state.lastMaxRate * (1 - settings.beta) / settings.scale)
      const t = (now - state.lastThrottleAt) / 1000
      const cubic = settings.scale * Math.pow(t - k, 3) + state.lastMaxRate
      // Never more than twice what is actually being sent (AWS's bound), so an idle spell cannot
      // grow the rate to something the server never accepted.
      const next = Math.max(settings.minRate, Math.min(cubic, 2 * Math.max(state.measuredRate, settings.minRate)))
      state.adaptiveRate = Math.max(state.adaptiveRate, next)
      if (state.adaptiveRate >= state.epochRate * repaceGrowth) repace(now)
    }

    const unsafeLeave = (outcome: RequestGate.Outcome): void => {
      const now = clock.unsafeCurrentTimeMillis()
      state.inFlight = Math.max(0, state.inFlight - 1)
      if (outcome._tag !== "Answered") return
      if (outcome.status === 429) throttle(now, outcome.retryAfterMillis)
      else if (outcome.status >= 200 && outcome.status < 300) recover(now)
    }
    const leave = (outcome: RequestGate.Outcome): Effect.Effect<void> => Effect.sync(() => unsafeLeave(outcome))

    const stats = Effect.sync((): Stats => ({
      requests: state.requests,
      throttled: state.throttled,
      decreases: state.decreases,
      adaptiveRate: state.adaptiveRate,
      inFlight: state.inFlight,
      maxInFlight: state.maxInFlight
    }))

    return { enter, leave, unsafeTryEnter, unsafeLeave, stats }
  }))
