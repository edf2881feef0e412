import { assert, describe, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import { AccountId, BaseUri, ConsumerId, ConsumerJwsError, CsdsUrl } from "../src/index.js"

const accepts = <A, I>(schema: Schema.Schema<A, I>, value: I) => Either.isRight(Schema.decodeEither(schema)(value))

describe("AccountId", () => {
  it("accepts numeric and non-numeric account IDs", () => {
    assert.isTrue(accepts(AccountId.AccountId, "12345678"))
    assert.isTrue(accepts(AccountId.AccountId, "le31457780"))
  })
  it("refuses anything that could change a URL path", () => {
    for (const bad of ["", "1/2", "../x", "a b", "a?b", "x".repeat(65)]) assert.isFalse(accepts(AccountId.AccountId, bad), bad)
  })
})

describe("ConsumerId", () => {
  it("accepts ordinary, Unicode and maximum-length IDs", () => {
    for (const good of ["random_id0.80668702615", "user@example.com", "Zoë-川口-🙂", "x".repeat(ConsumerId.maxLength)]) {
      assert.isUndefined(ConsumerId.validate(good), good)
      assert.isTrue(accepts(ConsumerId.ConsumerId, good))
    }
    // The bound counts characters, not UTF-16 units: 256 emoji are 512 units and still valid.
    assert.isUndefined(ConsumerId.validate("🙂".repeat(ConsumerId.maxLength)))
  })
  it("refuses empty, over-long, control characters, surrounding spaces and lone surrogates, saying why", () => {
    assert.strictEqual(ConsumerId.validate(""), "is empty")
    assert.strictEqual(ConsumerId.validate("x".repeat(ConsumerId.maxLength + 1)), "is longer than 256 characters")
    assert.strictEqual(ConsumerId.validate("a\u0000b"), "contains a control character")
    assert.strictEqual(ConsumerId.validate("a\nb"), "contains a control character")
    assert.strictEqual(ConsumerId.validate(" abc"), "has leading or trailing whitespace")
    assert.strictEqual(ConsumerId.validate("abc\u00a0"), "has leading or trailing whitespace")
    assert.match(ConsumerId.validate("a\ud800b")!, /lone surrogate/)
    const decoded = Schema.decodeEither(ConsumerId.ConsumerId)("")
    assert.isTrue(Either.isLeft(decoded))
  })
})

describe("BaseUri", () => {
  it("accepts a bare host or host:port", () => {
    for (const good of ["va.idp.liveperson.net", "127.0.0.1:8080", "localhost:3000", "[::1]:443", "lo"]) {
      assert.isUndefined(BaseUri.validate(good), good)
    }
  })
  it("refuses a scheme, path, userinfo, query, whitespace, empty, bad port", () => {
    const cases: Array<[string, RegExp]> = [
      ["https://va.idp.liveperson.net", /scheme/],
      ["va.idp.liveperson.net/api", /path/],
      ["user@evil.example", /userinfo/],
      ["a@b", /userinfo/],
      ["host?x=1", /query/],
      ["va.idp. liveperson.net", /whitespace/],
      [" host", /whitespace/],
      ["", /empty/],
      ["host:99999", /port/],
      ["host:0", /valid host/],
      ["-bad-.example", /valid host/]
    ]
    for (const [bad, reason] of cases) assert.match(BaseUri.validate(bad) ?? "accepted", reason, bad)
  })
  it("uses https for every domain but a loopback one", () => {
    const origin = (value: string) => BaseUri.toOrigin(Schema.decodeSync(BaseUri.BaseUri)(value))
    assert.strictEqual(origin("va.idp.liveperson.net"), "https://va.idp.liveperson.net")
    assert.strictEqual(origin("10.0.0.1:80"), "https://10.0.0.1:80")
    assert.strictEqual(origin("127.0.0.1:8080"), "http://127.0.0.1:8080")
    assert.strictEqual(origin("127.9.9.9"), "http://127.9.9.9")
    assert.strictEqual(origin("localhost:1"), "http://localhost:1")
    assert.strictEqual(origin("[::1]:99"), "http://[::1]:99")
    assert.strictEqual(origin("127.0.0.1.evil.example"), "https://127.0.0.1.evil.example")
    assert.strictEqual(origin("localhost.evil.example"), "https://localhost.evil.example")
  })
})

describe("CsdsUrl", () => {
  it("accepts https origins and loopback http, normalised", () => {
    assert.strictEqual(CsdsUrl.make("https://api.liveperson.net/"), "https://api.liveperson.net")
    assert.strictEqual(CsdsUrl.make("http://127.0.0.1:4000"), "http://127.0.0.1:4000")
  })
  it("refuses plain http elsewhere, userinfo, paths and non-URLs", () => {
    assert.match(CsdsUrl.validate("http://api.liveperson.net")!, /https/)
    assert.match(CsdsUrl.validate("https://u:p@api.liveperson.net")!, /userinfo/)
    assert.match(CsdsUrl.validate("https://api.liveperson.net/api")!, /origin only/)
    assert.match(CsdsUrl.validate("api.liveperson.net")!, /not a URL|https/)
  })
})

describe("error messages", () => {
  it("give a time limit or a wait in milliseconds under a second, in seconds above", () => {
    const timeout = (timeoutMillis: number) => new ConsumerJwsError.TimeoutError({ endpoint: "csds", scope: "attempt", timeoutMillis }).message
    assert.include(timeout(1), "within 1 ms.")
    assert.include(timeout(250), "within 250 ms.")
    assert.include(timeout(10_000), "within 10 s.")
    assert.include(timeout(1_500), "within 1.5 s.")
    assert.include(new ConsumerJwsError.RateLimitedError({ endpoint: "idp", retryAfterMillis: 500 }).message, "Retry-After 500 ms")
  })
})
