/**
 * The application's AppJWT from Sentinel, cached and renewed ahead of its expiry.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type { AccountId } from "./AccountId.js"
import * as AppJwt from "./AppJwt.js"
import * as BaseUri from "./BaseUri.js"
import {
  AuthenticationError,
  type BadDomainError,
  type DomainLookupError,
  type RateLimitedError,
  type ServerError,
  TimeoutError,
  type TransportError,
  type UnexpectedResponseError
} from "./ConsumerJwsError.js"
import { DomainResolver } from "./DomainResolver.js"
import * as Http from "./internal/http.js"
import * as RetryPolicy from "./RetryPolicy.js"
import * as ServiceName from "./ServiceName.js"

/** Why an AppJWT could not be had. */
export type AppJwtError =
  | AuthenticationError
  | DomainLookupError
  | BadDomainError
  | RateLimitedError
  | ServerError
  | TimeoutError
  | TransportError
  | UnexpectedResponseError

/** Gives the current AppJWT, fetching or renewing it when needed. */
export class AppJwtProvider extends Context.Tag("@consumer-jws/core/AppJwtProvider")<AppJwtProvider, {
  /** A valid AppJWT: the cached one, or a new one (one request for many concurrent callers). */
  readonly get: Effect.Effect<AppJwt.AppJwt, AppJwtError>
  /**
   * Forces renewal. With `stale`, only if the cached token is still that one, so that many fibers
   * refused with the same token cause one renewal, not one each.
   */
  readonly invalidate: (stale?: AppJwt.AppJwt) => Effect.Effect<void>
}>() {}

/** The application's credentials and the renewal margin. */
export interface Options {
  readonly accountId: AccountId
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  /** How long before expiry a token is renewed; 5 minutes when absent (LivePerson's guidance). */
  readonly renewBefore?: Duration.DurationInput | undefined
}

/** The default renewal margin. */
export const defaultRenewBefore: Duration.Duration = Duration.minutes(5)

/** The lifetime assumed when neither the token's `exp` nor `expires_in` says: one hour. */
export const defaultLifetime: Duration.Duration = Duration.hours(1)

interface Cached {
  readonly token: AppJwt.AppJwt
  /** Epoch millis after which the token is renewed before use. */
  readonly renewAt: number
}

