/**
 * The application's own token from Sentinel.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Jwt from "./internal/jwt.js"

/** An AppJWT, kept `Redacted` so that it never reaches a log, an error or a span. */
export const AppJwt = Schema.Redacted(Schema.NonEmptyTrimmedString)

/** An AppJWT. */
export type AppJwt = typeof AppJwt.Type

/** The body of Sentinel's answer: `{"access_token","token_type":"Bearer"}`, `expires_in` optional. */
export const TokenResponse = Schema.Struct({
  access_token: Schema.NonEmptyTrimmedString,
  token_type: Schema.optional(Schema.String),
  expires_in: Schema.optional(Schema.Number)
})

/** The body of Sentinel's answer. */
export type TokenResponse = typeof TokenResponse.Type

const ExpClaim = Schema.Struct({ exp: Schema.Number })

/**
 * When the token expires, in epoch milliseconds, from its own `exp` claim. `None` when the token is
 * not a JWT or has no numeric `exp` (the caller then falls back to `expires_in`, then to one hour).
 */
export const expiresAt = (token: AppJwt): Option.Option<number> =>
  Jwt.decode(Redacted.value(token)).pipe(
    Either.flatMap((jws) => Schema.decodeUnknownEither(ExpClaim)(jws.payload)),
    Either.map(({ exp }) => exp * 1000),
    Either.getRight
  )
