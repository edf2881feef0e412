/**
 * Issues ConsumerJWS tokens: the POST to the IDP, with retries, a deadline and AppJWT renewal.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type { AccountId } from "./AccountId.js"
import { AppJwtProvider } from "./AppJwtProvider.js"
import * as BaseUri from "./BaseUri.js"
import * as ConsumerId from "./ConsumerId.js"
import * as ConsumerJws from "./ConsumerJws.js"
import * as ConsumerJwsClaims from "./ConsumerJwsClaims.js"
import {
  type ConsumerJwsError,
  InvalidInputError,
  isRetryable,
  TimeoutError,
  type TransportError,
  UnauthorizedError,
  type UnexpectedResponseError
} from "./ConsumerJwsError.js"
import { DomainResolver } from "./DomainResolver.js"
import * as Http from "./internal/http.js"
import * as RequestGate from "./RequestGate.js"
import * as RetryPolicy from "./RetryPolicy.js"
import * as ServiceName from "./ServiceName.js"

/** A ConsumerJWS with its decoded claims. */
export interface IssuedConsumerJws {
  readonly consumerId: ConsumerId.ConsumerId
  readonly token: ConsumerJws.ConsumerJws
  readonly header: ConsumerJwsClaims.ConsumerJwsHeader
  readonly claims: ConsumerJwsClaims.ConsumerJwsClaims
  /** How many requests to the IDP it took, the first included. */
  readonly attempts: number
}

/** How one issuance ended, with the number of IDP requests it made either way. */
export type Outcome =
  | { readonly _tag: "Issued"; readonly issued: IssuedConsumerJws; readonly attempts: number }
  | { readonly _tag: "Failed"; readonly error: ConsumerJwsError; readonly attempts: number }

/** Issues ConsumerJWS tokens for one account. */
export class ConsumerJwsIssuer extends Context.Tag("@consumer-jws/core/ConsumerJwsIssuer")<ConsumerJwsIssuer, {
  /** Issues a ConsumerJWS for `consumerId` (validated first), with the retry policy in force. */
  readonly issue: (consumerId: string) => Effect.Effect<IssuedConsumerJws, ConsumerJwsError>
  /** Like `issue`, but never fails: the outcome carries the error and the attempt count. */
  readonly issueOutcome: (consumerId: string) => Effect.Effect<Outcome>
}>() {}

/** What the issuer needs to know. */
export interface Options {
  readonly accountId: AccountId
}

/** The state of one issuance, confined to its fiber: requests made, AppJWT renewed, its deadline. */
interface Issuance {
  readonly consumerId: ConsumerId.ConsumerId
  readonly policy: RetryPolicy.Settings
  /** The fiber's clock and gate, read once: the issuance reads the time several times per request. */
  readonly clock: Clock.Clock
  readonly gate: RequestGate.Gate
  /**
   * Epoch millis by which the issuance ends, retries and backoff included. Time queued at the
   * `RequestGate` (a batch's shared rate, its pause after a 429) moves it later: that wait is the
   * batch's, not this issuance's, and a slow batch must not fail its rows on their deadline.
   */
  deadlineAt: number
  attempts: number
  renewed: boolean
  readonly deadlineExceeded: () => Effect.Effect<never, TimeoutError>
}

const IdpErrorBody = Schema.Struct({
  body: Schema.optional(Schema.Struct({ errorCode: Schema.optional(Schema.Number) }))
})

const decodeIssueResponse = Http.jsonDecoder(ConsumerJws.IssueResponse)

const failed: RequestGate.Outcome = { _tag: "Failed" }

const errorCodeOf = (body: string): number | undefined =>
  Either.getOrUndefined(Either.fromOption(Http.parseJson(body), () => undefined).pipe(
    Either.flatMap((json) => Schema.decodeUnknownEither(IdpErrorBody)(json)),
    Either.map((parsed) => parsed.body?.errorCode)
  ))

