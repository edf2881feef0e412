import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Either, Fiber, TestClock } from "effect"
import { ConsumerJwsIssuer, DomainResolver, ServiceName } from "../src/index.js"
import { accountId, makeFake } from "./fixtures.js"

const resolve = (service: ServiceName.ServiceName) => Effect.flatMap(DomainResolver.DomainResolver, (resolver) => resolver.resolve(service))

describe("DomainResolver", () => {
  it.effect("caches a domain for its TTL (10 minutes by default)", () => {
    const fake = makeFake()
    return Effect.gen(function*() {
      assert.strictEqual(yield* resolve(ServiceName.idp), "lp.example.com")
      yield* TestClock.adjust(Duration.minutes(9))
      yield* resolve(ServiceName.idp)
      assert.strictEqual(fake.counts.csds, 1)
      yield* TestClock.adjust(Duration.minutes(2))
      yield* resolve(ServiceName.idp)
      assert.strictEqual(fake.counts.csds, 2)
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("does not cache failures", () => {
    const fake = makeFake({ csds: (n) => n === 0 ? { status: 404 } : { status: 200, body: { baseURI: "lp.example.com" } } })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(resolve(ServiceName.idp))
      assert.strictEqual(error._tag, "DomainLookupError")
      assert.match(error.message, /404/)
      assert.strictEqual(yield* resolve(ServiceName.idp), "lp.example.com")
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("refuses a bad baseURI and never sends a request to it", () => {
    const bad = ["https://evil.example", "evil.example/path", "user@evil.example", "evil .example", "", "evil.example?x"]
    return Effect.forEach(bad, (baseURI) => {
      const fake = makeFake({ csds: () => ({ status: 200, body: { baseURI } }) })
      return Effect.gen(function*() {
        const issuer = yield* ConsumerJwsIssuer.ConsumerJwsIssuer
        const error = yield* Effect.flip(issuer.issue("abc"))
        assert.strictEqual(error._tag, "BadDomainError", baseURI)
        assert.strictEqual(fake.counts.sentinel + fake.counts.idp, 0)
        for (const request of fake.requests) assert.strictEqual(request.url.host, "api.liveperson.net")
      }).pipe(Effect.provide(fake.layer))
    }, { discard: true })
  })

  it.effect("drops a cached domain after a transport failure to it, and looks it up again", () => {
    let port = 1000
    const fake = makeFake({
      csds: (_, request) => ({ status: 200, body: { baseURI: request.url.pathname.includes("/idp/") ? `moved.example:${port++}` : "lp.example.com" } }),
      idp: (n, request) => n === 0 ? "reset" : { status: 201, body: { token: JSON.parse(request.body).ext_consumer_id && consumerToken(JSON.parse(request.body).ext_consumer_id) } }
    })
    return Effect.gen(function*() {
      const issuer = yield* ConsumerJwsIssuer.ConsumerJwsIssuer
      const fiber = yield* Effect.fork(issuer.issue("abc"))
      yield* TestClock.adjust(Duration.seconds(30))
      yield* Fiber.join(fiber)
      const idpHosts = fake.requests.filter((r) => r.url.pathname.endsWith("/consumer")).map((r) => r.url.host)
      assert.deepStrictEqual(idpHosts, ["moved.example:1000", "moved.example:1001"])
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("resolveAll returns every service and flags unusable ones", () => {
    const fake = makeFake({
      csds: () => ({
        status: 200,
        body: { baseURIs: [
          { service: "idp", account: accountId, baseURI: "va.idp.liveperson.net" },
          { service: "sentinel", account: accountId, baseURI: "va.sentinel.liveperson.net" },
          { service: "weird", account: accountId, baseURI: "http://x" }
        ] }
      })
    })
    return Effect.gen(function*() {
      const resolver = yield* DomainResolver.DomainResolver
      const all = yield* resolver.resolveAll
      assert.deepStrictEqual(all.map((d) => d.service), ["idp", "sentinel", "weird"])
      assert.isTrue(Either.isLeft(all[2]!.baseUri))
      assert.strictEqual(fake.requests[0]!.url.pathname, `/api/account/${accountId}/service/baseURI.json`)
      // The valid ones are cached: no further lookup.
      assert.strictEqual(yield* resolver.resolve(ServiceName.idp), "va.idp.liveperson.net")
      assert.strictEqual(fake.counts.csds, 1)
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("a domain served from the cache keeps its TTL from the lookup, and resolveAll replaces one in use", () => {
    const fake = makeFake({
      csds: (n, request) =>
        request.url.pathname.endsWith("/service/baseURI.json")
          ? { status: 200, body: { baseURIs: [{ service: "idp", account: accountId, baseURI: `all${n}.example.com` }] } }
          : { status: 200, body: { baseURI: `one${n}.example.com` } }
    })
    return Effect.gen(function*() {
      const resolver = yield* DomainResolver.DomainResolver
      yield* resolver.resolveAll
      yield* TestClock.adjust(Duration.minutes(9))
      assert.strictEqual(yield* resolver.resolve(ServiceName.idp), "all0.example.com")
      // Ten minutes after the lookup, not after the first `resolve`: looked up again.
      yield* TestClock.adjust(Duration.minutes(2))
      assert.strictEqual(yield* resolver.resolve(ServiceName.idp), "one1.example.com")
      assert.strictEqual(fake.counts.csds, 2)
      yield* resolver.resolveAll
      assert.strictEqual(yield* resolver.resolve(ServiceName.idp), "all2.example.com")
      assert.strictEqual(fake.counts.csds, 3)
    }).pipe(Effect.provide(fake.layer))
  })
})

import { consumerJws as consumerToken } from "./fixtures.js"
