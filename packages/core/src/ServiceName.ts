/**
 * The name of a LivePerson service in the Domain API (CSDS).
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/** A CSDS service name such as `idp` or `sentinel`. Names are case-sensitive. */
export const ServiceName = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, {
    message: () => "a service name is a letter followed by letters, digits, '.', '-' or '_' (for example idp)"
  }),
  Schema.brand("ServiceName")
)

/** A CSDS service name. */
export type ServiceName = typeof ServiceName.Type

/** The service that issues ConsumerJWS tokens. */
export const idp: ServiceName = ServiceName.make("idp")

/** The service that issues AppJWTs. */
export const sentinel: ServiceName = ServiceName.make("sentinel")
