/**
 * Decoding of a compact JWS without verifying it. Internal: public callers use
 * `ConsumerJwsClaims.decode` or `AppJwt`.
 */
import * as Either from "effect/Either"

/** The decoded header and payload of a compact JWS, as plain JSON values. */
export interface DecodedJws {
  readonly header: unknown
  readonly payload: unknown
}

const segment = /^[A-Za-z0-9_-]*$/

const decodeSegment = (text: string, name: string): Either.Either<unknown, string> => {
  if (text.length === 0 || !segment.test(text)) return Either.left(`its ${name} is not base64url`)
  try {
    return Either.right(JSON.parse(Buffer.from(text, "base64url").toString("utf8")))
  } catch {
    return Either.left(`its ${name} is not base64url-encoded JSON`)
  }
}

/** Splits a compact JWS (`header.payload.signature`) and parses its header and payload. */
export const decode = (token: string): Either.Either<DecodedJws, string> => {
  const parts = token.split(".")
  if (parts.length !== 3) return Either.left("it is not a compact JWS (three dot-separated parts)")
  // Plain code rather than `Either.gen`: this runs once per token issued.
  const header = decodeSegment(parts[0]!, "header")
  if (Either.isLeft(header)) return Either.left(header.left)
  const payload = decodeSegment(parts[1]!, "payload")
  if (Either.isLeft(payload)) return Either.left(payload.left)
  return Either.right({ header: header.right, payload: payload.right })
}

const jwtShape = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*/g

/** Masks anything shaped like a JWT in a text that may be shown to a person (an error excerpt). */
export const maskTokens = (text: string): string => text.replace(jwtShape, "<redacted token>")
