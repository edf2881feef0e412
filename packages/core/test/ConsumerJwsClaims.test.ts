import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Redacted } from "effect"
import { ConsumerJwsClaims } from "../src/index.js"

// The example answer on LivePerson's "Get ConsumerJWS" page.
const exampleToken =
  "eyJraWQiOiJhcHBqd3QtMTMtMDUtMTciLCJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhY2NvdW50X2lkIjoibGUzMTQ1Nzc4MCIsImV4dF9jb25zdW1lcl9pZCI6InJhbmRvbV9pZDAuMTczMDc3OTY4NzUiLCJscF9jb25zdW1lcl9pZCI6IjI5Y2FmMGMxMTQ4Njk5NmQ5Mzg3ZTNhNDRlYzM0MjI5ZDEyNzMwNGRiNDk2NmQ3NzUyNzE2YmNlYjUzOGZhMjQifQ.TAJgP31rmpHvGKqb_yLP9yzVi_7tu7YoRfoqQ3RfuXGwR_AOV7DWL5Njy1m2YpC5kd9L_oRmytjFwfckwyuFJewwPGYxeZAY1q1jR5tPdb0nsvRyrMdKzO1_AFWUJtD013H9fjyjxHvxwV_Q2xe6Xp00J0T_-I6d6BkUpUFSPww"

describe("ConsumerJwsClaims.decode", () => {
  it.effect("decodes the example token on the API page to its documented header and claims", () =>
    Effect.gen(function*() {
      const decoded = yield* ConsumerJwsClaims.decode(exampleToken)
      assert.deepStrictEqual(decoded.header, { kid: "appjwt-13-05-17", typ: "JWT", alg: "RS256" })
      assert.strictEqual(decoded.claims.account_id, "le31457780")
      assert.strictEqual(decoded.claims.ext_consumer_id, "random_id0.17307796875")
      assert.strictEqual(decoded.claims.lp_consumer_id, "29caf0c11486996d9387e3a44ec34229d127304db4966d7752716bceb538fa24")
    }))

  it("accepts a Redacted token", () => {
    const decoded = ConsumerJwsClaims.decodeEither(Redacted.make(exampleToken))
    assert.isTrue(Either.isRight(decoded))
  })

  it.effect("fails with InvalidInputError on a non-JWS, without echoing the token", () =>
    Effect.gen(function*() {
      for (const bad of ["not-a-token", "a.b", "###.e30.x", `${exampleToken.split(".")[0]}.e30.sig`]) {
        const error = yield* Effect.flip(ConsumerJwsClaims.decode(bad))
        assert.strictEqual(error._tag, "InvalidInputError")
        assert.notInclude(error.message, exampleToken.split(".")[2]!)
      }
    }))
})
