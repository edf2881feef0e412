/**
 * The closed set of errors of the issuance flow. Each is a `Schema.TaggedError`: handle them with
 * `Effect.catchTag(s)`. None holds a secret: no client secret, AppJWT or ConsumerJWS ever appears in
 * a field or a message.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"

/** The LivePerson endpoint a request went to. */
export const Endpoint = Schema.Literal("csds", "sentinel", "idp")

/** The LivePerson endpoint a request went to. */
export type Endpoint = typeof Endpoint.Type

const endpointName: Record<Endpoint, string> = {
  csds: "the Domain API (CSDS)",
  sentinel: "Sentinel (AppJWT)",
  idp: "the IDP (ConsumerJWS)"
}

// Under a second in milliseconds: a 1 ms limit read "within 0 s".
const seconds = (millis: number) => millis < 1000 ? `${Math.round(millis)} ms` : `${Math.round(millis / 100) / 10} s`

/** A value given to the client is not valid: a consumer ID, an account ID, a setting. Not retried. */
export class InvalidInputError extends Schema.TaggedError<InvalidInputError>()("InvalidInputError", {
  /** What was invalid: `ext_consumer_id`, `accountId`, `LP_CSDS_URL`, ... */
  field: Schema.String,
  /** Why, in words. */
  reason: Schema.String
}) {
  override get message() {
    return `Invalid ${this.field}: ${this.reason}. Fix the value; retrying will not help.`
  }
}

/** The Domain API could not tell where a service lives, after retries. */
export class DomainLookupError extends Schema.TaggedError<DomainLookupError>()("DomainLookupError", {
  service: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    // A reason may be another error's message, a sentence with its own full stop.
    return `Could not look up the domain of service '${this.service}': ${this.reason.replace(/\.$/, "")}. ` +
      "Check the network, the account ID and LP_CSDS_URL, then try again."
  }
}

/** The Domain API answered a `baseURI` that is not a bare host: no request is ever sent to it. */
export class BadDomainError extends Schema.TaggedError<BadDomainError>()("BadDomainError", {
  service: Schema.String,
  /** The value CSDS answered, cut to 100 characters. */
  baseUri: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `The Domain API answered an unusable baseURI for '${this.service}' (${JSON.stringify(this.baseUri)}): ` +
      `it ${this.reason}. Nothing was sent there; check LP_CSDS_URL points at LivePerson's Domain API.`
  }
}

/** Sentinel rejected the client ID and secret. Not retried: every request would fail the same way. */
export class AuthenticationError extends Schema.TaggedError<AuthenticationError>()("AuthenticationError", {
  status: Schema.Number
}) {
  override get message() {
    return `Sentinel rejected the application's credentials (HTTP ${this.status}). ` +
      "Check LP_CLIENT_ID, LP_CLIENT_SECRET and LP_ACCOUNT_ID."
  }
}

/** The IDP refused the AppJWT, even after renewing it once. */
export class UnauthorizedError extends Schema.TaggedError<UnauthorizedError>()("UnauthorizedError", {
  status: Schema.Number,
  /** LivePerson's `errorCode` from the body when there was one (40102: AppJWT expired or invalid). */
  errorCode: Schema.optional(Schema.Number)
}) {
  override get message() {
    return `The IDP refused the AppJWT (HTTP ${this.status}${this.errorCode === undefined ? "" : `, errorCode ${this.errorCode}`}) ` +
      "even after renewing it. Check that the application is installed on this account with the consumer scope."
  }
}

/** The endpoint answered 429: too many requests. Retried after the wait it asked for. */
export class RateLimitedError extends Schema.TaggedError<RateLimitedError>()("RateLimitedError", {
  endpoint: Endpoint,
  /** The wait the server asked for in `Retry-After`, in milliseconds, when it sent one. */
  retryAfterMillis: Schema.optional(Schema.Number)
}) {
  /** How long to wait before the next request: the server's `Retry-After`, else LivePerson's 1 s. */
  get retryAfter(): Duration.Duration {
    return Duration.millis(Math.max(this.retryAfterMillis ?? 1000, 0))
  }
  override get message() {
    return `${endpointName[this.endpoint]} is rate limiting (HTTP 429${
      this.retryAfterMillis === undefined ? "" : `, Retry-After ${seconds(this.retryAfterMillis)}`
    }). Lower the request rate or concurrency.`
  }
}

