import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { createRemoteJWKSet, decodeProtectedHeader, importJWK, jwtVerify, SignJWT } from "jose"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Emulator } from "../src/index.js"
import * as Client from "./support/LpClient.js"

const account = Emulator.defaults.accountId

const start = (options?: Emulator.Options) =>
  Effect.map(Emulator.make(options), (emulator) => ({
    emulator,
    jwks: createRemoteJWKSet(new URL(`${emulator.url}/.well-known/jwks.json`)),
    appJwt: () =>
      Client.appJwt(emulator.url, emulator.accountId, emulator.clientId, Redacted.value(emulator.clientSecret))
  }))

const response = (outcome: Client.Outcome) => {
  assert.strictEqual(outcome._tag, "Response")
  return outcome as Extract<Client.Outcome, { _tag: "Response" }>
}

describe("CSDS", () => {
  it.scoped("answers one service and all services with the emulator's own host:port", () =>
    Effect.gen(function*() {
      const { emulator } = yield* start()
      const host = `127.0.0.1:${emulator.port}`
      assert.strictEqual(emulator.url, `http://${host}`)
      const idp = yield* Effect.promise(() => Client.getJson(Client.csdsUrl(emulator.url, account, "idp")))
      assert.deepStrictEqual(idp, { service: "idp", account, baseURI: host })
      const all = yield* Effect.promise(() => Client.getJson(Client.csdsUrl(emulator.url, account)))
      assert.deepStrictEqual(all, {
        baseURIs: ["idp", "sentinel", "asyncMessagingEnt", "agentVep", "msgHist", "leDataReporting"].map((service) => ({
          service,
          account,
          baseURI: host
        }))
      })
    }))

  it.scoped("answers 404 for an unknown account or service (names are case-sensitive), 400 without version=1.0", () =>
    Effect.gen(function*() {
      const { emulator } = yield* start()
      const statuses = yield* Effect.promise(() =>
        Promise.all([
          Client.exchange(Client.csdsUrl(emulator.url, "99999999", "idp"), {}),
          Client.exchange(Client.csdsUrl(emulator.url, "99999999"), {}),
          Client.exchange(Client.csdsUrl(emulator.url, account, "nope"), {}),
          Client.exchange(Client.csdsUrl(emulator.url, account, "IDP"), {}),
          Client.exchange(Client.csdsUrl(emulator.url, account, "idp", ""), {}),
          Client.exchange(Client.csdsUrl(emulator.url, account, "idp", "?version=2.0"), {}),
          Client.exchange(Client.csdsUrl(emulator.url, account, undefined, ""), {})
        ])
      )
      assert.deepStrictEqual(statuses.map(Client.label), ["404", "404", "404", "404", "400", "400", "400"])
      const stats = yield* emulator.stats
      assert.deepStrictEqual(stats.routes.csds, { "404": 4, "400": 3 })
    }))

  it.scoped("a non-numeric account works everywhere", () =>
    Effect.gen(function*() {
      const { emulator, appJwt } = yield* start({ accountId: "le31457780" })
      const idp = yield* Effect.promise(() => Client.getJson(Client.csdsUrl(emulator.url, "le31457780", "idp")))
      assert.deepStrictEqual(idp, { service: "idp", account: "le31457780", baseURI: `127.0.0.1:${emulator.port}` })
      const token = yield* Effect.promise(appJwt)
      const issued = response(
        yield* Effect.promise(() => Client.requestConsumerJws(emulator.url, "le31457780", token, `{"ext_consumer_id":"a"}`))
      )
      assert.strictEqual(issued.status, 201)
    }))
})

