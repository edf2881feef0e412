import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Redacted, TestClock } from "effect"
import { ConsumerJwsIssuer, RetryPolicy } from "../src/index.js"
import { accountId, consumerJws, makeFake } from "./fixtures.js"

const issue = (consumerId: string) => Effect.flatMap(ConsumerJwsIssuer.ConsumerJwsIssuer, (issuer) => issuer.issue(consumerId))

describe("ConsumerJwsIssuer", () => {
  it.effect("sends the documented request: raw AppJWT, JSON body, v=1.0, secret only in Sentinel's form body", () => {
    const fake = makeFake()
    return Effect.gen(function*() {
      const issued = yield* issue("random_id0.80668702615")
      assert.strictEqual(issued.claims.ext_consumer_id, "random_id0.80668702615")
      assert.strictEqual(issued.claims.account_id, accountId)
      assert.strictEqual(issued.attempts, 1)
      assert.isTrue(Redacted.isRedacted(issued.token))
      const [csdsIdp, csdsSentinel, sentinel, idp] = fake.requests
      assert.strictEqual(fake.requests.length, 4)
      assert.strictEqual(csdsIdp!.url.href, `https://api.liveperson.net/api/account/${accountId}/service/idp/baseURI.json?version=1.0`)
      assert.strictEqual(csdsSentinel!.url.href, `https://api.liveperson.net/api/account/${accountId}/service/sentinel/baseURI.json?version=1.0`)
      assert.strictEqual(sentinel!.url.href, `https://lp.example.com/sentinel/api/account/${accountId}/app/token?v=1.0&grant_type=client_credentials`)
      assert.strictEqual(sentinel!.body, "client_id=client-id&client_secret=s3cr3t-client-secret")
      assert.strictEqual(sentinel!.headers["content-type"], "application/x-www-form-urlencoded")
      const idpRequest = idp!
      assert.strictEqual(idpRequest.url.href, `https://lp.example.com/api/account/${accountId}/consumer?v=1.0`)
      assert.match(idpRequest.headers["authorization"]!, /^eyJ/)
      assert.strictEqual(idpRequest.headers["content-type"], "application/json")
      assert.deepStrictEqual(JSON.parse(idpRequest.body), { ext_consumer_id: "random_id0.80668702615" })
      for (const request of fake.requests) assert.notInclude(request.url.href, "s3cr3t")
      // Traced (the test runs with Effect's tracer on), but no trace headers reach LivePerson.
      for (const request of fake.requests) {
        assert.notProperty(request.headers, "traceparent", request.url.href)
        assert.notProperty(request.headers, "b3", request.url.href)
      }
    }).pipe(Effect.provide(fake.layer), Effect.withSpan("caller"))
  })

  it.effect("retries a 503 burst with backoff and succeeds", () => {
    const fake = makeFake({ idp: (n, request) => n < 3 ? { status: 503 } : { status: 201, body: { token: consumerJws(JSON.parse(request.body).ext_consumer_id) } } })
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(issue("abc"))
      yield* TestClock.adjust(Duration.seconds(30))
      const issued = yield* Fiber.join(fiber)
      assert.strictEqual(issued.attempts, 4)
      assert.strictEqual(fake.counts.idp, 4)
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("does not retry a 400, and reports it as invalid input", () => {
    const fake = makeFake({ idp: () => ({ status: 400, body: { error: "bad ext_consumer_id" } }) })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(issue("abc"))
      assert.strictEqual(error._tag, "InvalidInputError")
      assert.strictEqual(fake.counts.idp, 1)
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("refuses an invalid consumer ID before any request", () => {
    const fake = makeFake()
    return Effect.gen(function*() {
      const error = yield* Effect.flip(issue(" padded "))
      assert.strictEqual(error._tag, "InvalidInputError")
      assert.strictEqual(fake.requests.length, 0)
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("waits at least the Retry-After of a 429 before the next attempt", () => {
    const fake = makeFake({
      idp: (n, request) => n === 0 ? { status: 429, headers: { "retry-after": "7" } } : { status: 201, body: { token: consumerJws(JSON.parse(request.body).ext_consumer_id) } }
    })
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(issue("abc"))
      yield* TestClock.adjust(Duration.millis(6999))
      assert.strictEqual(fake.counts.idp, 1, "no second attempt inside the Retry-After")
      yield* TestClock.adjust(Duration.seconds(1))
      const issued = yield* Fiber.join(fiber)
      assert.strictEqual(issued.attempts, 2)
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("waits at least 1 s after a 429 without Retry-After, and honours an HTTP-date", () => {
    // TestClock starts at 0: the second answer comes at 1 s and asks for a wait until 6 s.
    const fake = makeFake({
      idp: (n, request) =>
        n === 0 ? { status: 429 } :
        n === 1 ? { status: 503, headers: { "retry-after": new Date(6000).toUTCString() } } :
        { status: 201, body: { token: consumerJws(JSON.parse(request.body).ext_consumer_id) } }
    })
    return Effect.gen(function*() {
      // A policy whose own backoff is tiny, so that only the floors can explain the waits.
      const fiber = yield* Effect.fork(issue("abc").pipe(Effect.provideService(RetryPolicy.RetryPolicy, RetryPolicy.make({ baseDelay: Duration.millis(1), maxDelay: Duration.millis(1) }))))
      yield* TestClock.adjust(Duration.millis(999))
      assert.strictEqual(fake.counts.idp, 1)
      yield* TestClock.adjust(Duration.millis(1))
      assert.strictEqual(fake.counts.idp, 2)
      yield* TestClock.adjust(Duration.millis(3000))
      assert.strictEqual(fake.counts.idp, 2, "the HTTP-date floor holds the third attempt back")
      yield* TestClock.adjust(Duration.seconds(10))
      assert.strictEqual((yield* Fiber.join(fiber)).attempts, 3)
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("gives up after maxAttempts with the last error", () => {
    const fake = makeFake({ idp: () => ({ status: 500 }) })
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.flip(issue("abc")))
      yield* TestClock.adjust(Duration.minutes(5))
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "ServerError")
      assert.strictEqual(fake.counts.idp, RetryPolicy.defaults.maxAttempts)
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("times out a hung attempt and retries it", () => {
    const fake = makeFake({ idp: (n, request) => n === 0 ? "hang" : { status: 201, body: { token: consumerJws(JSON.parse(request.body).ext_consumer_id) } } })
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(issue("abc"))
      yield* TestClock.adjust(Duration.seconds(9))
      assert.strictEqual(fake.counts.idp, 1)
      yield* TestClock.adjust(Duration.seconds(30))
      assert.strictEqual((yield* Fiber.join(fiber)).attempts, 2)
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("fails with a deadline TimeoutError when retries outlast the overall deadline", () => {
    const fake = makeFake({ idp: () => "hang" })
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.flip(issue("abc").pipe(
        Effect.provideService(RetryPolicy.RetryPolicy, RetryPolicy.make({ maxAttempts: 100, deadline: Duration.seconds(25) }))
      )))
      yield* TestClock.adjust(Duration.seconds(26))
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "TimeoutError")
      assert.strictEqual(error._tag === "TimeoutError" && error.scope, "deadline")
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("renews the AppJWT once on a 401, then fails with UnauthorizedError carrying the errorCode", () => {
    const unauthorized = { status: 401, body: { kind: "resp", code: 401, body: { title: "Unauthorized", errorCode: 40102 } } }
    const fake = makeFake({ idp: () => unauthorized })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(issue("abc"))
      assert.strictEqual(error._tag, "UnauthorizedError")
      assert.strictEqual(error._tag === "UnauthorizedError" && error.errorCode, 40102)
      assert.strictEqual(fake.counts.idp, 2)
      assert.strictEqual(fake.counts.sentinel, 2, "one renewal")
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("a 401 followed by success issues after one renewal, sending the renewed AppJWT", () => {
    const appJwts = ["first-app-jwt", "renewed-app-jwt"]
    const fake = makeFake({
      sentinel: (n) => ({ status: 200, body: { access_token: appJwts[n], expires_in: 3600 } }),
      idp: (n, request) => n === 0 ? { status: 401 } : { status: 201, body: { token: consumerJws(JSON.parse(request.body).ext_consumer_id) } }
    })
    return Effect.gen(function*() {
      const issued = yield* issue("abc")
      assert.strictEqual(issued.attempts, 2)
      assert.strictEqual(fake.counts.sentinel, 2)
      const sentToIdp = fake.requests.filter((r) => r.url.pathname.endsWith("/consumer")).map((r) => r.headers["authorization"])
      assert.deepStrictEqual(sentToIdp, appJwts)
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("refuses a token whose claims name another consumer or account", () => {
    const fake = makeFake({ idp: () => ({ status: 201, body: { token: consumerJws("someone-else") } }) })
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.flip(issue("abc")))
      yield* TestClock.adjust(Duration.minutes(5))
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "UnexpectedResponseError")
      assert.match(error.message, /claims/)
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("reports a malformed 201 body without echoing a token, and retries it", () => {
    const fake = makeFake({ idp: (n, request) => n === 0 ? { status: 201, body: `{"tok` } : { status: 201, body: { token: consumerJws(JSON.parse(request.body).ext_consumer_id) } } })
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(issue("abc"))
      yield* TestClock.adjust(Duration.seconds(30))
      assert.strictEqual((yield* Fiber.join(fiber)).attempts, 2)
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("a 201 body that is the token alone, not the documented object, is reported without the token", () => {
    const fake = makeFake({ idp: (_, request) => ({ status: 201, body: JSON.stringify(consumerJws(JSON.parse(request.body).ext_consumer_id)) }) })
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.flip(issue("abc")))
      yield* TestClock.adjust(Duration.minutes(5))
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "UnexpectedResponseError")
      assert.include(error.message, "not the documented shape")
      assert.notInclude(error.message, "eyJ")
      assert.notInclude(JSON.stringify(error), "eyJ")
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("issueOutcome never fails and counts attempts on failure", () => {
    const fake = makeFake({ idp: () => ({ status: 404, body: "nope" }) })
    return Effect.gen(function*() {
      const issuer = yield* ConsumerJwsIssuer.ConsumerJwsIssuer
      const outcome = yield* issuer.issueOutcome("abc")
      assert.strictEqual(outcome._tag, "Failed")
      assert.strictEqual(outcome.attempts, 1)
      assert.strictEqual(outcome._tag === "Failed" && outcome.error._tag, "UnexpectedResponseError")
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("100 concurrent issues share one domain lookup per service and one AppJWT request", () => {
    const fake = makeFake()
    return Effect.gen(function*() {
      const ids = Array.from({ length: 100 }, (_, i) => `consumer-${i}`)
      const issued = yield* Effect.forEach(ids, issue, { concurrency: "unbounded" })
      assert.deepStrictEqual(issued.map((jws) => jws.claims.ext_consumer_id), ids)
      assert.strictEqual(fake.counts.csds, 2, "idp and sentinel, once each")
      assert.strictEqual(fake.counts.sentinel, 1)
      assert.strictEqual(fake.counts.idp, 100)
    }).pipe(Effect.provide(fake.layer))
  })
})
