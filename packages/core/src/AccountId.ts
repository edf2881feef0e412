/**
 * The LivePerson account (site) ID.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * A LivePerson account ID. Usually numeric, but not always (`le31457780`), so it is a string of
 * letters, digits, `-` and `_`, at most 64 characters: it is placed in URL paths, so nothing that
 * could change the path is allowed.
 */
export const AccountId = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9_-]{1,64}$/, {
    message: () => "an account ID is 1 to 64 letters, digits, '-' or '_' (for example 12345678 or le31457780)"
  }),
  Schema.brand("AccountId")
)

/** A LivePerson account ID. */
export type AccountId = typeof AccountId.Type

/** Brands a string already known to be a valid account ID; throws on an invalid one. */
export const make = (accountId: string): AccountId => AccountId.make(accountId)