describe("Sentinel", () => {
  it.scoped("issues a verifiable AppJWT for good credentials, without expires_in by default", () =>
    Effect.gen(function*() {
      const { emulator, jwks } = yield* start()
      const outcome = response(
        yield* Effect.promise(() =>
          Client.requestAppJwt(emulator.url, account, emulator.clientId, Redacted.value(emulator.clientSecret))
        )
      )
      assert.strictEqual(outcome.status, 200)
      const body = JSON.parse(outcome.text) as Record<string, unknown>
      assert.deepStrictEqual(Object.keys(body), ["access_token", "token_type"])
      assert.strictEqual(body["token_type"], "Bearer")
      const { payload, protectedHeader } = yield* Effect.promise(() => jwtVerify(body["access_token"] as string, jwks))
      assert.deepStrictEqual(protectedHeader, { kid: emulator.kid, typ: "JWT", alg: "RS256" })
      assert.deepStrictEqual(Object.keys(payload), ["aud", "azp", "scope", "iss", "iat", "exp"])
      assert.strictEqual(payload.aud, account)
      assert.strictEqual(payload["azp"], emulator.clientId)
      assert.strictEqual(payload["scope"], "msg.consumer")
      assert.strictEqual(payload.iss, "Sentinel")
      assert.strictEqual(payload.exp! - payload.iat!, 3600)
      assert.approximately(payload.iat!, Date.now() / 1000, 5)
    }))

  it.scoped("adds expires_in when includeExpiresIn is set, with the configured lifetime", () =>
    Effect.gen(function*() {
      const { emulator } = yield* start({ includeExpiresIn: true, appJwtLifetimeSeconds: 120 })
      const outcome = response(
        yield* Effect.promise(() =>
          Client.requestAppJwt(emulator.url, account, emulator.clientId, Redacted.value(emulator.clientSecret))
        )
      )
      const body = JSON.parse(outcome.text) as Record<string, unknown>
      assert.strictEqual(body["expires_in"], 120)
      assert.strictEqual(body["token_type"], "Bearer")
    }))

  it.scoped("answers 401 for wrong credentials and 400 for credentials in the query string", () =>
    Effect.gen(function*() {
      const { emulator } = yield* start({ clientId: "my-app", clientSecret: "s3cret" })
      const wrongSecret = response(yield* Effect.promise(() => Client.requestAppJwt(emulator.url, account, "my-app", "nope")))
      assert.strictEqual(wrongSecret.status, 401)
      assert.strictEqual((JSON.parse(wrongSecret.text) as { error: string }).error, "invalid_client")
      const wrongId = response(yield* Effect.promise(() => Client.requestAppJwt(emulator.url, account, "other", "s3cret")))
      assert.strictEqual(wrongId.status, 401)
      const inQuery = response(
        yield* Effect.promise(() =>
          Client.exchange(
            Client.sentinelUrl(emulator.url, account, "?v=1.0&grant_type=client_credentials&client_id=my-app&client_secret=s3cret"),
            { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "" }
          )
        )
      )
      assert.strictEqual(inQuery.status, 400)
      assert.include(inQuery.text, "never in the URL")
      const good = response(yield* Effect.promise(() => Client.requestAppJwt(emulator.url, account, "my-app", "s3cret")))
      assert.strictEqual(good.status, 200)
      assert.deepStrictEqual((yield* emulator.stats).routes.sentinel, { "401": 2, "400": 1, "200": 1 })
    }))
})

