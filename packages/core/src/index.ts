/**
 * `@consumer-jws/core`: LivePerson's ConsumerJWS flow as typed Effects.
 *
 * @since 0.1.0
 */

/** The LivePerson account (site) ID. */
export * as AccountId from "./AccountId.js"

/** The application's own token from Sentinel. */
export * as AppJwt from "./AppJwt.js"

/** A service domain as CSDS gives it, and the scheme rule. */
export * as BaseUri from "./BaseUri.js"

/** The consumer's external ID. */
export * as ConsumerId from "./ConsumerId.js"

/** The token that stands for one consumer. */
export * as ConsumerJws from "./ConsumerJws.js"

/** Decoding a ConsumerJWS's header and claims. */
export * as ConsumerJwsClaims from "./ConsumerJwsClaims.js"

/** The closed set of errors of the flow. */
export * as ConsumerJwsError from "./ConsumerJwsError.js"

/** CSDS service names. */
export * as ServiceName from "./ServiceName.js"

/** The application's AppJWT from Sentinel, cached and renewed. */
export * as AppJwtProvider from "./AppJwtProvider.js"

/** The whole client in one layer, from settings or configuration. */
export * as ConsumerJwsClient from "./ConsumerJwsClient.js"

/** Issues ConsumerJWS tokens. */
export * as ConsumerJwsIssuer from "./ConsumerJwsIssuer.js"

/** The Domain API (CSDS) URL. */
export * as CsdsUrl from "./CsdsUrl.js"

/** Where each service of an account lives, cached. */
export * as DomainResolver from "./DomainResolver.js"

/** The hook around every IDP request, for shared rate limits. */
export * as RequestGate from "./RequestGate.js"

/** Timeouts and retries as data. */
export * as RetryPolicy from "./RetryPolicy.js"

/** An HTTP client on undici whose per-request time limit costs no fiber: the fast transport for bulk issuance. */
export * as UndiciHttpClient from "./UndiciHttpClient.js"