/** The endpoint answered a 5xx (or 408) status. Retried. */
export class ServerError extends Schema.TaggedError<ServerError>()("ServerError", {
  endpoint: Endpoint,
  status: Schema.Number,
  retryAfterMillis: Schema.optional(Schema.Number)
}) {
  override get message() {
    return `${endpointName[this.endpoint]} answered HTTP ${this.status}. It is likely temporary; try again later.`
  }
}

/** A request took longer than the per-attempt timeout, or an issuance exceeded its overall deadline. */
export class TimeoutError extends Schema.TaggedError<TimeoutError>()("TimeoutError", {
  endpoint: Endpoint,
  /** `attempt`: one request timed out; `deadline`: the whole operation, retries included, did. */
  scope: Schema.Literal("attempt", "deadline"),
  timeoutMillis: Schema.Number
}) {
  override get message() {
    return this.scope === "attempt"
      ? `A request to ${endpointName[this.endpoint]} got no answer within ${seconds(this.timeoutMillis)}.`
      : `Giving up on ${endpointName[this.endpoint]} after ${seconds(this.timeoutMillis)} of retries (the overall deadline).`
  }
}

/** The connection failed: refused, reset, DNS, TLS. Retried; a cached domain is looked up again. */
export class TransportError extends Schema.TaggedError<TransportError>()("TransportError", {
  endpoint: Endpoint,
  reason: Schema.String
}) {
  override get message() {
    return `Could not reach ${endpointName[this.endpoint]}: ${this.reason}. Check the network and LP_CSDS_URL.`
  }
}

/** The endpoint answered something the documented API never does. Retried only when the status was a success. */
export class UnexpectedResponseError extends Schema.TaggedError<UnexpectedResponseError>()("UnexpectedResponseError", {
  endpoint: Endpoint,
  status: Schema.Number,
  reason: Schema.String,
  /** The start of the body (at most 200 characters), with anything shaped like a JWT masked. */
  excerpt: Schema.String
}) {
  override get message() {
    return `${endpointName[this.endpoint]} answered HTTP ${this.status} unexpectedly: ${this.reason}` +
      (this.excerpt.length > 0 ? ` (body: ${JSON.stringify(this.excerpt)})` : "")
  }
}

/** Every error the issuance flow can fail with. */
export type ConsumerJwsError =
  | InvalidInputError
  | DomainLookupError
  | BadDomainError
  | AuthenticationError
  | UnauthorizedError
  | RateLimitedError
  | ServerError
  | TimeoutError
  | TransportError
  | UnexpectedResponseError

/** The schema of {@link ConsumerJwsError}, for sending errors across a boundary (worker threads, files). */
export const ConsumerJwsError = Schema.Union(
  InvalidInputError,
  DomainLookupError,
  BadDomainError,
  AuthenticationError,
  UnauthorizedError,
  RateLimitedError,
  ServerError,
  TimeoutError,
  TransportError,
  UnexpectedResponseError
)

/** The tag of each error, for counting and reporting. */
export type ConsumerJwsErrorTag = ConsumerJwsError["_tag"]

/**
 * Whether another attempt may succeed: timeouts, transport failures, 408, 429, 500, 502, 503, 504,
 * and a success status with a body that could not be read (a truncated or corrupted answer).
 */
export const isRetryable = (error: ConsumerJwsError): boolean => {
  switch (error._tag) {
    case "UnexpectedResponseError":
      return error.status >= 200 && error.status < 300
    case "TimeoutError":
      return error.scope === "attempt"
    case "RateLimitedError":
    case "TransportError":
      return true
    case "ServerError":
      return [408, 500, 502, 503, 504].includes(error.status)
    default:
      return false
  }
}

/**
 * Whether the error would fail every consumer ID alike, so a batch should stop rather than burn
 * through its input: the credentials are rejected, or a domain cannot be resolved or is unusable.
 */
export const isFatalForBatch = (error: ConsumerJwsError): boolean =>
  error._tag === "AuthenticationError" || error._tag === "DomainLookupError" || error._tag === "BadDomainError"
