/**
 * The core flow over real HTTP on loopback, against the emulator.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { AppJwtProvider, ConsumerJwsClient, ConsumerJwsIssuer, DomainResolver, RequestGate, RetryPolicy, UndiciHttpClient } from "@consumer-jws/core"
import { Emulator } from "@consumer-jws/emulator"
import { ConfigProvider, Duration, Effect, Layer, Redacted } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Jose from "jose"

const clientFor = (emulator: Emulator.Emulator, overrides: { clientSecret?: string; csdsUrl?: string } = {}) =>
  ConsumerJwsClient.layer(ConsumerJwsClient.makeSettings({
    accountId: emulator.accountId,
    clientId: emulator.clientId,
    clientSecret: overrides.clientSecret === undefined ? emulator.clientSecret : Redacted.make(overrides.clientSecret),
    csdsUrl: overrides.csdsUrl ?? emulator.url
  }))

// Enough attempts that a burst of 20% 503s cannot exhaust them (0.2^10), with short waits.
const fastRetries = RetryPolicy.layer({ maxAttempts: 10, baseDelay: Duration.millis(20), maxDelay: Duration.millis(200), attemptTimeout: Duration.seconds(2) })

const issue = (consumerId: string) => Effect.flatMap(ConsumerJwsIssuer.ConsumerJwsIssuer, (issuer) => issuer.issue(consumerId))

describe("core against the emulator", () => {
  it.scopedLive("issues a ConsumerJWS that verifies against the emulator's JWKS", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator.make({ keyBits: 2048 })
      const issued = yield* issue("random_id0.80668702615").pipe(Effect.provide(clientFor(emulator)), Effect.provide(NodeHttpClient.layerUndici))
      const { payload, protectedHeader } = yield* Effect.promise(() =>
        Jose.jwtVerify(Redacted.value(issued.token), Jose.createLocalJWKSet(emulator.jwks as Jose.JSONWebKeySet))
      )
      assert.strictEqual(protectedHeader.alg, "RS256")
      assert.strictEqual(payload["ext_consumer_id"], "random_id0.80668702615")
      assert.strictEqual(issued.claims.lp_consumer_id, payload["lp_consumer_id"])
      assert.match(issued.claims.lp_consumer_id, /^[0-9a-f]{64}$/)
    }))

  it.scopedLive("works from nothing but four settings in the environment", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator.make({ keyBits: 1024, accountId: "le31457780" })
      const env = new Map([
        ["LP_ACCOUNT_ID", emulator.accountId],
        ["LP_CLIENT_ID", emulator.clientId],
        ["LP_CLIENT_SECRET", Redacted.value(emulator.clientSecret)],
        ["LP_CSDS_URL", emulator.url]
      ])
      const issued = yield* issue("someone").pipe(
        Effect.provide(ConsumerJwsClient.layerConfig),
        Effect.provide(NodeHttpClient.layerUndici),
        Effect.withConfigProvider(ConfigProvider.fromMap(env))
      )
      assert.strictEqual(issued.claims.account_id, "le31457780")
    }))

  it.scopedLive("100 concurrent issues share one lookup per service and one AppJWT request", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator.make({ keyBits: 1024 })
      const ids = Array.from({ length: 100 }, (_, i) => `concurrent-${i}`)
      yield* Effect.forEach(ids, issue, { concurrency: "unbounded" }).pipe(
        Effect.provide(clientFor(emulator)),
        Effect.provide(NodeHttpClient.layerUndici)
      )
      const stats = yield* emulator.stats
      assert.deepStrictEqual(stats.routes.csds, { "200": 2 })
      assert.deepStrictEqual(stats.routes.sentinel, { "200": 1 })
      assert.deepStrictEqual(stats.routes.idp, { "201": 100 })
      assert.strictEqual(stats.distinctConsumerIds, 100)
    }))

  it.scopedLive("recovers from a 503 burst", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator.make({ keyBits: 1024, seed: 7, faults: { rate503: 0.2 } })
      const ids = Array.from({ length: 30 }, (_, i) => `burst-${i}`)
      const issued = yield* Effect.forEach(ids, issue, { concurrency: 8 }).pipe(
        Effect.provide(clientFor(emulator)),
        Effect.provide(fastRetries),
        Effect.provide(NodeHttpClient.layerUndici)
      )
      assert.strictEqual(issued.length, 30)
      const stats = yield* emulator.stats
      assert.isAbove(stats.routes.idp["503"] ?? 0, 0)
      assert.strictEqual(stats.routes.idp["201"], 30)
      assert.strictEqual(issued.reduce((sum, jws) => sum + jws.attempts, 0), 30 + (stats.routes.idp["503"] ?? 0))
    }))

  it.scopedLive("every IDP request passes the RequestGate in force and tells it how it ended, with or without its fast path", () =>
    Effect.gen(function*() {
      for (const fastPath of [false, true]) {
        const emulator = yield* Emulator.make({ keyBits: 1024, seed: 3, faults: { rate503: 0.3 } })
        const seen = { entered: 0, statuses: [] as Array<number> }
        const record = (outcome: RequestGate.Outcome) => {
          if (outcome._tag === "Answered") seen.statuses.push(outcome.status)
        }
        const gate: RequestGate.Gate = {
          enter: Effect.sync(() => void seen.entered++),
          leave: (outcome) => Effect.sync(() => record(outcome)),
          ...(fastPath ? { unsafeTryEnter: () => (seen.entered++, true), unsafeLeave: record } : {})
        }
        const ids = Array.from({ length: 20 }, (_, i) => `gated-${i}`)
        yield* Effect.forEach(ids, issue, { concurrency: 4 }).pipe(
          Effect.provideService(RequestGate.RequestGate, gate),
          Effect.provide(clientFor(emulator)),
          Effect.provide(fastRetries),
          Effect.provide(UndiciHttpClient.layer)
        )
        const stats = yield* emulator.stats
        const served = Object.values(stats.routes.idp).reduce((sum, count) => sum + count, 0)
        assert.strictEqual(seen.entered, served, `fast path ${fastPath}`)
        assert.strictEqual(seen.statuses.filter((status) => status === 201).length, 20)
        assert.strictEqual(seen.statuses.filter((status) => status === 503).length, stats.routes.idp["503"] ?? 0)
        assert.isAbove(stats.routes.idp["503"] ?? 0, 0)
      }
    }))

  it.scopedLive("a 401 renews the AppJWT once and succeeds", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator.make({ keyBits: 1024 })
      // The first AppJWT handed out is one the IDP does not accept (revoked, as it were).
      let handedOut = 0
      const revokedFirst = Layer.effect(
        AppJwtProvider.AppJwtProvider,
        Effect.map(AppJwtProvider.AppJwtProvider, (real) =>
          AppJwtProvider.AppJwtProvider.of({
            get: Effect.suspend(() =>
              handedOut++ === 0 ? Effect.succeed(Redacted.make("eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjF9.revoked")) : real.get
            ),
            invalidate: real.invalidate
          }))
      )
      const settings = ConsumerJwsClient.makeSettings({ accountId: emulator.accountId, clientId: emulator.clientId, clientSecret: emulator.clientSecret, csdsUrl: emulator.url })
      const issuer = ConsumerJwsIssuer.layer({ accountId: settings.accountId }).pipe(
        Layer.provide(revokedFirst),
        Layer.provide(AppJwtProvider.layer(settings)),
        Layer.provideMerge(DomainResolver.layer({ accountId: settings.accountId, csdsUrl: settings.csdsUrl }))
      )
      const issued = yield* issue("renewal").pipe(Effect.provide(issuer), Effect.provide(NodeHttpClient.layerUndici))
      assert.strictEqual(issued.attempts, 2)
      const stats = yield* emulator.stats
      assert.deepStrictEqual(stats.routes.idp, { "201": 1, "401": 1 })
    }))

  it.scopedLive("a 400 from the IDP is not retried", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator.make({ keyBits: 1024 })
      // A client whose IDP requests lose their body: the emulator answers 400.
      const mangling = Layer.effect(
        HttpClient.HttpClient,
        Effect.map(HttpClient.HttpClient, (client) =>
          HttpClient.mapRequest(client, (request) =>
            request.url.endsWith("/consumer?v=1.0") || request.url.includes("/consumer") && request.method === "POST"
              ? HttpClientRequest.bodyText(request, "{not json", "application/json")
              : request))
      ).pipe(Layer.provide(NodeHttpClient.layerUndici))
      const error = yield* Effect.flip(issue("abc").pipe(Effect.provide(clientFor(emulator)), Effect.provide(mangling)))
      assert.strictEqual(error._tag, "InvalidInputError")
      assert.deepStrictEqual((yield* emulator.stats).routes.idp, { "400": 1 })
    }))

  it.scopedLive("wrong credentials fail once, without retries", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator.make({ keyBits: 1024 })
      const error = yield* Effect.flip(issue("abc").pipe(
        Effect.provide(clientFor(emulator, { clientSecret: "wrong-secret" })),
        Effect.provide(NodeHttpClient.layerUndici)
      ))
      assert.strictEqual(error._tag, "AuthenticationError")
      const stats = yield* emulator.stats
      assert.deepStrictEqual(stats.routes.sentinel, { "401": 1 })
      assert.deepStrictEqual(stats.routes.idp, {})
      assert.notInclude(error.message, "wrong-secret")
    }))

  it.scopedLive("a bad baseURI from CSDS is refused and nothing is sent to it", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator.make({ keyBits: 1024 })
      const target = `127.0.0.1:${emulator.port}`
      for (const baseURI of [`http://${target}`, `${target}/x`, `user@${target}`, ` ${target}`, `${target}?q`, ""]) {
        const csds = yield* fakeCsds(baseURI)
        const error = yield* Effect.flip(issue("abc").pipe(
          Effect.provide(clientFor(emulator, { csdsUrl: csds })),
          Effect.provide(NodeHttpClient.layerUndici)
        ))
        assert.strictEqual(error._tag, "BadDomainError", baseURI)
      }
      const stats = yield* emulator.stats
      assert.deepStrictEqual(stats.routes.sentinel, {})
      assert.deepStrictEqual(stats.routes.idp, {})
    }))

  it.scopedLive("a non-loopback host is never sent plain HTTP: it gets https", () =>
    Effect.gen(function*() {
      // CSDS names a host that is not loopback: the client must use https, never http.
      const seen: Array<string> = []
      const client = HttpClient.make((request) => {
        seen.push(request.url)
        return Effect.die("no network in this test")
      })
      const csds = yield* fakeCsds("lp.example.com")
      yield* issue("abc").pipe(
        Effect.provide(ConsumerJwsClient.layer(ConsumerJwsClient.makeSettings({ accountId: "123", clientId: "c", clientSecret: Redacted.make("s"), csdsUrl: csds }))),
        Effect.provide(Layer.effect(HttpClient.HttpClient, Effect.map(HttpClient.HttpClient, (real) =>
          HttpClient.make((request) => request.url.startsWith(csds) ? real.execute(request) : client.execute(request))))),
        Effect.provide(NodeHttpClient.layerUndici),
        Effect.exit
      )
      assert.isAbove(seen.length, 0)
      for (const url of seen) assert.match(url, /^https:\/\/lp\.example\.com\//)
    }))
})

/** A CSDS that answers `baseURI` for every service; closed with the scope. */
const fakeCsds = (baseURI: string) =>
  Effect.acquireRelease(
    Effect.async<Http.Server>((resume) => {
      // Answers every lookup with the same baseURI, whatever the service.
      const server = Http.createServer((_, response) => {
        response.writeHead(200, { "content-type": "application/json" })
        response.end(JSON.stringify({ service: "idp", account: "123", baseURI }))
      })
      server.listen(0, "127.0.0.1", () => {
        resume(Effect.succeed(server))
      })
    }),
    (server) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      })
  ).pipe(Effect.map((server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`))
