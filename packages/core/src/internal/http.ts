/**
 * One HTTP exchange with a LivePerson endpoint: a per-attempt timeout, a bounded body, transport
 * failures mapped to the flow's errors, and `Retry-After` parsed. Internal to core.
 */
import type * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import {
  type Endpoint,
  RateLimitedError,
  ServerError,
  TimeoutError,
  TransportError,
  UnexpectedResponseError
} from "../ConsumerJwsError.js"
import * as UndiciHttpClient from "../UndiciHttpClient.js"
import { maskTokens } from "./jwt.js"
import * as ParseError from "./parseError.js"

/** The largest response body read: LivePerson's answers are a few hundred bytes. */
export const maxBodyBytes = 64 * 1024

/** A response with its whole (bounded) body. */
export interface Reply {
  readonly status: number
  readonly body: string
  /** The `Retry-After` header as milliseconds from now, when present and valid. */
  readonly retryAfterMillis: number | undefined
}

/**
 * Parses `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3), as milliseconds from `now`.
 * `undefined` when absent or unparsable; never negative.
 */
export const parseRetryAfter = (value: string | undefined, now: number): number | undefined => {
  if (value === undefined) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const date = Date.parse(text)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/** A short excerpt of a body for an error message: at most 200 characters, tokens masked. */
export const excerpt = (body: string): string => maskTokens(body.slice(0, 400)).slice(0, 200)

const transportReason = (error: HttpClientError.HttpClientError): string => {
  const cause = error.cause
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code ?? (cause.cause as { code?: unknown } | undefined)?.code
    return typeof code === "string" ? `${cause.message} (${code})` : cause.message
  }
  return error.reason
}

const bodyTooLarge = (endpoint: Endpoint, status: number) =>
  new UnexpectedResponseError({ endpoint, status, reason: `the response body is larger than ${maxBodyBytes} bytes`, excerpt: "" })

const readBody = (
  response: HttpClientResponse.HttpClientResponse,
  headers: Headers.Headers,
  endpoint: Endpoint
) => {
  const declared = Number(headers["content-length"])
  // Built only when needed: an error captures a stack trace, too costly for every response.
  const tooLarge = () => bodyTooLarge(endpoint, response.status)
  if (Number.isFinite(declared) && declared > maxBodyBytes) return Effect.fail(tooLarge())
  if (Number.isFinite(declared)) return response.text
  // No length declared (chunked): read chunk by chunk and stop at the bound, so memory stays bounded.
  return response.stream.pipe(
    Stream.runFoldWhileEffect(
      { chunks: [] as Array<Uint8Array>, size: 0 },
      () => true,
      (acc, chunk) => {
        const size = acc.size + chunk.length
        if (size > maxBodyBytes) return Effect.fail(tooLarge())
        acc.chunks.push(chunk)
        return Effect.succeed({ chunks: acc.chunks, size })
      }
    ),
    Effect.map(({ chunks }) => Buffer.concat(chunks).toString("utf8"))
  )
}

/** A client for LivePerson's endpoints: requests carry only what the API documents. */
export interface Client {
  /**
   * Sends `request` and reads its answer within `timeout`. Fails only with a timeout, a transport
   * failure or an oversized body; every status is returned for the caller to map.
   */
  readonly exchange: (
    request: HttpClientRequest.HttpClientRequest,
    endpoint: Endpoint,
    timeout: Duration.Duration
  ) => Effect.Effect<Reply, TimeoutError | TransportError | UnexpectedResponseError>
}

const timedOut = (endpoint: Endpoint, timeout: Duration.Duration) =>
  new TimeoutError({ endpoint, scope: "attempt", timeoutMillis: Duration.toMillis(timeout) })

const failure = (error: HttpClientError.HttpClientError, endpoint: Endpoint, timeout: Duration.Duration) =>
  error.cause instanceof UndiciHttpClient.RequestTimedOut
    ? timedOut(endpoint, timeout)
    : error._tag === "ResponseError" && error.cause instanceof UndiciHttpClient.BodyTooLarge
    ? bodyTooLarge(endpoint, error.response.status)
    : new TransportError({ endpoint, reason: transportReason(error) })

const replyOf = (status: number, retryAfter: string | undefined, body: string, clock: Clock.Clock): Reply => ({
  status,
  body,
  retryAfterMillis: retryAfter === undefined ? undefined : parseRetryAfter(retryAfter, clock.unsafeCurrentTimeMillis())
})

// The reply of any response, its body read with the bound.
const readReply = (response: HttpClientResponse.HttpClientResponse, endpoint: Endpoint, clock: Clock.Clock) => {
  // Read once: a response's `headers` may be built anew on each access.
  const headers = response.headers
  return Effect.map(readBody(response, headers, endpoint), (body) => replyOf(response.status, headers["retry-after"], body, clock))
}

