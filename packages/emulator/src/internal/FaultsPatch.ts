/**
 * Decoding and applying a partial fault configuration (`setFaults`, `POST /__faults`, options).
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { Faults } from "../Emulator.js"

const Rate = Schema.Number.pipe(Schema.between(0, 1))
const NonNegative = Schema.Number.pipe(Schema.finite(), Schema.nonNegative())
const Positive = Schema.Number.pipe(Schema.finite(), Schema.positive())

const field = <S extends Schema.Schema.Any>(schema: S) => Schema.optionalWith(schema, { exact: true })

/** A partial fault configuration; `rateLimitPerSecond: null` (JSON) or `undefined` turns the limit off. */
export const FaultsPatch = Schema.Struct({
  rate429: field(Rate),
  retryAfterSeconds: field(Schema.Int.pipe(Schema.positive())),
  rate500: field(Rate),
  rate503: field(Rate),
  rateReset: field(Rate),
  rateHang: field(Rate),
  rateMalformed: field(Rate),
  latencyMs: field(NonNegative),
  latencyJitterMs: field(NonNegative),
  rateLimitPerSecond: field(Schema.Union(Positive, Schema.Null, Schema.Undefined)),
  csds503Rate: field(Rate),
  sentinel503Rate: field(Rate),
  appJwtLifetimeSeconds: field(NonNegative)
})

const decode = Schema.decodeUnknownEither(FaultsPatch, { onExcessProperty: "error", errors: "all" })

/** The IDP fault rates, which are mutually exclusive outcomes of one draw. */
export const idpRates = (faults: Faults): number =>
  faults.rateReset + faults.rateHang + faults.rate429 + faults.rate500 + faults.rate503 + faults.rateMalformed

/** `current` with `patch` applied, or why the patch is invalid. */
export const apply = (current: Faults, patch: unknown): Either.Either<Faults, string> =>
  Either.flatMap(
    Either.mapLeft(decode(patch), (error) =>
      ParseResult.ArrayFormatter.formatErrorSync(error)
        .map((issue) => issue.path.length === 0 ? issue.message : `${issue.path.join(".")}: ${issue.message}`)
        .join("; ")),
    (decoded) => {
      const { rateLimitPerSecond, ...rest } = decoded
      const next: Faults = {
        ...current,
        ...rest,
        rateLimitPerSecond: "rateLimitPerSecond" in decoded ? rateLimitPerSecond ?? undefined : current.rateLimitPerSecond
      }
      const total = idpRates(next)
      // One uniform draw picks at most one fault, so the rates must fit in [0, 1] together.
      return total > 1 + 1e-9
        ? Either.left(`the IDP fault rates add up to ${total}; rate429 + rate500 + rate503 + rateReset + rateHang + rateMalformed must be at most 1`)
        : Either.right(next)
    }
  )
