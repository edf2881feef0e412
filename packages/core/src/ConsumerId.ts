/**
 * The consumer's external ID (`ext_consumer_id`).
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The longest accepted ID, in Unicode code points. LivePerson documents no bound. The ID is echoed
 * inside every ConsumerJWS, and that token rides in an HTTP header (`X-LP-ON-BEHALF`) on every Send
 * API call, so it must stay small; 256 fits every ID a system of record is likely to use (a UUID is
 * 36, an e-mail address at most 254) while rejecting pasted documents and binary junk.
 */
export const maxLength = 256

// C0 and C1 control characters and DEL: invisible, and never part of a real ID.
const controlCharacter = /[\u0000-\u001F\u007F-\u009F]/

/**
 * Why `input` is not a valid consumer ID, or `undefined` when it is. Shared by the schema and by
 * callers that want the reason without building a parse error (the CSV worker, the emulator).
 */
export const validate = (input: string): string | undefined => {
  if (input.length === 0) return "is empty"
  if (!input.isWellFormed()) return "is not well-formed Unicode (it contains a lone surrogate)"
  if (controlCharacter.test(input)) return "contains a control character"
  if (input.trim() !== input) return "has leading or trailing whitespace"
  let codePoints = 0
  for (const _ of input) {
    if (++codePoints > maxLength) return `is longer than ${maxLength} characters`
  }
  return undefined
}

/**
 * A consumer's external ID: non-empty, at most {@link maxLength} characters, no control characters
 * and no surrounding whitespace (an ID with spaces around it is almost always a data error, and
 * trimming it silently would issue a token for a different consumer than the one named).
 */
export const ConsumerId = Schema.String.pipe(
  Schema.filter((input) => {
    const reason = validate(input)
    return reason === undefined ? true : `a consumer ID ${reason}`
  }, { identifier: "ConsumerId" }),
  Schema.brand("ConsumerId")
)

/** A consumer's external ID, validated. */
export type ConsumerId = typeof ConsumerId.Type

/** Brands a string already known to be a valid consumer ID; throws on an invalid one. */
export const make = (consumerId: string): ConsumerId => ConsumerId.make(consumerId)