// Tracing headers off, so that requests carry only what the API documents. Only while tracing is
// on: without a span no header is added, and the `Effect.locally` that turns them off costs ~20
// runtime steps a request.
const withoutTraceHeaders = <A, E, R>(effect: Effect.Effect<A, E, R>, fiber: Fiber.RuntimeFiber<unknown, unknown>) =>
  fiber.getFiberRef(FiberRef.currentTracerEnabled) ? Effect.locally(effect, HttpClient.currentTracerPropagation, false) : effect

/**
 * The client core sends through. On `UndiciHttpClient` (the bulk path) an exchange is a few runtime
 * steps: the client's own timer bounds it, and its answers come read whole, so the reply is built
 * synchronously. Any other client is raced against the limit and its body read with a bound.
 */
export const plainClient = (client: HttpClient.HttpClient): Client => {
  if (UndiciHttpClient.isUndiciHttpClient(client)) {
    return {
      exchange: (request, endpoint, timeout) =>
        Effect.withFiberRuntime((fiber) => {
          const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
          return Effect.matchEffect(withoutTraceHeaders(client.executeWithin(request, timeout), fiber), {
            onFailure: (error) => Effect.fail(failure(error, endpoint, timeout)),
            onSuccess: (response) => {
              const read = UndiciHttpClient.readResponse(response)
              // Traced, the platform's client wraps the response: it is read as any other.
              if (read === undefined) {
                return Effect.catchTag(readReply(response, endpoint, clock), "ResponseError", (error) => Effect.fail(failure(error, endpoint, timeout)))
              }
              if (read.bodyBytes > maxBodyBytes) return Effect.fail(bodyTooLarge(endpoint, read.status))
              return Effect.succeed(replyOf(read.status, read.header("retry-after"), read.bodyText(), clock))
            }
          })
        })
    }
  }
  return {
    exchange: (request, endpoint, timeout) =>
      Effect.withFiberRuntime((fiber) => {
        const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
        const read = Effect.flatMap(client.execute(request), (response) => readReply(response, endpoint, clock)).pipe(
          Effect.catchTags({
            RequestError: (error) => Effect.fail(failure(error, endpoint, timeout)),
            ResponseError: (error) => Effect.fail(failure(error, endpoint, timeout))
          })
        )
        return withoutTraceHeaders(Effect.timeoutFail(read, { duration: timeout, onTimeout: () => timedOut(endpoint, timeout) }), fiber)
      })
  }
}

/** Parses a JSON body, or `None` when it is not JSON. */
export const parseJson = (body: string): Option.Option<unknown> => {
  try {
    return Option.some(JSON.parse(body))
  } catch {
    return Option.none()
  }
}

/** A decoder of JSON bodies with `schema`, built once: it fails with a short reason (never the body itself). */
export const jsonDecoder = <A, I>(schema: Schema.Schema<A, I>): (body: string) => Either.Either<A, string> => {
  const decode = Schema.decodeUnknownEither(schema)
  return (body) =>
    Option.match(parseJson(body), {
      onNone: () => Either.left("the body is not JSON"),
      onSome: (json) =>
        Either.mapLeft(decode(json), ParseError.describe)
    })
}

/** Decodes a JSON body with `schema`; fails with a short reason (never the body itself). */
export const decodeJson = <A, I>(body: string, schema: Schema.Schema<A, I>): Effect.Effect<A, string> => jsonDecoder(schema)(body)

/**
 * Passes a 2xx reply through and maps the statuses every endpoint shares: 429 to `RateLimitedError`,
 * 408 and 5xx to `ServerError`, anything else to `UnexpectedResponseError`. Endpoint-specific
 * statuses (a 401 from Sentinel, a 400 from the IDP) are mapped by the caller first.
 */
export const statusError = (
  endpoint: Endpoint,
  reply: Reply
): Effect.Effect<Reply, RateLimitedError | ServerError | UnexpectedResponseError> => {
  if (reply.status >= 200 && reply.status < 300) return Effect.succeed(reply)
  if (reply.status === 429) {
    return Effect.fail(new RateLimitedError({ endpoint, ...optionalRetryAfter(reply) }))
  }
  if (reply.status === 408 || reply.status >= 500) {
    return Effect.fail(new ServerError({ endpoint, status: reply.status, ...optionalRetryAfter(reply) }))
  }
  return Effect.fail(unexpected(endpoint, reply, `HTTP ${reply.status} is not a documented answer`))
}

/** An `UnexpectedResponseError` for `reply`, with a masked excerpt of its body. */
export const unexpected = (endpoint: Endpoint, reply: Reply, reason: string): UnexpectedResponseError =>
  new UnexpectedResponseError({ endpoint, status: reply.status, reason, excerpt: excerpt(reply.body) })

const optionalRetryAfter = (reply: Reply): { retryAfterMillis?: number } =>
  reply.retryAfterMillis === undefined ? {} : { retryAfterMillis: reply.retryAfterMillis }