/** Builds a provider from an HTTP client, a domain resolver and the credentials. */
export const make = Effect.fnUntraced(function*(options: Options) {
  const client = Http.plainClient(yield* HttpClient.HttpClient)
  const resolver = yield* DomainResolver
  const renewBefore = Duration.toMillis(options.renewBefore ?? defaultRenewBefore)
  const renewal = yield* Effect.makeSemaphore(1)
  const secretForms = [Redacted.value(options.clientSecret), new URLSearchParams({ s: Redacted.value(options.clientSecret) }).toString().slice(2)]
    .filter((form, index, forms) => form.length > 0 && forms.indexOf(form) === index)
  const withoutSecret = (body: string) => secretForms.reduce((text, form) => text.split(form).join("<redacted secret>"), body)

  const requestToken = Effect.gen(function*() {
    const policy = yield* RetryPolicy.RetryPolicy
    const domain = yield* resolver.resolve(ServiceName.sentinel)
    const url = `${BaseUri.toOrigin(domain)}/sentinel/api/account/${encodeURIComponent(options.accountId)}/app/token` +
      "?v=1.0&grant_type=client_credentials"
    // The credentials go in the form body, never the URL: URLs end up in logs and spans.
    const request = HttpClientRequest.post(url, { acceptJson: true }).pipe(
      HttpClientRequest.bodyUrlParams({ client_id: options.clientId, client_secret: Redacted.value(options.clientSecret) })
    )
    const reply = yield* client.exchange(request, "sentinel", policy.attemptTimeout).pipe(
      Effect.tapErrorTag("TransportError", () => resolver.invalidate(ServiceName.sentinel, domain)),
      Effect.flatMap((reply): Effect.Effect<Http.Reply, AuthenticationError | RateLimitedError | ServerError | UnexpectedResponseError> =>
        reply.status === 400 || reply.status === 401 || reply.status === 403
          ? Effect.fail(new AuthenticationError({ status: reply.status }))
          // A body echoing the request (a proxy's error page) would put the secret in the error's excerpt.
          : Http.statusError("sentinel", { ...reply, body: withoutSecret(reply.body) })
      )
    )
    const body = yield* Http.decodeJson(reply.body, AppJwt.TokenResponse).pipe(
      Effect.mapError((reason) => Http.unexpected("sentinel", { ...reply, body: "" }, `the token answer is not the documented shape: ${reason}`))
    )
    const token = Redacted.make(body.access_token)
    const now = yield* Clock.currentTimeMillis
    const expiresAt = Option.getOrElse(
      AppJwt.expiresAt(token),
      () => now + (body.expires_in !== undefined ? body.expires_in * 1000 : Duration.toMillis(defaultLifetime))
    )
    // Renew ahead of expiry, but never spend more than half a short-lived token's life waiting.
    const lifetime = Math.max(0, expiresAt - now)
    const renewAt = expiresAt - Math.min(renewBefore, lifetime / 2)
    yield* Effect.logDebug(`AppJWT obtained, renewing in ${Math.round((renewAt - now) / 1000)} s`)
    return { token, renewAt } satisfies Cached
  })

  const fetchWithPolicy = Effect.gen(function*() {
    const policy = yield* RetryPolicy.RetryPolicy
    return yield* requestToken.pipe(
      Effect.retry(RetryPolicy.schedule(policy)),
      Effect.timeoutFail({
        duration: policy.deadline,
        onTimeout: () =>
          new TimeoutError({ endpoint: "sentinel", scope: "deadline", timeoutMillis: Duration.toMillis(policy.deadline) })
      })
    )
  }).pipe(
    // A span per renewal, not per `get`: `get` runs once per issuance, almost always from the cache.
    Effect.withSpan("AppJwtProvider.renew")
  )

  // Requests to Sentinel completed, and the failure of the last one (shared with the callers that waited on it).
  let fetches = 0
  let lastFailure: AppJwtError | undefined

  // The token in use: read on every `get` (once per issuance) without a runtime step of its own.
  let current: Cached | undefined

  // One renewal at a time; callers that waited find the new token without a request of their own,
  // or share the failure of the request made while they waited (no request each: no retry storm
  // against Sentinel when it refuses the credentials).
  const renew = (fetchesBefore: number) =>
    renewal.withPermits(1)(
      Effect.gen(function*() {
        const again = current
        if (again !== undefined && (yield* Clock.currentTimeMillis) < again.renewAt) return again.token
        if (fetches !== fetchesBefore && lastFailure !== undefined) return yield* Effect.fail(lastFailure)
        const entry = yield* fetchWithPolicy.pipe(
          Effect.tapBoth({
            onFailure: (error) => Effect.sync(() => (fetches++, lastFailure = error)),
            onSuccess: () => Effect.sync(() => (fetches++, lastFailure = undefined))
          })
        )
        current = entry
        return entry.token
      })
    )

  // The token in use while it is fresh, else a renewal.
  const get = Effect.clockWith((clock) => {
    const entry = current
    return entry !== undefined && clock.unsafeCurrentTimeMillis() < entry.renewAt ? Effect.succeed(entry.token) : renew(fetches)
  })

  return AppJwtProvider.of({
    get,
    invalidate: (stale) =>
      Effect.sync(() => {
        if (current !== undefined && (stale === undefined || Redacted.value(current.token) === Redacted.value(stale))) {
          current = undefined
        }
      })
  })
})

/** A layer of the provider. */
export const layer = (options: Options): Layer.Layer<AppJwtProvider, never, HttpClient.HttpClient | DomainResolver> =>
  Layer.effect(AppJwtProvider, make(options))
