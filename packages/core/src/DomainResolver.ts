/**
 * Where each service of an account lives, from LivePerson's Domain API (CSDS), cached.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Cache from "effect/Cache"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { AccountId } from "./AccountId.js"
import * as BaseUri from "./BaseUri.js"
import { BadDomainError, DomainLookupError } from "./ConsumerJwsError.js"
import * as CsdsUrl from "./CsdsUrl.js"
import * as Http from "./internal/http.js"
import * as RetryPolicy from "./RetryPolicy.js"
import type { ServiceName } from "./ServiceName.js"

/** One service's domain from the all-services lookup; `baseUri` is an error when CSDS answered an unusable one. */
export interface ServiceDomain {
  readonly service: string
  readonly baseUri: Either.Either<BaseUri.BaseUri, BadDomainError>
}

/** Looks up and caches the domain of each service of one account. */
export class DomainResolver extends Context.Tag("@consumer-jws/core/DomainResolver")<DomainResolver, {
  /** The domain of `service`: cached for the TTL, one request for many concurrent callers. */
  readonly resolve: (service: ServiceName) => Effect.Effect<BaseUri.BaseUri, DomainLookupError | BadDomainError>
  /** Every service's domain at once (the all-services form); fills the cache with the valid ones. */
  readonly resolveAll: Effect.Effect<ReadonlyArray<ServiceDomain>, DomainLookupError>
  /**
   * Drops the cached domain of `service` if it is still `baseUri`: called when a request to that
   * domain failed at the transport level, since domains "can be subject to change".
   */
  readonly invalidate: (service: ServiceName, baseUri: BaseUri.BaseUri) => Effect.Effect<void>
}>() {}

/** What the resolver needs to know. */
export interface Options {
  readonly accountId: AccountId
  /** The Domain API origin; {@link CsdsUrl.defaultUrl} when absent. */
  readonly csdsUrl?: CsdsUrl.CsdsUrl | undefined
  /** How long a domain is kept; 10 minutes when absent. */
  readonly ttl?: Duration.DurationInput | undefined
}

/** The default time a domain is cached. */
export const defaultTtl: Duration.Duration = Duration.minutes(10)

const ServiceResponse = Schema.Struct({ baseURI: Schema.String })
const AllServicesResponse = Schema.Struct({
  baseURIs: Schema.Array(Schema.Struct({ service: Schema.String, baseURI: Schema.String }))
})

const validateBaseUri = (service: string, baseUri: string): Either.Either<BaseUri.BaseUri, BadDomainError> => {
  const reason = BaseUri.validate(baseUri)
  return reason === undefined
    ? Either.right(baseUri as BaseUri.BaseUri)
    : Either.left(new BadDomainError({ service, baseUri: baseUri.slice(0, 100), reason }))
}

/**
 * Builds a resolver from an HTTP client and its options. Lookups run in the cache, with the
 * `RetryPolicy` in force where the resolver is built (provide a policy around the client's layer).
 */