describe("IDP", () => {
  it.scoped("issues a ConsumerJWS with the documented header and exactly the documented claims", () =>
    Effect.gen(function*() {
      const { emulator, jwks, appJwt } = yield* start()
      const token = yield* Effect.promise(appJwt)
      const issue = (id: string) =>
        Effect.promise(() => Client.requestConsumerJws(emulator.url, account, token, JSON.stringify({ ext_consumer_id: id })))
          .pipe(Effect.map((outcome) => {
            const created = response(outcome)
            assert.strictEqual(created.status, 201)
            const body = JSON.parse(created.text) as Record<string, unknown>
            assert.deepStrictEqual(Object.keys(body), ["token"])
            return body["token"] as string
          }))
      const first = yield* issue("random_id0.17307796875")
      const verified = yield* Effect.promise(() => jwtVerify(first, jwks))
      assert.deepStrictEqual(decodeProtectedHeader(first), { kid: emulator.kid, typ: "JWT", alg: "RS256" })
      assert.deepStrictEqual(Object.keys(verified.payload), ["account_id", "ext_consumer_id", "lp_consumer_id"])
      assert.strictEqual(verified.payload["account_id"], account)
      assert.strictEqual(verified.payload["ext_consumer_id"], "random_id0.17307796875")
      const lpConsumerId = verified.payload["lp_consumer_id"] as string
      assert.match(lpConsumerId, /^[0-9a-f]{64}$/)
      assert.strictEqual(
        lpConsumerId,
        Crypto.createHash("sha256").update(`${account}\0random_id0.17307796875`).digest("hex")
      )

      // Stable per ID (the token is even byte-identical), different across IDs, and Unicode survives.
      assert.strictEqual(yield* issue("random_id0.17307796875"), first)
      const unicode = yield* issue("ünïcødé-😀")
      const other = yield* Effect.promise(() => jwtVerify(unicode, jwks))
      assert.strictEqual(other.payload["ext_consumer_id"], "ünïcødé-😀")
      assert.notStrictEqual(other.payload["lp_consumer_id"], lpConsumerId)

      // The JWKS is also available in-process.
      const key = yield* Effect.promise(() => importJWK(emulator.jwks.keys[0]!, "RS256"))
      yield* Effect.promise(() => jwtVerify(first, key))
    }))

  it.scoped("answers 401 with errorCode 40102 for a missing, garbage, Bearer-prefixed or expired AppJWT", () =>
    Effect.gen(function*() {
      const { emulator, appJwt } = yield* start()
      const good = yield* Effect.promise(appJwt)
      yield* emulator.setFaults({ appJwtLifetimeSeconds: 0 })
      const expired = yield* Effect.promise(appJwt)
      const consumerJws = JSON.parse(
        response(yield* Effect.promise(() => Client.requestConsumerJws(emulator.url, account, good, `{"ext_consumer_id":"x"}`))).text
      ).token as string
      const body = `{"ext_consumer_id":"x"}`
      for (const authorization of [undefined, "", "garbage", "a.b.c", `Bearer ${good}`, expired, consumerJws]) {
        const outcome = response(yield* Effect.promise(() => Client.requestConsumerJws(emulator.url, account, authorization, body)))
        assert.strictEqual(outcome.status, 401, `Authorization: ${authorization}`)
        assert.deepStrictEqual(JSON.parse(outcome.text), {
          kind: "resp",
          code: 401,
          body: { title: "Unauthorized", details: "AppJWT expired or invalid", errorCode: 40102 },
          type: ".ReqBody$ErrorResp"
        })
      }
    }))

  it.scoped("rejects AppJWTs signed by another key and expired ones signed by its own (privateKeyFile)", () =>
    Effect.gen(function*() {
      const { privateKey } = Crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "emulator-key-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
      const keyFile = Path.join(dir, "key.pem")
      Fs.writeFileSync(keyFile, privateKey.export({ format: "pem", type: "pkcs8" }))
      const { emulator, jwks } = yield* start({ privateKeyFile: keyFile })
      const appJwt = (key: Crypto.KeyObject, exp: number) =>
        Effect.promise(() =>
          new SignJWT({ aud: account, azp: emulator.clientId, scope: "msg.consumer", iss: "Sentinel" })
            .setProtectedHeader({ kid: emulator.kid, typ: "JWT", alg: "RS256" })
            .setIssuedAt(exp - 3600)
            .setExpirationTime(exp)
            .sign(key)
        )
      const now = Math.floor(Date.now() / 1000)
      const body = `{"ext_consumer_id":"x"}`
      const status = (token: string) =>
        Effect.map(
          Effect.promise(() => Client.requestConsumerJws(emulator.url, account, token, body)),
          Client.label
        )
      assert.strictEqual(yield* status(yield* appJwt(privateKey, now + 600)), "201")
      assert.strictEqual(yield* status(yield* appJwt(privateKey, now - 1)), "401")
      const { privateKey: foreign } = Crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
      assert.strictEqual(yield* status(yield* appJwt(foreign, now + 600)), "401")
      // The token from the loaded key verifies against the served JWKS.
      const fresh = yield* appJwt(privateKey, now + 600)
      const issued = JSON.parse(
        response(yield* Effect.promise(() => Client.requestConsumerJws(emulator.url, account, fresh, body))).text
      ).token as string
      yield* Effect.promise(() => jwtVerify(issued, jwks))
    }))

  it.scoped("answers 400 for bad JSON, a missing ext_consumer_id or an invalid one, saying why", () =>
    Effect.gen(function*() {
      const { emulator, appJwt } = yield* start()
      const token = yield* Effect.promise(appJwt)
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["{\"ext_consumer_id\":", "not valid JSON"],
        ["{}", "ext_consumer_id"],
        ["[]", "ext_consumer_id"],
        ["{\"ext_consumer_id\":42}", "ext_consumer_id"],
        ["{\"ext_consumer_id\":\"\"}", "is empty"],
        ["{\"ext_consumer_id\":\" padded\"}", "whitespace"],
        ["{\"ext_consumer_id\":\"a\\u0000b\"}", "control character"],
        [JSON.stringify({ ext_consumer_id: "x".repeat(257) }), "longer than 256"]
      ]
      for (const [body, reason] of cases) {
        const outcome = response(yield* Effect.promise(() => Client.requestConsumerJws(emulator.url, account, token, body)))
        assert.strictEqual(outcome.status, 400, body)
        const details = (JSON.parse(outcome.text) as { body: { details: string } }).body.details
        assert.include(details, reason)
      }
      const wrongVersion = yield* Effect.promise(() =>
        Client.exchange(Client.idpUrl(emulator.url, account, "?v=2.0"), {
          method: "POST",
          headers: { authorization: token },
          body: `{"ext_consumer_id":"x"}`
        })
      )
      assert.strictEqual(Client.label(wrongVersion), "400")
      const stats = yield* emulator.stats
      assert.strictEqual(stats.routes.idp["400"], cases.length + 1)
      assert.strictEqual(stats.tokensIssued, 0)
    }))

  it.scoped("counts duplicate issuances and distinct IDs; POST /__reset clears them", () =>
    Effect.gen(function*() {
      const { emulator, appJwt } = yield* start()
      const token = yield* Effect.promise(appJwt)
      for (const id of ["a", "b", "a", "a", "c"]) {
        const outcome = yield* Effect.promise(() =>
          Client.requestConsumerJws(emulator.url, account, token, JSON.stringify({ ext_consumer_id: id }))
        )
        assert.strictEqual(Client.label(outcome), "201")
      }
      const stats = (yield* Effect.promise(() => Client.getJson(`${emulator.url}/__stats`))) as Emulator.Stats
      assert.strictEqual(stats.tokensIssued, 5)
      assert.strictEqual(stats.distinctConsumerIds, 3)
      assert.strictEqual(stats.duplicateIssuances, 2)
      assert.strictEqual(stats.appJwtsIssued, 1)
      assert.deepStrictEqual(stats.routes.idp, { "201": 5 })
      assert.strictEqual(stats.maxInFlight, 1)

      assert.strictEqual(Client.label(yield* Effect.promise(() => Client.postJson(`${emulator.url}/__reset`, ""))), "200")
      const cleared = yield* emulator.stats
      assert.deepStrictEqual(cleared.routes.idp, {})
      assert.strictEqual(cleared.tokensIssued, 0)
      assert.strictEqual(cleared.distinctConsumerIds, 0)
      // After a reset, "a" is new again.
      yield* Effect.promise(() => Client.requestConsumerJws(emulator.url, account, token, `{"ext_consumer_id":"a"}`))
      assert.strictEqual((yield* emulator.stats).duplicateIssuances, 0)
    }))
})

describe("make", () => {
  it.scoped("refuses invalid options with an EmulatorError", () =>
    Effect.gen(function*() {
      for (
        const options of [
          { accountId: "12/34" },
          { port: 70000 },
          { keyBits: 512 },
          { faults: { rate429: 1.5 } },
          { faults: { rate429: 0.6, rate500: 0.6 } },
          { privateKeyFile: "/nonexistent/key.pem" }
        ] satisfies ReadonlyArray<Emulator.Options>
      ) {
        const error = yield* Effect.flip(Emulator.make(options))
        assert.strictEqual(error._tag, "EmulatorError", JSON.stringify(options))
      }
    }))

  it.effect("closing the scope stops the server", () =>
    Effect.gen(function*() {
      const url = yield* Effect.scoped(Effect.map(Emulator.make(), (emulator) => emulator.url))
      const outcome = yield* Effect.promise(() => Client.exchange(Client.csdsUrl(url, account, "idp"), {}))
      assert.strictEqual(outcome._tag, "Reset")
    }))
})