/** Builds an issuer from an HTTP client, an AppJWT provider and a domain resolver. */
export const make = Effect.fnUntraced(function*(options: Options) {
  const client = Http.plainClient(yield* HttpClient.HttpClient)
  const appJwts = yield* AppJwtProvider
  const resolver = yield* DomainResolver
  const accountPath = `/api/account/${encodeURIComponent(options.accountId)}/consumer?v=1.0`

  // The IDP request without its body (the consumer ID): the same for every ID until the domain or
  // the AppJWT changes, so it is built once for them.
  let requestWithoutBody: {
    readonly domain: BaseUri.BaseUri
    readonly appJwt: Redacted.Redacted<string>
    readonly request: HttpClientRequest.HttpClientRequest
  } | undefined
  const idpRequestFor = (domain: BaseUri.BaseUri, appJwt: Redacted.Redacted<string>) => {
    if (requestWithoutBody === undefined || requestWithoutBody.domain !== domain || requestWithoutBody.appJwt !== appJwt) {
      const request = HttpClientRequest.post(`${BaseUri.toOrigin(domain)}${accountPath}`, { acceptJson: true }).pipe(
        // The AppJWT goes raw, without "Bearer ": that is what the IDP expects.
        HttpClientRequest.setHeader("authorization", Redacted.value(appJwt))
      )
      requestWithoutBody = { domain, appJwt, request }
    }
    return requestWithoutBody.request
  }

  // How a request ended, told to the gate (as a plain call when the gate has one: a batch's does),
  // then `then`.
  const tellGate = <A, E>(gate: RequestGate.Gate, outcome: RequestGate.Outcome, then: Effect.Effect<A, E>): Effect.Effect<A, E> => {
    if (gate.unsafeLeave === undefined) return Effect.zipRight(gate.leave(outcome), then)
    gate.unsafeLeave(outcome)
    return then
  }

  // What a failed attempt means: a timeout cut short by the deadline is the deadline's; a transport
  // failure drops the cached domain (domains "can be subject to change"); the rest as it came.
  const attemptFailed = (
    issuance: Issuance,
    domain: BaseUri.BaseUri,
    error: TimeoutError | TransportError | UnexpectedResponseError,
    boundByDeadline: boolean
  ): Effect.Effect<never, ConsumerJwsError> => {
    switch (error._tag) {
      case "TimeoutError":
        return boundByDeadline ? issuance.deadlineExceeded() : Effect.fail(error)
      case "TransportError":
        return Effect.zipRight(resolver.invalidate(ServiceName.idp, domain), Effect.fail(error))
      default:
        return Effect.fail(error)
    }
  }

  // One POST to the IDP, within the attempt timeout and the time left before the issuance's
  // deadline (a plain bound on each attempt rather than a race around the whole issuance: a timeout
  // forks fibers, and this is the hot path). The caller retries and maps the answer.
  const post = (issuance: Issuance, domain: BaseUri.BaseUri, appJwt: Redacted.Redacted<string>): Effect.Effect<Http.Reply, ConsumerJwsError> => {
    const { clock, gate } = issuance
    const request = HttpClientRequest.bodyUnsafeJson(idpRequestFor(domain, appJwt), { ext_consumer_id: issuance.consumerId })
    const send = (queuedAt: number): Effect.Effect<Http.Reply, ConsumerJwsError> => {
      const now = clock.unsafeCurrentTimeMillis()
      issuance.deadlineAt += now - queuedAt
      const left = issuance.deadlineAt - now
      if (left <= 0) return tellGate(gate, failed, issuance.deadlineExceeded())
      issuance.attempts++
      const attemptMillis = Duration.toMillis(issuance.policy.attemptTimeout)
      return Effect.matchEffect(client.exchange(request, "idp", Duration.millis(Math.min(attemptMillis, left))), {
        onSuccess: (reply) =>
          tellGate(gate, { _tag: "Answered", status: reply.status, retryAfterMillis: reply.retryAfterMillis }, Effect.succeed(reply)),
        onFailure: (error) => tellGate(gate, failed, attemptFailed(issuance, domain, error, left < attemptMillis))
      })
    }
    // Straight through when the gate lets it (no rate to keep, no pause): no runtime step for it.
    if (gate.unsafeTryEnter?.() === true) return send(clock.unsafeCurrentTimeMillis())
    const queuedAt = clock.unsafeCurrentTimeMillis()
    return Effect.flatMap(gate.enter, () => send(queuedAt))
  }

  // The token of a 2xx answer with its header and claims, checked against what was asked for.
  // Plain `Either`s, not Effects: this runs once per token issued.
  const tokenOf = (
    reply: Http.Reply,
    consumerId: ConsumerId.ConsumerId
  ): Either.Either<Omit<IssuedConsumerJws, "consumerId" | "attempts">, UnexpectedResponseError> => {
    const body = decodeIssueResponse(reply.body)
    if (Either.isLeft(body)) {
      return Either.left(Http.unexpected("idp", reply, `the token answer is not the documented shape: ${body.left}`))
    }
    // Past this point the body holds the token: it is left out of any error.
    const token = Redacted.make(body.right.token)
    const decoded = ConsumerJwsClaims.decodeEither(token)
    if (Either.isLeft(decoded)) {
      return Either.left(Http.unexpected("idp", { ...reply, body: "" }, `the token is not a ConsumerJWS: ${decoded.left.reason}`))
    }
    const { claims, header } = decoded.right
    if (claims.account_id !== options.accountId || claims.ext_consumer_id !== consumerId) {
      return Either.left(
        Http.unexpected("idp", { ...reply, body: "" }, "the token's claims name another account or consumer than the one asked for")
      )
    }
    return Either.right({ token, header, claims })
  }

  // What an answer from the IDP means: the token, or the error to retry or report.
  const answer = (
    issuance: Issuance,
    appJwt: Redacted.Redacted<string>,
    reply: Http.Reply
  ): Effect.Effect<Omit<IssuedConsumerJws, "consumerId" | "attempts">, ConsumerJwsError> => {
    switch (reply.status) {
      case 201:
      case 200:
        return tokenOf(reply, issuance.consumerId)
      case 400:
        return new InvalidInputError({
          field: "ext_consumer_id",
          reason: `the IDP refused it (HTTP 400: ${Http.excerpt(reply.body) || "no reason given"})`
        })
      case 401:
      case 403: {
        // The AppJWT may have been revoked or expired early: renew it once, then give up.
        if (reply.status === 401 && !issuance.renewed) {
          issuance.renewed = true
          return Effect.logDebug("the IDP refused the AppJWT; renewing it once").pipe(
            Effect.zipRight(appJwts.invalidate(appJwt)),
            Effect.zipRight(Effect.suspend(() => issueOnce(issuance)))
          )
        }
        const errorCode = errorCodeOf(reply.body)
        return new UnauthorizedError({ status: reply.status, ...(errorCode === undefined ? {} : { errorCode }) })
      }
      default:
        return Http.statusError("idp", reply).pipe(
          Effect.zipRight(Effect.fail(Http.unexpected("idp", reply, `HTTP ${reply.status} is not a documented answer`)))
        )
    }
  }

  // One attempt: the domain and the AppJWT (cached: a map read each), the POST, its meaning.
  // Plain `flatMap`s rather than `Effect.gen`: this runs once per ID of a batch.
  const issueOnce = (issuance: Issuance): Effect.Effect<Omit<IssuedConsumerJws, "consumerId" | "attempts">, ConsumerJwsError> =>
    Effect.flatMap(resolver.resolve(ServiceName.idp), (domain) =>
      Effect.flatMap(appJwts.get, (appJwt) =>
        Effect.flatMap(post(issuance, domain, appJwt), (reply) => answer(issuance, appJwt, reply))))

  // Only the IDP's own failures are retried here: the domain and the AppJWT were already retried
  // by their providers, and a failure that reaches us from them is final.
  const shouldRetry = (error: ConsumerJwsError) => "endpoint" in error && error.endpoint === "idp" && isRetryable(error)

  // Retries after a first failed attempt. The schedule and its driver are built only then (built
  // for every issuance they cost 40-50 µs an ID, a tenth of a batch's CPU then; bench/RESULTS.md);
  // the first failure is replayed into the schedule, so its waits and its count of attempts are
  // exactly those of retrying from the start.
  const retryFromFirstFailure = (issuance: Issuance) => (first: ConsumerJwsError) => {
    let replayed = false
    return Effect.suspend(() => {
      if (replayed) return issueOnce(issuance)
      replayed = true
      return Effect.fail(first)
    }).pipe(Effect.retry(RetryPolicy.schedule(issuance.policy, shouldRetry, () => issuance.deadlineAt)))
  }

  const outcomeOf = (issuance: Issuance) => ({
    onFailure: (error: ConsumerJwsError): Outcome => ({ _tag: "Failed", error, attempts: issuance.attempts }),
    onSuccess: (issued: Omit<IssuedConsumerJws, "consumerId" | "attempts">): Outcome => ({
      _tag: "Issued",
      issued: { consumerId: issuance.consumerId, ...issued, attempts: issuance.attempts },
      attempts: issuance.attempts
    })
  })

  // The policy, the gate and the clock are read from the fiber directly, not yielded one by one:
  // this runs once per ID of a batch, and each `yield*` is a runtime step.
  const issueOutcome = (input: string): Effect.Effect<Outcome> =>
    Effect.withFiberRuntime((fiber) => {
      const reason = ConsumerId.validate(input)
      if (reason !== undefined) {
        return Effect.succeed<Outcome>({
          _tag: "Failed",
          error: new InvalidInputError({ field: "ext_consumer_id", reason: `a consumer ID ${reason}` }),
          attempts: 0
        })
      }
      const policy = Context.get(fiber.currentContext, RetryPolicy.RetryPolicy)
      const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
      const issuance: Issuance = {
        consumerId: input as ConsumerId.ConsumerId,
        policy,
        clock,
        gate: Context.get(fiber.currentContext, RequestGate.RequestGate),
        deadlineAt: clock.unsafeCurrentTimeMillis() + Duration.toMillis(policy.deadline),
        attempts: 0,
        renewed: false,
        deadlineExceeded: () =>
          Effect.fail(new TimeoutError({ endpoint: "idp", scope: "deadline", timeoutMillis: Duration.toMillis(policy.deadline) }))
      }
      const outcome = outcomeOf(issuance)
      return Effect.matchEffect(issueOnce(issuance), {
        onFailure: (error) =>
          shouldRetry(error) ? Effect.match(retryFromFirstFailure(issuance)(error), outcome) : Effect.succeed(outcome.onFailure(error)),
        onSuccess: (issued) => Effect.succeed(outcome.onSuccess(issued))
      })
    })

  return ConsumerJwsIssuer.of({
    issue: Effect.fn("ConsumerJwsIssuer.issue")(function*(consumerId: string) {
      const outcome = yield* issueOutcome(consumerId)
      return outcome._tag === "Issued" ? outcome.issued : yield* Effect.fail(outcome.error)
    }),
    // No span: this is the bulk path, run once per ID, and a span costs even with tracing off
    // (measured: ~10% of a batch's CPU). A batch is traced as a whole.
    issueOutcome
  })
})

/** A layer of the issuer. */
export const layer = (
  options: Options
): Layer.Layer<ConsumerJwsIssuer, never, HttpClient.HttpClient | AppJwtProvider | DomainResolver> =>
  Layer.effect(ConsumerJwsIssuer, make(options))