export const make = Effect.fnUntraced(function*(options: Options) {
  const client = Http.plainClient(yield* HttpClient.HttpClient)
  const csdsUrl = options.csdsUrl ?? CsdsUrl.make(CsdsUrl.defaultUrl)
  const ttl = Duration.decode(options.ttl ?? defaultTtl)
  const accountPath = `${csdsUrl}/api/account/${encodeURIComponent(options.accountId)}/service`

  // One GET with the retry policy; any failure after retries becomes a DomainLookupError.
  const lookup = <A>(url: string, what: string, schema: Schema.Schema<A, any>) =>
    Effect.gen(function*() {
      const policy = yield* RetryPolicy.RetryPolicy
      const request = HttpClientRequest.get(url, { acceptJson: true })
      const reply = yield* client.exchange(request, "csds", policy.attemptTimeout).pipe(
        Effect.flatMap((reply) => Http.statusError("csds", reply)),
        Effect.retry(RetryPolicy.schedule(policy)),
        Effect.timeoutFail({
          duration: policy.deadline,
          onTimeout: () => new DomainLookupError({ service: what, reason: `no answer within the ${Duration.format(policy.deadline)} deadline` })
        }),
        Effect.catchIf(
          (error): error is Exclude<typeof error, DomainLookupError> => error._tag !== "DomainLookupError",
          (error) =>
            Effect.fail(
              new DomainLookupError({
                service: what,
                reason: error._tag === "UnexpectedResponseError" && error.status === 404
                  ? "the Domain API does not know this account or service (HTTP 404)"
                  : error._tag === "TransportError"
                  // Its own advice ("check the network and LP_CSDS_URL") is this error's to give.
                  ? `the Domain API (CSDS) could not be reached: ${error.reason}`
                  : error.message
              })
            )
        )
      )
      return yield* Http.decodeJson(reply.body, schema).pipe(
        Effect.mapError((reason) => new DomainLookupError({ service: what, reason: `the answer is not the documented shape: ${reason}` }))
      )
    })

  const cache = yield* Cache.makeWith({
    capacity: 256,
    lookup: (service: ServiceName) =>
      lookup(`${accountPath}/${encodeURIComponent(service)}/baseURI.json?version=1.0`, service, ServiceResponse).pipe(
        Effect.flatMap(({ baseURI }) => validateBaseUri(service, baseURI)),
        Effect.withSpan("DomainResolver.lookup", { attributes: { service } })
      ),
    timeToLive: (exit) => (exit._tag === "Success" ? ttl : Duration.zero)
  })

  const resolveAll = lookup(`${accountPath}/baseURI.json?version=1.0`, "all services", AllServicesResponse).pipe(
    Effect.map(({ baseURIs }) => baseURIs.map(({ baseURI, service }) => ({ service, baseUri: validateBaseUri(service, baseURI) }))),
    Effect.tap((domains) =>
      Effect.forEach(domains, ({ baseUri, service }) =>
        Either.isRight(baseUri) ? cache.set(service as ServiceName, baseUri.right) : Effect.void, { discard: true })
    ),
    Effect.withSpan("DomainResolver.resolveAll")
  )

  // The domains in use, each with the time its cache entry expires: `resolve` runs once per
  // issuance, and this makes its common case a map lookup rather than a trip through the cache
  // (~11 runtime steps). The cache still makes the lookups, one for many concurrent callers.
  const inUse = new Map<ServiceName, { readonly baseUri: BaseUri.BaseUri; readonly expiresAt: number }>()

  const fromCache = (service: ServiceName) =>
    cache.get(service).pipe(
      Effect.tap((baseUri) =>
        Effect.map(cache.entryStats(service), (stats) => {
          if (Option.isSome(stats)) inUse.set(service, { baseUri, expiresAt: stats.value.loadedMillis + Duration.toMillis(ttl) })
        })
      ),
      // A failed lookup is dropped at once, so the next caller asks again (a zero TTL alone still
      // serves the failure to callers within the same millisecond).
      Effect.tapError(() => cache.invalidate(service))
    )

  return DomainResolver.of({
    resolve: (service) =>
      Effect.clockWith((clock) => {
        const known = inUse.get(service)
        return known !== undefined && clock.unsafeCurrentTimeMillis() < known.expiresAt
          ? Effect.succeed(known.baseUri)
          : fromCache(service)
      }),
    resolveAll: resolveAll.pipe(
      Effect.tap((domains) => Effect.sync(() => domains.forEach(({ service }) => inUse.delete(service as ServiceName))))
    ),
    invalidate: (service, baseUri) =>
      Effect.suspend(() => {
        if (inUse.get(service)?.baseUri === baseUri) inUse.delete(service)
        return cache.getOption(service)
      }).pipe(
        Effect.flatMap((cached) =>
          Option.isSome(cached) && cached.value === baseUri
            ? Effect.logDebug(`dropping the cached domain of ${service} after a transport failure`).pipe(
              Effect.zipRight(cache.invalidate(service))
            )
            : Effect.void
        ),
        Effect.orElse(() => Effect.void)
      )
  })
})

/** A layer of the resolver. */
export const layer = (options: Options): Layer.Layer<DomainResolver, never, HttpClient.HttpClient> =>
  Layer.effect(DomainResolver, make(options))
