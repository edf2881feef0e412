/**
 * How requests are timed out and retried: a value with defaults, read from `Config` or given as a
 * layer, never literals buried in a function.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as ConsumerJwsError from "./ConsumerJwsError.js"

/** The retry and timeout settings. */
export interface Settings {
  /** How long one request may take, body included. */
  readonly attemptTimeout: Duration.Duration
  /**
   * How long one operation (an issuance, a lookup, an AppJWT), all retries and waits included, may
   * take. An issuance's deadline bounds its IDP attempts and backoff, not the time it queues at a
   * `RequestGate` (a batch's rate limit); the domain and AppJWT it needs are bounded by their own
   * lookups' deadlines.
   */
  readonly deadline: Duration.Duration
  /** The most requests made for one operation, the first included. */
  readonly maxAttempts: number
  /** The base of the exponential backoff: the n-th retry waits a random time in [0, base * 2^n). */
  readonly baseDelay: Duration.Duration
  /** The cap on one backoff delay (before a `Retry-After` floor is applied). */
  readonly maxDelay: Duration.Duration
}

/** The defaults: 10 s per attempt, 60 s per operation, 5 attempts, backoff from 500 ms capped at 20 s. */
export const defaults: Settings = {
  attemptTimeout: Duration.seconds(10),
  deadline: Duration.seconds(60),
  maxAttempts: 5,
  baseDelay: Duration.millis(500),
  maxDelay: Duration.seconds(20)
}

/** The retry policy in force; {@link defaults} unless a layer or `Effect.provideService` sets one. */
export class RetryPolicy extends Context.Reference<RetryPolicy>()("@consumer-jws/core/RetryPolicy", {
  defaultValue: (): Settings => defaults
}) {}

/** Validates settings; throws a readable error naming the setting on a value out of range. */
export const make = (settings: Partial<Settings> = {}): Settings => {
  const merged = { ...defaults, ...settings }
  if (!Number.isInteger(merged.maxAttempts) || merged.maxAttempts < 1) {
    throw new RangeError(`maxAttempts must be a whole number of at least 1, got ${merged.maxAttempts}`)
  }
  return merged
}

/** A layer that sets the retry policy. */
export const layer = (settings: Partial<Settings>): Layer.Layer<never> => Layer.succeed(RetryPolicy, make(settings))

/**
 * The policy from configuration: `LP_ATTEMPT_TIMEOUT`, `LP_DEADLINE`, `LP_RETRY_BASE_DELAY`,
 * `LP_RETRY_MAX_DELAY` (durations such as `10 seconds` or `500 millis`) and `LP_MAX_ATTEMPTS`.
 */
export const config: Config.Config<Settings> = Config.all({
  attemptTimeout: Config.duration("LP_ATTEMPT_TIMEOUT").pipe(Config.withDefault(defaults.attemptTimeout)),
  deadline: Config.duration("LP_DEADLINE").pipe(Config.withDefault(defaults.deadline)),
  maxAttempts: Config.integer("LP_MAX_ATTEMPTS").pipe(
    Config.validate({ message: "expected a whole number of at least 1", validation: (n) => n >= 1 }),
    Config.withDefault(defaults.maxAttempts)
  ),
  baseDelay: Config.duration("LP_RETRY_BASE_DELAY").pipe(Config.withDefault(defaults.baseDelay)),
  maxDelay: Config.duration("LP_RETRY_MAX_DELAY").pipe(Config.withDefault(defaults.maxDelay))
})

/** A layer that reads the policy from configuration. */
export const layerConfig: Layer.Layer<never, ConfigError.ConfigError> = Layer.effect(
  RetryPolicy,
  config
)

/**
 * The wait before the next attempt that `error` asks for as a floor: its `Retry-After`, and after a
 * 429 without one, LivePerson's guidance of at least 1 s.
 */
export const retryAfterFloor = (error: ConsumerJwsError.ConsumerJwsError): Duration.Duration => {
  switch (error._tag) {
    case "RateLimitedError":
      return error.retryAfter
    case "ServerError":
      return Duration.millis(error.retryAfterMillis ?? 0)
    default:
      return Duration.zero
  }
}

/**
 * The retry schedule of a policy: exponential backoff with full jitter, capped, with the error's
 * `Retry-After` as a floor, for at most `maxAttempts` attempts in all, only while `shouldRetry`
 * holds for the error, and never waiting past `deadlineAt()` (the next attempt then finds no time left).
 */
export const schedule = <E extends ConsumerJwsError.ConsumerJwsError>(
  settings: Settings,
  shouldRetry: (error: E) => boolean = ConsumerJwsError.isRetryable,
  /** Epoch millis by which the operation must end, read before each wait (the caller's deadline may move). */
  deadlineAt: () => number = () => Number.POSITIVE_INFINITY
): Schedule.Schedule<unknown, E> =>
  Schedule.exponential(settings.baseDelay).pipe(
    Schedule.intersect(Schedule.identity<E>()),
    Schedule.modifyDelayEffect(([exponential, error]) =>
      Effect.zipWith(
        Random.nextRange(0, Duration.toMillis(Duration.min(exponential, settings.maxDelay))),
        Clock.currentTimeMillis,
        (jittered, now) =>
          Duration.millis(Math.min(
            Math.max(Math.floor(jittered), Duration.toMillis(retryAfterFloor(error))),
            Math.max(0, deadlineAt() - now)
          ))
      )
    ),
    Schedule.intersect(Schedule.recurs(settings.maxAttempts - 1)),
    Schedule.whileInput(shouldRetry)
  )
