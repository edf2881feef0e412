/**
 * The header and claims of a ConsumerJWS, decoded without verifying the signature.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { InvalidInputError } from "./ConsumerJwsError.js"
import * as Jwt from "./internal/jwt.js"
import * as ParseError from "./internal/parseError.js"

/**
 * The claims LivePerson puts in every ConsumerJWS. A plain struct, not a `Schema.Class`: a class
 * instance is validated again as it is constructed, and this is decoded once per token issued.
 */
export const ConsumerJwsClaims = Schema.Struct({
  account_id: Schema.String,
  ext_consumer_id: Schema.String,
  /** LivePerson's stable consumer ID: the same `ext_consumer_id` always maps to the same value. */
  lp_consumer_id: Schema.String
}).annotations({ identifier: "ConsumerJwsClaims" })

/** The claims LivePerson puts in every ConsumerJWS. */
export type ConsumerJwsClaims = typeof ConsumerJwsClaims.Type

/** The JOSE header of a ConsumerJWS. */
export const ConsumerJwsHeader = Schema.Struct({
  alg: Schema.String,
  typ: Schema.optional(Schema.String),
  kid: Schema.optional(Schema.String)
})

/** The JOSE header of a ConsumerJWS. */
export type ConsumerJwsHeader = typeof ConsumerJwsHeader.Type

/** A decoded ConsumerJWS: its header and claims. */
export interface DecodedConsumerJws {
  readonly header: ConsumerJwsHeader
  readonly claims: ConsumerJwsClaims
}

const decodeHeader = Schema.decodeUnknownEither(ConsumerJwsHeader)
const decodeClaims = Schema.decodeUnknownEither(ConsumerJwsClaims)

const invalid = (reason: string) => new InvalidInputError({ field: "ConsumerJWS", reason })

const notConsumerJws = (error: ParseResult.ParseError) =>
  invalid(`its claims are not a ConsumerJWS's: ${ParseError.describe(error)}`)

/**
 * Decodes the header and claims of any ConsumerJWS, without verifying its signature (the key is
 * LivePerson's). Accepts the token as a string or `Redacted`.
 */
export const decodeEither = (
  token: string | Redacted.Redacted<string>
): Either.Either<DecodedConsumerJws, InvalidInputError> => {
  // Plain code rather than `Either` combinators: this runs once per token issued.
  const jws = Jwt.decode(Redacted.isRedacted(token) ? Redacted.value(token) : token.trim())
  if (Either.isLeft(jws)) return Either.left(invalid(jws.left))
  const header = decodeHeader(jws.right.header)
  if (Either.isLeft(header)) return Either.left(notConsumerJws(header.left))
  const claims = decodeClaims(jws.right.payload)
  if (Either.isLeft(claims)) return Either.left(notConsumerJws(claims.left))
  return Either.right({ header: header.right, claims: claims.right })
}

/** {@link decodeEither} as an Effect. */
export const decode = (token: string | Redacted.Redacted<string>): Effect.Effect<DecodedConsumerJws, InvalidInputError> =>
  decodeEither(token)
