/**
 * The token that stands for one consumer.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/** A ConsumerJWS, kept `Redacted`: it is a credential, shown only when written to a results file. */
export const ConsumerJws = Schema.Redacted(Schema.NonEmptyTrimmedString)

/** A ConsumerJWS. */
export type ConsumerJws = typeof ConsumerJws.Type

/** The body of the IDP's `201` answer. */
export const IssueResponse = Schema.Struct({ token: Schema.NonEmptyTrimmedString })
