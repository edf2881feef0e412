import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Redacted, TestClock } from "effect"
import { AppJwtProvider, ConsumerJwsIssuer } from "../src/index.js"
import { jwt, makeFake } from "./fixtures.js"

const getToken = Effect.flatMap(AppJwtProvider.AppJwtProvider, (provider) => provider.get)

// TestClock starts at epoch 0, so `exp` claims here are seconds after 1970-01-01T00:00:00Z.
let issued = 0
const tokenExpiringAt = (expSeconds: number) => ({ status: 200, body: { access_token: jwt({ exp: expSeconds, n: issued++ }), token_type: "Bearer" } })

describe("AppJwtProvider", () => {
  it.effect("caches the token and renews it 5 minutes before the exp claim", () => {
    const fake = makeFake({ sentinel: () => tokenExpiringAt(3600) })
    return Effect.gen(function*() {
      const first = yield* getToken
      yield* TestClock.adjust(Duration.minutes(54))
      assert.strictEqual(Redacted.value(yield* getToken), Redacted.value(first))
      assert.strictEqual(fake.counts.sentinel, 1)
      yield* TestClock.adjust(Duration.minutes(1))
      yield* getToken
      assert.strictEqual(fake.counts.sentinel, 2, "renewed at exp - 5 min")
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("falls back to expires_in, then to one hour", () => {
    const renewsAfter = (body: Record<string, unknown>, before: Duration.Duration, after: Duration.Duration) => {
      const fake = makeFake({ sentinel: () => ({ status: 200, body }) })
      return Effect.gen(function*() {
        yield* getToken
        yield* TestClock.adjust(before)
        yield* getToken
        assert.strictEqual(fake.counts.sentinel, 1)
        yield* TestClock.adjust(after)
        yield* getToken
        assert.strictEqual(fake.counts.sentinel, 2)
      }).pipe(Effect.provide(fake.layer))
    }
    return Effect.zipRight(
      renewsAfter({ access_token: "opaque-token-1", expires_in: 1200 }, Duration.minutes(14), Duration.minutes(1)), // renewed at 15 of 20 min
      renewsAfter({ access_token: "opaque-token-2" }, Duration.minutes(54), Duration.minutes(1)) // one hour assumed: renewed at 55 min
    )
  })

  it.effect("renews a short-lived token at half its life rather than on every call", () => {
    const fake = makeFake({ sentinel: () => ({ status: 200, body: { access_token: "short", expires_in: 10 } }) })
    return Effect.gen(function*() {
      yield* getToken
      yield* TestClock.adjust(Duration.seconds(4))
      yield* getToken
      assert.strictEqual(fake.counts.sentinel, 1)
      yield* TestClock.adjust(Duration.seconds(1))
      yield* getToken
      assert.strictEqual(fake.counts.sentinel, 2)
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("one request for many concurrent callers", () => {
    const fake = makeFake({ sentinel: () => tokenExpiringAt(3600) })
    return Effect.gen(function*() {
      const tokens = yield* Effect.all(Array.from({ length: 50 }, () => getToken), { concurrency: "unbounded" })
      assert.strictEqual(new Set(tokens.map(Redacted.value)).size, 1)
      assert.strictEqual(fake.counts.sentinel, 1)
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("invalidate(stale) renews only if the stale token is still cached", () => {
    const fake = makeFake({ sentinel: () => tokenExpiringAt(3600) })
    return Effect.gen(function*() {
      const provider = yield* AppJwtProvider.AppJwtProvider
      const first = yield* provider.get
      yield* provider.invalidate(first)
      const second = yield* provider.get
      assert.notStrictEqual(Redacted.value(second), Redacted.value(first))
      yield* provider.invalidate(first) // already replaced: no effect
      assert.strictEqual(Redacted.value(yield* provider.get), Redacted.value(second))
      assert.strictEqual(fake.counts.sentinel, 2)
      yield* provider.invalidate()
      yield* provider.get
      assert.strictEqual(fake.counts.sentinel, 3)
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("wrong credentials fail once with AuthenticationError, no retries, no secret in the message", () => {
    const fake = makeFake({ sentinel: () => ({ status: 401, body: { error: "invalid_client" } }) })
    return Effect.gen(function*() {
      const issuer = yield* ConsumerJwsIssuer.ConsumerJwsIssuer
      const error = yield* Effect.flip(issuer.issue("abc"))
      assert.strictEqual(error._tag, "AuthenticationError")
      assert.strictEqual(fake.counts.sentinel, 1)
      assert.strictEqual(fake.counts.idp, 0)
      assert.notInclude(error.message, "s3cr3t")
      assert.notInclude(JSON.stringify(error), "s3cr3t")
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("retries a Sentinel 503 and then succeeds", () => {
    const fake = makeFake({ sentinel: (n) => n < 2 ? { status: 503 } : tokenExpiringAt(3600) })
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(getToken)
      yield* TestClock.adjust(Duration.seconds(30))
      yield* Fiber.join(fiber)
      assert.strictEqual(fake.counts.sentinel, 3)
    }).pipe(Effect.provide(fake.layer))
  })
})
